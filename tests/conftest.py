"""Shared fixtures and helpers: small datasets generated once per test session (per xdist worker),
parameter variants derived from the shipped presets, the tiny workbook run, a DuckDB connection to a
dataset.

Tests marked `slow` (a whole papermill run, the default dataset, several generations, subprocesses or a
Dask cluster) are skipped by `make test-fast`; tests that use `default_data` carry
`pytest.mark.xdist_group("default")` so that `--dist loadgroup` builds the default dataset once."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from hypothesis import settings

from helpers import duck, io, pipeline, run
from helpers import params as P

# CI runs the property tests with a fixed seed (same examples every run); locally they explore.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "params/tiny.yaml"


# --------------------------------------------------------------------------- helpers
def preset(base: str = "tiny") -> dict:
    """params/<base>.yaml with its bases applied, as plain Python data (every key), to edit and validate."""
    return P.read([ROOT / "params" / f"{base}.yaml"])[0].data


def apply_changes(data: dict, changes: dict[str, Any]) -> dict:
    """Set each dotted key ("snapshot.as_of", "imperfections.duplicates.share") in `data`, in place.
    Every key on the way must already exist (a typo fails here, naming the key); the last one is
    left to helpers.params.validate, which rejects keys the model does not know."""
    for dotted, value in changes.items():
        *path, last = dotted.split(".")
        node = data
        for i, key in enumerate(path):
            if not isinstance(node, dict) or key not in node:
                raise KeyError(f"{dotted}: no section {'.'.join(path[: i + 1])!r} in the parameters")
            node = node[key]
        if not isinstance(node, dict):
            raise KeyError(f"{dotted}: {'.'.join(path)!r} is not a section")
        node[last] = value
    return data


def params_variant(
    tmp_path: Path, changes: dict[str, Any] | None = None, *, base: str = "tiny", name: str | None = None, **kw: Any
) -> Path:
    """An overlay of params/<base>.yaml (`extends:` it) giving `changes`, validated and written to tmp_path;
    returns the file.

    Changes are dotted keys, in a dict (`{"snapshot.as_of": dt.datetime(2025, 12, 31, 15)}`) or as keyword
    arguments with `__` for the dots (`output__accounts_per_part=1`). Values are Python values as
    yaml.safe_load gives them (dates as datetime.date/datetime, not strings). The result must pass
    helpers.params.validate: a wrong key or value raises ParamsError before anything is written."""
    edits = {**(changes or {}), **{k.replace("__", "."): v for k, v in kw.items()}}
    P.validate(apply_changes(preset(base), edits), f"{base}.yaml with {sorted(edits)}")
    overlay: dict[str, Any] = {P.EXTENDS: str(ROOT / "params" / f"{base}.yaml")}
    for dotted, value in edits.items():
        *path, last = dotted.split(".")
        node = overlay
        for key in path:
            node = node.setdefault(key, {})
        node[last] = value
    path = Path(tmp_path) / (name or f"{base}-variant.yaml")
    k = 1
    while name is None and path.exists():  # several variants in one folder never overwrite each other
        k += 1
        path = Path(tmp_path) / f"{base}-variant-{k}.yaml"
    path.write_text(yaml.safe_dump(overlay, sort_keys=False))
    return path


def generate(params_path: str | Path, data_dir: Path, **where: Any) -> Path:
    """The data steps of the workbook, in-process (no papermill): params -> entities -> events (and answer keys)
    -> imperfections. `where` (workers=..., scheduler=...) says where the blocks run."""
    pipeline.setup(params_path, data_dir)
    pipeline.generate_entities(data_dir, progress=False, **where)
    pipeline.generate_events(data_dir, progress=False, **where)
    pipeline.write_answer_keys(data_dir)
    pipeline.apply_imperfections(data_dir, progress=False, **where)
    return data_dir


def run_workbook(
    data_dir: Path, reports_dir: Path | None = None, *args: str, params: str | Path = TINY, timeout: int = 600
) -> int:
    """`python -m helpers.run` in this process (papermill over every notebook, then publishing): the tiny
    preset unless `params` says otherwise; reports beside the data unless `reports_dir` is given; extra
    command-line `args` (e.g. "--dry-run") are passed on. Returns the exit code."""
    data_dir = Path(data_dir)
    reports_dir = Path(reports_dir) if reports_dir else data_dir.parent.parent / "reports" / data_dir.name
    argv = ["--params", str(params), "--data-dir", str(data_dir), "--reports-dir", str(reports_dir)]
    return run.main([*argv, "--timeout", str(timeout), *args])


def dataset(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB over a dataset folder (raw.*, imperfections.ledger, truth.*, qa views) with the
    parameters the dataset was generated with."""
    return duck.dataset(data_dir, io.load_params(data_dir))


