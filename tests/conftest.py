"""Shared fixtures: small datasets generated once per test session (per xdist worker)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from helpers import pipeline, run

# CI runs the property tests with a fixed seed (same examples every run); locally they explore.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

ROOT = Path(__file__).resolve().parents[1]


def generate(params_path: str | Path, data_dir: Path) -> Path:
    """The data steps of the workbook, in-process (no papermill): params -> entities -> events (and answer keys)
    -> imperfections."""
    pipeline.setup(params_path, data_dir)
    pipeline.generate_entities(data_dir, progress=False)
    pipeline.generate_events(data_dir, progress=False)
    pipeline.write_answer_keys(data_dir)
    pipeline.apply_imperfections(data_dir, progress=False)
    return data_dir


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    return generate(ROOT / "params/tiny.yaml", tmp_path_factory.mktemp("tiny") / "data")


@pytest.fixture(scope="session")
def default_data(tmp_path_factory) -> Path:
    return generate(ROOT / "params/default.yaml", tmp_path_factory.mktemp("default") / "data")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One full papermill run of params/tiny.yaml (all notebooks, warehouse, HTML, manifest)."""
    base = tmp_path_factory.mktemp("tiny_run")
    data_dir, reports_dir = base / "data" / "tiny", base / "reports" / "tiny"
    code = run.main(
        [
            "--params",
            str(ROOT / "params/tiny.yaml"),
            "--data-dir",
            str(data_dir),
            "--reports-dir",
            str(reports_dir),
            "--timeout",
            "600",
        ]
    )
    return code, data_dir, reports_dir


@pytest.fixture(scope="module")
def dask_cluster():
    """A Dask LocalCluster of 2 worker processes (one thread each); dask is installed by make."""
    import distributed

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            client.wait_for_workers(2, timeout=60)
        yield cluster


def write_params(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def tiny_yaml() -> str:
    return (ROOT / "params/tiny.yaml").read_text()
