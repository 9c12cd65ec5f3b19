"""The whole workbook, as a user runs it: papermill over the notebooks, warehouse, reports, manifest,
publishing, reproducibility across processes, and failures that publish nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from helpers import faults, io, pipeline, run, runs
from helpers import params as P
from helpers.quality import checks
from helpers.schema import TABLES

from .conftest import ROOT, dataset, generate, params_variant, run_workbook

# Tests that use the tiny_run fixture share one xdist worker, where it is built once (group "tiny_run");
# tests that run the workbook, start subprocesses or generate several datasets are marked slow.


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_run_publishes_dataset_and_reports(tiny_run):
    """Exit 0; every table, the warehouse, the manifest, each shipped notebook executed (in name order)
    and rendered, the answer keys, all published by a symlink swap that publishes the reports with them."""
    code, data_dir, reports_dir = tiny_run
    assert code == 0
    for name in TABLES:
        assert io.parts(io.table_dir(data_dir, name)), name
    assert (data_dir / "warehouse.duckdb").exists() and (data_dir / "manifest.json").exists()
    shipped = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert shipped and list(run.NOTEBOOKS) == shipped  # the runner runs every shipped notebook, in order
    for nb in run.NOTEBOOKS:
        assert (reports_dir / f"{nb}.ipynb").exists() and (reports_dir / f"{nb}.html").exists()
    log = (reports_dir / "run.log").read_text()
    done_at = [log.find(f"{nb} done in") for nb in run.NOTEBOOKS]
    assert -1 not in done_at and done_at == sorted(done_at), done_at
    assert "published" in log
    # the answer keys and the scenarios are published with the data, and the manifest lists them
    m = json.loads((data_dir / "manifest.json").read_text())
    assert set(m["truth"]) == {"active_users_7d", "user_retention", "account_retention", "scenarios"}
    for name, entry in m["truth"].items():
        assert (
            entry["rows"]
            == duckdb.connect()
            .execute(f"SELECT count(*) FROM read_parquet('{data_dir / 'truth' / (name + '.parquet')}')")
            .fetchall()[0][0]
            > 0
        )
    # published by a symlink into the runs folder, marked PUBLISHED
    assert data_dir.is_symlink() and reports_dir.is_symlink()
    assert data_dir.resolve().parent == (data_dir.parent / ".runs" / data_dir.name).resolve()
    assert (data_dir / "PUBLISHED").exists()
    # one switch publishes both: the reports are the published dataset's own
    assert reports_dir.resolve() == (data_dir / "reports").resolve()


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_manifest_describes_the_data(tiny_run):
    """manifest.json: row counts equal to the Parquet, a hash per table, every imperfection within
    tolerance with a consistent rate, and no machine-specific path or host name."""
    _, data_dir, _ = tiny_run
    m = json.loads((data_dir / "manifest.json").read_text())
    for key in (
        "schema_version",
        "seed",
        "params",
        "params_sha256",
        "package_versions",
        "row_counts",
        "content_hashes",
        "timings_seconds",
    ):
        assert key in m, key
    assert m["seed"] == 22
    con = duckdb.connect()
    counted = {
        name: con.execute(f"SELECT count(*) FROM read_parquet('{io.table_dir(data_dir, name)}/*.parquet')").fetchall()[
            0
        ][0]
        for name in TABLES
    }
    assert m["row_counts"] == counted and all(n > 0 for n in counted.values())
    assert m["params"]["seed"] == 22 and m["name"] == "tiny"
    assert set(m["content_hashes"]) == set(TABLES) and len(set(m["content_hashes"].values())) == len(TABLES)
    kinds = {(i["kind"], i["column"]) for i in m["imperfections"]}
    assert {
        ("missing", "due_at"),
        ("outlier", "completed_at"),
        ("late_arrival", "ingested_at_utc"),
        ("internal", "is_internal"),
    } <= kinds
    for i in m["imperfections"]:
        assert i["within_tolerance"] and i["definition"] and i["denominator"] > 0, i
        assert abs(i["measured_rate"] - i["count"] / i["denominator"]) < 1e-6
    late = next(i for i in m["imperfections"] if i["kind"] == "late_arrival")
    assert late["threshold_seconds"] == 3600
    text = json.dumps(m)
    assert str(ROOT) not in text and "/tmp" not in text and os.uname().nodename not in text


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_warehouse_has_the_tables_with_keys_on_the_small_ones(tiny_run):
    """warehouse.duckdb holds every table with the manifest's row counts, primary and foreign keys on the
    entity tables (not on the fact tables), the ledger, and typed event columns."""
    _, data_dir, _ = tiny_run
    m = json.loads((data_dir / "manifest.json").read_text())
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    for name in TABLES:
        assert con.execute(f"SELECT count(*) FROM raw.{name}").fetchall()[0][0] == m["row_counts"][name]
    kinds = con.execute("""
        SELECT table_name, constraint_type, count(*) FROM duckdb_constraints()
        WHERE schema_name = 'raw' AND constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY') GROUP BY ALL""").fetchall()
    declared = {(t, c) for t, c, _ in kinds}
    for t in ("accounts", "users", "projects"):
        assert (t, "PRIMARY KEY") in declared
    for t in ("users", "projects"):
        assert (t, "FOREIGN KEY") in declared
    assert not any(t in ("tasks", "events") for t, _ in declared)  # fact tables: keys checked by SQL
    assert con.execute("SELECT count(*) FROM imperfections.ledger").fetchall()[0][0] > 0
    types = dict(
        con.execute("""SELECT column_name, data_type FROM information_schema.columns
                               WHERE table_schema = 'raw' AND table_name = 'events'""").fetchall()
    )
    assert types["event_at_utc"] == "TIMESTAMP" and types["event_id"] == "BIGINT" and types["event_name"] == "VARCHAR"
    con.close()


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_warehouse_constraints_reject_bad_rows(tiny_run, tmp_path):
    """A repeated account and a user of an account that does not exist are refused by the warehouse."""
    _, data_dir, _ = tiny_run
    copy = tmp_path / "w.duckdb"
    copy.write_bytes((data_dir / "warehouse.duckdb").read_bytes())
    con = duckdb.connect(str(copy))
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO raw.accounts SELECT * FROM raw.accounts LIMIT 1")
    with pytest.raises(duckdb.ConstraintException):
        con.execute(
            "INSERT INTO raw.users SELECT * REPLACE (user_id + 10000000 AS user_id, 424242 AS account_id) "
            "FROM raw.users LIMIT 1"
        )
    con.close()


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_every_rule_holds_on_the_published_run(tiny_run):
    """Every rule and every threshold passes on the published tiny dataset; every threshold applies."""
    _, data_dir, _ = tiny_run
    con = dataset(data_dir)
    rules, metrics = checks.run_rules(con), checks.run_metrics(con)
    assert checks.failures(rules, metrics) == []
    assert metrics.passed.notna().all()  # a year of tiny data: every threshold applies


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_a_notebook_never_overwrites_a_published_dataset(tiny_run):
    """00_setup's step refuses a folder that holds a published dataset, and leaves it as it was."""
    _, data_dir, _ = tiny_run
    with pytest.raises(FileExistsError, match="published dataset"):
        pipeline.setup(ROOT / "params/tiny.yaml", data_dir)
    assert io.parts(io.table_dir(data_dir, "events"))


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_html_reports_are_code_free_and_show_charts(tiny_run):
    """The HTML reports hide the code and show the charts and the rules table."""
    _, _, reports_dir = tiny_run
    html = (reports_dir / "02_events.html").read_text()
    assert "generate_events(" not in html and "import " not in html.split("<body")[1][:200000]
    assert html.count("data:image/png") >= 4
    assert "Every rule" in html


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_executed_notebooks_keep_the_parameters_tag(tiny_run):
    """Each executed notebook keeps its own parameters cell and has the cell papermill injected."""
    _, _, reports_dir = tiny_run
    for nb in run.NOTEBOOKS:
        cells = json.loads((reports_dir / f"{nb}.ipynb").read_text())["cells"]
        tags = [c.get("metadata", {}).get("tags", []) for c in cells]
        assert any("parameters" in t for t in tags) and any("injected-parameters" in t for t in tags)


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_second_process_gives_identical_tables(tiny_run, tmp_path):
    """Same params in another process, another working directory and hash seed: same content."""
    _, data_dir, _ = tiny_run
    other_data, other_reports = tmp_path / "d" / "tiny", tmp_path / "r" / "tiny"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "helpers.run",
            "--params",
            str(ROOT / "params/tiny.yaml"),
            "--data-dir",
            str(other_data),
            "--reports-dir",
            str(other_reports),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    a = json.loads((data_dir / "manifest.json").read_text())
    b = json.loads((other_data / "manifest.json").read_text())
    a.pop("timings_seconds"), b.pop("timings_seconds")
    assert a == b


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_failed_run_publishes_nothing_and_keeps_previous_dataset(tiny_run, tmp_path, monkeypatch, capsys):
    """A run failing at 04 exits 1 naming the notebook; the published dataset and reports are untouched
    and the failed run is kept, marked FAILED with the reason."""
    _, data_dir, reports_dir = tiny_run
    before = (data_dir / "manifest.json").read_text()
    report_before = (reports_dir / "02_events.html").stat().st_mtime_ns
    monkeypatch.setenv(faults.FAULT_ENV, "warehouse")
    assert run_workbook(data_dir, reports_dir) == 1
    assert "FAILED at 04_qa_profile: RuntimeError: fault injected at warehouse" in capsys.readouterr().err
    assert (data_dir / "manifest.json").read_text() == before
    assert (reports_dir / "02_events.html").stat().st_mtime_ns == report_before
    failed = [p for p in (data_dir.parent / ".runs" / data_dir.name).iterdir() if (p / "FAILED").exists()]
    assert failed and "fault injected" in (failed[0] / "FAILED").read_text()