def incident_window(params: P.Params) -> tuple[dt.datetime, dt.datetime, dt.datetime] | None:
    """(start, end, delivered) of the ingestion incident, naive UTC, straight from its parameters: events
    from start for `hours` are held back and delivered `backfill_delay_hours` after the end; None when off."""
    inc = params.scenarios.ingestion_incident
    if not inc.enabled:
        return None
    end = inc.start + dt.timedelta(hours=inc.hours)
    return inc.start, end, end + dt.timedelta(hours=inc.backfill_delay_hours)


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> Any:
    """The one value a query returns."""
    return con.execute(sql, params or []).fetchall()[0][0]


# --------------------------------------------------------------------------- fixtures
def pytest_configure(config):
    # xdist registers this marker; with -p no:xdist --strict-markers would reject it otherwise
    config.addinivalue_line("markers", "xdist_group(name): tests of one group run on one xdist worker")


@pytest.hookimpl(tryfirst=True)  # before -m deselects and before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """A safety net for the rules above, whoever writes the test: a test that uses tiny_run or default_data
    is slow and in xdist group "tiny_run" or "default" (never in another group), so that each is built once."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & {"tiny_run", "default_data"} and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)
        for fixture, wanted in (("default_data", "default"), ("tiny_run", "tiny_run")):
            if fixture not in fixtures:
                continue
            group = item.get_closest_marker("xdist_group")
            if group is None:
                item.add_marker(pytest.mark.xdist_group(wanted))
            elif (group.args or [group.kwargs.get("name")])[0] != wanted:
                raise pytest.UsageError(f"{item.nodeid} uses {fixture} but is not in xdist group {wanted!r}")
    if getattr(config.option, "loadgroup", False):  # an xdist worker under --dist loadgroup
        _name_xdist_groups(items)


def _name_xdist_groups(items) -> None:
    """What pytest-xdist 3.8 means to do on a worker: append "@<group>" to the node id of each test marked
    xdist_group, the suffix by which `--dist loadgroup` sends a group to one worker. It assigns
    `item._nodeid`, which pytest 9.2 no longer reads (node ids are structured: item._id), so every group
    was silently ignored and each worker built the default dataset and the tiny run itself
    (https://github.com/pytest-dev/pytest-xdist/issues/1386). Harmless once xdist is fixed: the scheduler
    takes the text after the last "@"."""
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # pytest < 9.2: xdist's own suffix works
        return
    for item in items:
        names = sorted(
            {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")}
        )
        if names and isinstance(getattr(item, "_id", None), NodeId):
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(names)}")


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    return generate(TINY, tmp_path_factory.mktemp("tiny") / "data")


@pytest.fixture(scope="session")
def default_data(tmp_path_factory) -> Path:
    """params/default.yaml (~1.4M events, an installed base since 2023, every scenario on); use with
    pytest.mark.xdist_group("default")."""
    return generate(ROOT / "params/default.yaml", tmp_path_factory.mktemp("default") / "data")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One full papermill run of params/tiny.yaml (all notebooks, warehouse, HTML, manifest)."""
    base = tmp_path_factory.mktemp("tiny_run")
    data_dir, reports_dir = base / "data" / "tiny", base / "reports" / "tiny"
    return run_workbook(data_dir, reports_dir), data_dir, reports_dir


@pytest.fixture(scope="module")
def dask_cluster():
    """A Dask LocalCluster of 2 worker processes (one thread each); dask is installed by make."""
    import distributed

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            client.wait_for_workers(2, timeout=60)
        yield cluster


def write_params(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    """Parameters given as YAML text (only for tests of the YAML loader itself; otherwise params_variant)."""
    path = tmp_path / name
    path.write_text(text)
    return path
