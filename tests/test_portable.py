"""Outputs that travel: warehouse.duckdb opens in DuckDB 1.x (the newest 1.x and the oldest release the
manifest claims), and dbt-duckdb builds the dataset's sources and the Stage 3 starter (starter/) on tiny
both ways, from warehouse.duckdb and from the Parquet files, with no warning, the starter's metrics equal
to the answer keys.

DuckDB 1.x and dbt live in a second environment, .venv-compat (`make setup-compat`, a prerequisite of
`make test`): a test that needs it fails, never skips, when it is missing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml
from packaging.requirements import Requirement

from helpers import io
from helpers.publish import package, warehouse
from helpers.schema import KEY_EVENTS, TABLES

ROOT = Path(__file__).resolve().parents[1]
COMPAT = ROOT / ".venv-compat"
OLDEST = COMPAT / "duckdb-oldest"  # the oldest DuckDB the warehouse supports, a pip --target folder
STARTER = ROOT / "starter"
TIMEOUT = 300

# Reads every table and view of a DuckDB file read-only; prints the DuckDB version and each row count.
READ_ALL = """
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
names = con.execute("SELECT table_schema, table_name FROM information_schema.tables ORDER BY ALL").fetchall()
counts = {f"{s}.{t}": con.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchone()[0] for s, t in names}
python = ".".join(map(str, sys.version_info[:2]))
print(json.dumps({"version": duckdb.__version__, "python": python, "counts": counts}))
"""


def _compat(path: Path) -> Path:
    """A file of the compat environment; the test fails (not skips) naming the make target when it is missing."""
    if not (COMPAT / ".installed").exists() or not path.exists():
        pytest.fail(
            f"{path} is missing: the compat environment (.venv-compat) is not installed; run `make setup-compat` "
            "(make test does)",
            pytrace=False,
        )
    return path


def _pinned(requirements: Path, package_name: str) -> str:
    """The version `package_name==X` pins in a requirements file."""
    match = re.search(rf"^{re.escape(package_name)}==(\S+)$", requirements.read_text(), re.MULTILINE)
    assert match, f"{requirements.name} pins no {package_name}"
    return match.group(1)


def _oldest_pin(python_version: str) -> str:
    """The DuckDB requirements-compat-oldest.txt installs for a Python version (its lines carry markers)."""
    pins = []
    for line in (ROOT / "requirements-compat-oldest.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"python_version": python_version}):
                pins.append(str(requirement.specifier).removeprefix("=="))
    assert len(pins) == 1, pins
    return pins[0]


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment for a compat subprocess: none of this interpreter's PYTHONPATH, no dbt telemetry."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **extra}


def _read_all(python: Path, database: Path, pythonpath: Path | None = None) -> dict:
    env = _clean_env(**({"PYTHONPATH": str(pythonpath)} if pythonpath else {}))
    done = subprocess.run(
        [str(python), "-c", READ_ALL, str(database)], env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# --------------------------------------------------------------------------- quick checks (no subprocess)
def test_the_starter_sources_are_the_generated_ones():
    """starter/models/sources.yml is sources_yml('saas_synth') (regenerate it after a schema change:
    python -c "from helpers.publish.package import sources_yml; print(sources_yml('saas_synth'), end='')"
    > starter/models/sources.yml), and the starter's key events are the schema's."""
    assert (STARTER / "models/sources.yml").read_text() == package.sources_yml("saas_synth")
    project = yaml.safe_load((STARTER / "dbt_project.yml").read_text())
    assert tuple(project["vars"]["key_events"]) == KEY_EVENTS


def test_sources_use_dbt_1_10_syntax():
    """Every generic test with arguments has them under `arguments:`; meta sits under `config:`;
    external_location names each table's Parquet parts and the answer keys' files."""
    doc = yaml.safe_load(package.sources_yml("tiny"))
    raw, truth = doc["sources"]
    assert (raw["name"], raw["schema"], truth["name"], truth["schema"]) == ("tiny", "raw", "tiny_truth", "truth")
    for source in (raw, truth):
        assert "meta" not in source and "external_location" in source["config"]["meta"]
        for table in source["tables"]:
            assert "tests" not in table and "meta" not in table
            for column in table["columns"]:
                for test in column.get("data_tests", []):
                    if isinstance(test, dict):
                        ((_, body),) = test.items()
                        assert list(body) == ["arguments"], test
    assert "read_parquet('raw/{name}/part-*.parquet')" in raw["config"]["meta"]["external_location"]
    assert "read_parquet('truth/{name}.parquet')" in truth["config"]["meta"]["external_location"]


def test_the_oldest_duckdb_pinned_is_the_one_claimed():
    """The tests open the warehouse with the DuckDB the manifest and README name as the minimum (on Python
    3.13+, which 1.1.0 has no wheel for, the first patch release of the same minor that has one), and the
    README says so."""
    assert _oldest_pin("3.11") == _oldest_pin("3.12") == warehouse.MIN_DUCKDB
    assert _oldest_pin("3.13").rsplit(".", 1)[0] == warehouse.MIN_DUCKDB.rsplit(".", 1)[0]
    major, minor = warehouse.MIN_DUCKDB.split(".")[:2]
    readable_by_min = f"v{major}.{minor}.0"  # DuckDB X.Y.0 reads storage format vX.Y.0 and older
    assert readable_by_min == warehouse.STORAGE_VERSION
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Using the data elsewhere", 1)[1].split("\n## ", 1)[0]
    assert f"DuckDB {warehouse.MIN_DUCKDB}" in section and warehouse.STORAGE_VERSION in section


# --------------------------------------------------------------------------- DuckDB 1.x opens the warehouse
@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
@pytest.mark.parametrize("which", ["newest 1.x", "oldest claimed"])
def test_duckdb_1x_reads_every_table_and_view_of_the_warehouse(tiny_run, which):
    """DuckDB 1.x (the newest 1.x release, and the minimum the manifest claims) opens tiny's warehouse.duckdb
    read-only and reads every table and view that DuckDB 2 sees, with the manifest's row counts."""
    _, data_dir, _ = tiny_run
    manifest = json.loads((data_dir / "manifest.json").read_text())
    database = data_dir / "warehouse.duckdb"
    python = _compat(COMPAT / "bin/python")
    if which == "newest 1.x":
        read = _read_all(python, database)
        assert read["version"] == _pinned(ROOT / "requirements-compat.txt", "duckdb")
        assert read["version"].startswith("1.")
    else:
        read = _read_all(python, database, pythonpath=_compat(OLDEST))
        assert read["version"] == _oldest_pin(read["python"])
        assert _oldest_pin("3.11") == manifest["warehouse"]["min_duckdb"]
    assert manifest["warehouse"]["file"] == database.name
    con = duckdb.connect(str(database), read_only=True)  # what DuckDB 2 (this environment) sees
    expected = {
        f"{s}.{t}": n
        for s, t in con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        for n in con.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchone()
    }
    con.close()
    assert read["counts"] == expected
    assert {f"raw.{t}" for t in TABLES} | {"qa.events", "qa.all_events", "imperfections.ledger"} <= set(expected)
    assert {t: read["counts"][f"raw.{t}"] for t in TABLES} == manifest["row_counts"]
    truth = {name: v["rows"] for name, v in manifest["truth"].items()}
    assert {t: read["counts"][f"truth.{t}"] for t in truth} == truth