@pytest.mark.slow
def test_failing_notebook_names_the_notebook(tmp_path, monkeypatch, capsys):
    """A first run failing at 02 exits 1 naming the notebook and publishes no dataset."""
    monkeypatch.setenv(faults.FAULT_ENV, "events")
    assert run_workbook(tmp_path / "d" / "x", tmp_path / "r" / "x") == 1
    err = capsys.readouterr().err
    assert "FAILED at 02_events: RuntimeError: fault injected at events" in err
    assert not (tmp_path / "d" / "x").exists()


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_run_writes_the_deliverables(tiny_run):
    """generation_notes.md lists each imperfection kind, index.html links every report and says the
    guardrails pass, profile.json agrees with the manifest and names the guardrails."""
    _, data_dir, reports_dir = tiny_run
    notes = (reports_dir / "generation_notes.md").read_text()
    for kind in ("missing", "outlier", "late_arrival", "internal", "duplicate"):
        assert f"| {kind} |" in notes
    index = (reports_dir / "index.html").read_text()
    for nb in run.NOTEBOOKS:
        assert f'href="{nb}.html"' in index
    assert "all guardrails pass" in index
    prof = json.loads((data_dir / "profile.json").read_text())
    assert (
        prof["tables"]["events"]["rows"] == json.loads((data_dir / "manifest.json").read_text())["row_counts"]["events"]
    )
    assert prof["guardrails"] and all(g["status"] in ("pass", "not applicable") for g in prof["guardrails"])
    assert {g["guardrail"] for g in prof["guardrails"]} >= {
        "No FK or key violation in any table",
        "No impossible timestamp",
        "Key events present and not drowned by noise",
        "Daily and weekly activity plausible",
        "Imperfection rates match their targets",
    }


def _replace_table(src: Path, dst: Path, table: str, select_sql: str) -> Path:
    """A copy of dataset src at dst with one table replaced by select_sql, which reads the original as `t`."""
    shutil.copytree(src, dst)
    con = dataset(src)
    con.execute(f"CREATE TEMP VIEW t AS SELECT * FROM raw.{table}")
    mutated = con.sql(select_sql).to_arrow_table()
    shutil.rmtree(io.table_dir(dst, table))
    io.write_part(mutated.cast(TABLES[table].arrow_schema), io.table_dir(dst, table), 0)
    return dst


@pytest.mark.slow
def test_qa_fails_a_broken_dataset_naming_the_rules(tiny_data, tmp_path):
    """An orphan event, an event before its user's activation and a task_completed on an open task:
    04_qa_profile writes its report, then fails, naming each rule."""
    import papermill

    broken = _replace_table(
        tiny_data,
        tmp_path / "b1",
        "events",
        "SELECT * REPLACE (CASE WHEN event_id = (SELECT min(event_id) FROM t) THEN 999999999 "
        "ELSE user_id END AS user_id) FROM t",
    )
    broken = _replace_table(
        broken,
        tmp_path / "b2",
        "users",
        "SELECT * REPLACE (CASE WHEN user_id = 1 THEN activated_at + INTERVAL 20 DAY "
        "ELSE activated_at END AS activated_at) FROM t",
    )
    broken = _replace_table(
        broken,
        tmp_path / "b3",
        "tasks",
        "SELECT * REPLACE (CASE WHEN task_id = (SELECT min(task_id) FROM t WHERE status = 'done') "
        "THEN 'in_progress' ELSE status END AS status, CASE WHEN task_id = (SELECT min(task_id) FROM t "
        "WHERE status = 'done') THEN NULL ELSE completed_at END AS completed_at) FROM t",
    )
    with pytest.raises(papermill.PapermillExecutionError) as exc:
        run.execute_notebook(
            "04_qa_profile", tmp_path, {"params_path": str(ROOT / "params/tiny.yaml"), "data_dir": str(broken)}, 600
        )
    message = exc.value.evalue
    for rule in ("fk_events_user", "events_after_activation", "task_completed_only_when_done"):
        assert rule in message, message
    # the report was written before failing
    assert (tmp_path / "04_qa_profile.ipynb").exists()
    statuses = {g["check"]: g["status"] for g in json.loads((broken / "profile.json").read_text())["guardrails"]}
    assert statuses["fk_events_user"] == "fail" and statuses["pk_accounts"] == "pass"
    shutil.rmtree(broken)


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_a_full_disk_fails_cleanly_and_keeps_the_previous_dataset(tiny_run, monkeypatch, capsys):
    """No space left while writing events: exit 1 with the OS's message, the published dataset untouched."""
    _, data_dir, reports_dir = tiny_run
    before = (data_dir / "manifest.json").read_text()
    monkeypatch.setenv(faults.FAULT_ENV, "enospc:events")
    assert run_workbook(data_dir, reports_dir) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert (data_dir / "manifest.json").read_text() == before


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_second_run_of_the_same_dataset_is_locked_out(tiny_run, capsys):
    """While another run holds the dataset's lock, a run exits 3 at once saying so."""
    _, data_dir, reports_dir = tiny_run
    held = runs.acquire_lock(data_dir.parent / ".runs" / data_dir.name, wait=False)
    try:
        code = run_workbook(data_dir, reports_dir)
    finally:
        held.close()
    assert code == 3  # the documented exit code of a locked-out run
    assert "locked:" in capsys.readouterr().err