# --------------------------------------------------------------------------- dbt, both ways
def _with_resent_deliveries(data_dir: Path, copy: Path) -> int:
    """A copy of the dataset (no state, no reports) whose events hold re-sent deliveries: a part repeating
    the first 25 key events with a later ingested_at_utc, as an at-least-once pipeline re-sends them; the
    warehouse rebuilt from it. Returns the number of re-sent deliveries."""
    shutil.copytree(data_dir, copy, ignore=shutil.ignore_patterns("state", "reports", "warehouse.duckdb"))
    con = duckdb.connect()
    first = io.parts(copy / "raw/events")[0]
    resent = con.sql(
        "SELECT * REPLACE (ingested_at_utc + INTERVAL 2 HOUR AS ingested_at_utc) FROM read_parquet(?) "
        "WHERE event_name IN (SELECT unnest(?)) ORDER BY event_id LIMIT 25",
        params=[str(first), list(KEY_EVENTS)],
    ).to_arrow_table()
    con.close()
    pq.write_table(resent.cast(pq.read_schema(first)), copy / "raw/events/part-99999.parquet")
    warehouse.build(copy)
    return resent.num_rows


def _dbt(project: Path, data_dir: Path, *args: str) -> tuple[int, list[dict]]:
    """`dbt <args>` in the compat environment over the project, the dataset at data_dir; its exit code and
    its structured log events."""
    dbt = _compat(COMPAT / "bin/dbt")
    done = subprocess.run(
        [str(dbt), "--log-format", "json", *args, "--profiles-dir", str(project), "--project-dir", str(project)],
        cwd=project,
        env=_clean_env(SAAS_SYNTH_DATA=str(data_dir)),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    events = []
    for line in done.stdout.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:  # dbt prints nothing else in JSON mode; keep any line for the message
            events.append({"info": {"name": "NotJson", "level": "warn", "msg": line}})
    return done.returncode, events


def _test_results(events: list[dict]) -> dict[str, str]:
    """Each data test dbt ran: its name and status (pass, fail, error, ...)."""
    return {e["data"]["name"]: e["data"]["status"] for e in events if e["info"]["name"] == "LogTestResult"}


def _problems(events: list[dict]) -> list[str]:
    return [
        f"{e['info']['name']}: {e['info']['msg']}"
        for e in events
        if e["info"]["level"] in ("warn", "error") or "Deprecation" in e["info"]["name"]
    ]


@pytest.fixture(scope="module")
def dbt_project(tiny_run, tmp_path_factory):
    """The starter copied beside the dataset's own sources.yml (source `tiny`), over a copy of tiny with
    re-sent deliveries in a folder whose name holds spaces."""
    _, data_dir, _ = tiny_run
    base = tmp_path_factory.mktemp("portable")
    data = base / "a dataset folder" / "tiny copy"
    resent = _with_resent_deliveries(data_dir, data)
    project = base / "starter project"
    shutil.copytree(STARTER, project, ignore=shutil.ignore_patterns("target", "logs"))
    shutil.copy(data / "sources.yml", project / "models" / "dataset_sources.yml")
    return project, data, resent


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
@pytest.mark.parametrize("read", ["warehouse", "parquet"])
def test_dbt_build_passes_both_ways_without_a_warning(dbt_project, read):
    """`dbt build` (dbt-duckdb, DuckDB 1.x) over tiny, from warehouse.duckdb and from the Parquet files:
    the dataset's sources.yml tests and the starter's models and tests (each metric equal to its answer
    key, zero differing rows; one row per event after dedup although raw events hold re-sent deliveries)
    all pass, and dbt logs no warning, error or deprecation."""
    project, data, resent = dbt_project
    code, events = _dbt(project, data, "build", "--target", read, "--vars", json.dumps({"saas_synth_read": read}))
    assert code == 0 and not _problems(events), "\n".join(_problems(events))
    results = _test_results(events)
    key_tests = [n for n in results if n.startswith("matches_answer_key_")]
    assert len(key_tests) == 3 and all(results[n] == "pass" for n in key_tests)
    assert results["unique_stg_events_event_id"] == "pass" and resent == 25
    source_tests = [n for n in results if n.startswith("source_") and "_tiny_" in n]  # the dataset's sources.yml
    assert len(source_tests) > 40 and all(results[n] == "pass" for n in source_tests)
    # the relations read: the Parquet files, or the warehouse's tables (never both)
    compiled = "\n".join(p.read_text() for p in (project / "target/compiled").rglob("*.sql"))
    assert ("read_parquet('raw/" in compiled) == (read == "parquet")
    assert ("from warehouse.raw." in compiled) == (read == "warehouse")


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_the_answer_key_tests_catch_a_wrong_metric(dbt_project):
    """The starter's answer-key tests fail on a wrong definition: with task_created as the only key event,
    all three metrics differ from their keys, and every other test still passes."""
    project, data, _ = dbt_project
    wrong = {"saas_synth_read": "parquet", "key_events": ["task_created"]}
    code, events = _dbt(project, data, "build", "--target", "parquet", "--vars", json.dumps(wrong))
    results = _test_results(events)
    failed = {name for name, status in results.items() if status != "pass"}
    assert code == 1 and failed == {n for n in results if n.startswith("matches_answer_key_")}, failed
    assert {results[n] for n in failed} == {"fail"} and len(failed) == 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