def test_dry_run_writes_nothing(tmp_path, capsys):
    """--dry-run prints the estimate and writes nothing at all."""
    code = run_workbook(tmp_path / "d" / "x", tmp_path / "r" / "x", "--dry-run")
    out = capsys.readouterr().out
    assert code == 0 and "events (approx.)" in out and "nothing was written" in out
    assert list(tmp_path.iterdir()) == []


def test_not_enough_disk_space_is_refused_up_front(tmp_path, monkeypatch, capsys):
    """Too little free space for the estimate: exit 1 before anything is written."""
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**6, 10**6 - 1000, 1000))
    code = run_workbook(tmp_path / "d" / "x", tmp_path / "r" / "x")
    assert code == 1 and "not enough disk space" in capsys.readouterr().err
    assert not (tmp_path / "d" / "x").exists() and not (tmp_path / "r").exists()


def test_publish_is_a_symlink_swap_and_prune_keeps_the_newest(tmp_path):
    """Publishing swaps a symlink; pruning keeps the newest published runs and the failed ones."""
    runs_dir = tmp_path / ".runs" / "ds"
    final = tmp_path / "ds"
    made = []
    for i in range(5):
        d = runs_dir / f"2026010{i}T000000Z-1"
        d.mkdir(parents=True)
        (d / "PUBLISHED").write_text("x")
        runs.publish(d, final)
        made.append(d)
        assert final.is_symlink() and final.resolve() == d.resolve()
    failed = runs_dir / "20260109T000000Z-9"
    failed.mkdir()
    (failed / "FAILED").write_text("x")
    removed = runs.prune(runs_dir, [made[-1], final], keep=3)
    assert sorted(p.name for p in removed) == sorted(p.name for p in made[:2])
    assert final.resolve() == made[-1].resolve() and failed.exists()


def _run_process(data_dir, reports_dir, fault=None, cwd=None):
    env = {**os.environ, "PYTHONHASHSEED": "7"}
    env.pop(faults.FAULT_ENV, None)
    if fault:
        env[faults.FAULT_ENV] = fault
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "helpers.run",
            "--params",
            str(ROOT / "params/tiny.yaml"),
            "--data-dir",
            str(data_dir),
            "--reports-dir",
            str(reports_dir),
        ],
        cwd=cwd or ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_killed_runs_leave_the_previous_dataset_intact_and_the_next_run_clean(tiny_run, tmp_path):
    """The kernel killed while a part is half-written, then the runner killed just before publishing:
    the published dataset still verifies; the next run succeeds and removes the killed runs' leftovers."""
    from helpers import verify

    _, data_dir, reports_dir = tiny_run
    before = (data_dir / "manifest.json").read_text()
    killed_kernel = _run_process(data_dir, reports_dir, fault="exit:write:events")
    assert killed_kernel.returncode == 1, killed_kernel.stderr
    killed_runner = _run_process(data_dir, reports_dir, fault="exit:publish")
    assert killed_runner.returncode == 137
    killed_in_duckdb = _run_process(data_dir, reports_dir, fault="exit:warehouse")  # kernel, mid-load
    assert killed_in_duckdb.returncode == 1
    killed_in_html = _run_process(data_dir, reports_dir, fault="exit:html")  # runner, rendering reports
    assert killed_in_html.returncode == 137
    assert (data_dir / "manifest.json").read_text() == before and verify.problems(data_dir) == []
    runs_folder = data_dir.parent / ".runs" / data_dir.name
    leftovers = [
        p
        for p in runs_folder.iterdir()
        if p.is_dir() and not p.name.startswith(".") and not (p / "PUBLISHED").exists() and not (p / "FAILED").exists()
    ]
    assert leftovers  # the runner killed before publishing left its staging folder unmarked
    ok = _run_process(data_dir, reports_dir)
    assert ok.returncode == 0, ok.stderr
    assert verify.problems(data_dir) == []
    assert not any(p.exists() or runs.scratch_dir(p).exists() for p in leftovers)  # with their scratch
    assert not list(data_dir.resolve().rglob(".*.tmp-*"))  # no half-written part in the published run


def test_notebooks_only_take_known_parameters(tmp_path):
    """Every shipped notebook declares the parameters the runner passes; unknown names and a notebook
    without a parameters cell are refused."""
    import nbformat

    for nb in run.NOTEBOOKS:  # every shipped notebook declares what the runner passes
        run.check_parameters(ROOT / "notebooks" / f"{nb}.ipynb", ["params_path", "data_dir"])
    with pytest.raises(ValueError, match="unknown parameter"):
        run.check_parameters(ROOT / "notebooks" / "00_setup.ipynb", ["params_path", "__import__('os')"])
    bare = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    path = tmp_path / "bare.ipynb"
    nbformat.write(bare, path)
    with pytest.raises(ValueError, match="tagged 'parameters'"):
        run.check_parameters(path, ["params_path"])


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_notebooks_receive_the_resolved_parameters(tiny_run):
    """The notebooks read the resolved parameters the run wrote (params.resolved.json), the same as the
    dataset's saved parameters (in its scratch state, beside the run)."""
    _, data_dir, reports_dir = tiny_run
    resolved = reports_dir / "params.resolved.json"
    assert json.loads(resolved.read_text()) == json.loads(io.params_path(data_dir).read_text())
    cells = json.loads((reports_dir / "00_setup.ipynb").read_text())["cells"]
    injected = next(c for c in cells if "injected-parameters" in c.get("metadata", {}).get("tags", []))
    assert "params.resolved.json" in "".join(injected["source"])


@pytest.mark.slow
def test_fewer_parts_leave_no_stale_part(tmp_path):
    """A run of one part per account followed by a 2-part run in the same folder leaves no stale part."""
    accounts = P.load(ROOT / "params/tiny.yaml").accounts.count
    many = params_variant(tmp_path, {"output.accounts_per_part": 1}, name="many.yaml")
    few = params_variant(tmp_path, {"output.accounts_per_part": (accounts + 1) // 2}, name="few.yaml")
    folder = tmp_path / "d"
    generate(many, folder)
    assert len(io.parts(io.table_dir(folder, "events"))) == accounts
    generate(few, folder)
    for name in TABLES:
        assert len(io.parts(io.table_dir(folder, name))) == (1 if name in ("accounts", "account_plans") else 2), name
    assert not list(folder.rglob(f"part-{accounts - 1:05d}.parquet"))


def test_read_only_disk_is_a_clear_error(tmp_path, monkeypatch, capsys):
    """A read-only file system: exit 1 with the OS's message, no dataset folder."""
    import errno

    real_mkdir = Path.mkdir

    def read_only(self, *a, **k):
        if ".runs" in str(self) and self.name != Path(str(self)).parent.name:
            raise OSError(errno.EROFS, "Read-only file system")
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(Path, "mkdir", read_only)
    code = run_workbook(tmp_path / "d" / "x", tmp_path / "r" / "x")
    assert code == 1
    assert "Read-only file system" in capsys.readouterr().err
    assert not (tmp_path / "d" / "x").exists()


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_run")
def test_documentation_describes_exactly_the_published_columns(tiny_run):
    """schema.sql, data_dictionary.md, sources.yml and datapackage.json come from the one schema:
    every published column, with its type, and nothing else."""
    import pyarrow.parquet as pq
    import yaml as _yaml

    _, data_dir, _ = tiny_run
    package = json.loads((data_dir / "datapackage.json").read_text())
    sources = _yaml.safe_load((data_dir / "sources.yml").read_text())["sources"][0]["tables"]
    dictionary = (data_dir / "data_dictionary.md").read_text()
    con = duckdb.connect()
    con.execute((data_dir / "schema.sql").read_text())
    for name in TABLES:
        parts = sorted((data_dir / "raw" / name).glob("part-*.parquet"))
        published = pq.read_schema(parts[0]).names
        resource = next(r for r in package["resources"] if r["name"] == name)
        assert [f["name"] for f in resource["schema"]["fields"]] == published
        assert sorted(resource["path"]) == sorted(str(p.relative_to(data_dir)) for p in parts)
        assert [c["name"] for c in next(t for t in sources if t["name"] == name)["columns"]] == published
        ddl_columns = [r[0] for r in con.execute(f"DESCRIBE raw.{name}").fetchall()]
        assert ddl_columns == published
        section = dictionary.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]
        assert [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")] == published
    # the answer keys too: every truth file's columns and types, in the dictionary and the package
    from helpers.schema import DEFINITIONS, TRUTH_TABLES

    written = sorted(p.stem for p in (data_dir / "truth").glob("*.parquet"))
    assert written == ["account_retention", "active_users_7d", "scenarios", "user_retention"]
    for name in written:
        schema = pq.read_schema(data_dir / "truth" / f"{name}.parquet")
        assert schema.names == TRUTH_TABLES[name].column_names
        assert [f.type for f in schema] == [c.type for c in TRUTH_TABLES[name].columns]
        resource = next(r for r in package["resources"] if r["name"] == f"truth_{name}")
        assert [f["name"] for f in resource["schema"]["fields"]] == schema.names
        section = dictionary.split(f"## truth/{name}\n", 1)[1].split("\n## ", 1)[0]
        assert [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")] == schema.names
    # the locked definitions are written into the dictionary
    for definition in DEFINITIONS:
        assert definition in dictionary
    # and the ledger, linked from the dictionary and the package
    from helpers.schema import LEDGER

    ledger = pq.read_schema(data_dir / "imperfections" / "ledger.parquet")
    assert ledger.names == LEDGER.column_names
    resource = next(r for r in package["resources"] if r["name"] == "imperfections_ledger")
    assert [f["name"] for f in resource["schema"]["fields"]] == ledger.names
    section = dictionary.split("## imperfections/ledger\n", 1)[1]
    assert [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")] == ledger.names
