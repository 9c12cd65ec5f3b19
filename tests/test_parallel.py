"""helpers.parallel: results in task order on every backend, real parallelism, errors carry the task index."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
import types
from pathlib import Path

import pytest

from helpers import parallel
from helpers.parallel import default_workers, run_blocks, scheduler_from_env


# Block functions live at module top level: pool and Dask workers import them by name.
def echo(i: int, delay: float) -> tuple[int, int, float]:
    """Sleep, then say which task ran in which process and when it finished."""
    time.sleep(delay)
    return i, os.getpid(), time.monotonic()


def work(i: int, fail_at: int, marker_dir: str, delay: float) -> int:
    """Leave a marker that this task started; task fail_at raises at once, the others take `delay` seconds."""
    Path(marker_dir, f"{i}.started").touch()
    if i == fail_at:
        raise ValueError(f"block {i} is broken")
    time.sleep(delay)
    return i * i


def first_slow(n: int, slow: float = 1.0) -> list[tuple]:
    """Task 0 takes `slow` seconds, the rest are quick: run in parallel, task 0 finishes last."""
    return [(i, slow if i == 0 else 0.01) for i in range(n)]


def check_in_order(results: list, n: int) -> None:
    assert [r[0] for r in results] == list(range(n))


@pytest.mark.parametrize("workers", [1, 2, 7])
def test_results_come_back_in_task_order(workers):
    n = 9
    results = run_blocks(echo, first_slow(n), workers=workers)
    check_in_order(results, n)
    pids = {pid for _, pid, _ in results}
    finished_last = max(results, key=lambda r: r[2])[0]
    if workers == 1:
        assert pids == {os.getpid()}  # a plain loop in this process
        assert finished_last == n - 1
    else:
        assert os.getpid() not in pids
        assert 2 <= len(pids) <= workers  # really more than one process, never more than asked
        assert finished_last == 0  # finished out of order, returned in order


def test_one_task_or_empty_runs_here():
    assert run_blocks(echo, [(5, 0.0)], workers=4)[0][:2] == (5, os.getpid())
    assert run_blocks(echo, [], workers=4) == []


def test_bad_workers_argument_is_rejected():
    with pytest.raises(ValueError, match=r"workers: 0 is not allowed; use a whole number >= 1"):
        run_blocks(echo, [(0, 0.0)], workers=0)


def test_failing_block_in_plain_loop_names_the_task(tmp_path):
    tasks = [(i, 2, str(tmp_path), 0.0) for i in range(5)]
    with pytest.raises(ValueError, match=r"block 2 is broken") as info:
        run_blocks(work, tasks, workers=1, desc="parts")
    assert any("parts: task index 2 (of 5 tasks) failed" in note for note in info.value.__notes__)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.started", "1.started", "2.started"]


def test_failing_block_in_pool_names_the_task_cancels_the_rest_and_stops_the_pool(tmp_path):
    children_before = set(multiprocessing.active_children())
    n = 30
    tasks = [(i, 3, str(tmp_path), 0.3) for i in range(n)]
    start = time.monotonic()
    with pytest.raises(ValueError, match=r"task index 3 \(of 30 tasks\) failed") as info:
        run_blocks(work, tasks, workers=2)
    assert "block 3 is broken" in str(info.value)
    started = len(list(tmp_path.iterdir()))
    assert started < n // 2, f"{started} of {n} blocks started: the rest should have been cancelled"
    assert time.monotonic() - start < n * 0.3 / 2  # did not wait for every block
    assert set(multiprocessing.active_children()) <= children_before  # pool workers are gone


def test_progress_bar_counts_finished_blocks(capsys):
    run_blocks(echo, [(i, 0.0) for i in range(3)], workers=1, desc="demo", progress=True)
    err = capsys.readouterr().err
    assert "demo" in err and "3/3" in err


def test_default_workers_follows_cpu_affinity(monkeypatch):
    monkeypatch.delenv(parallel.WORKERS_ENV, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 5}, raising=False)
    assert default_workers() == 3
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert default_workers() == 6


def test_default_workers_env_override(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setenv("SAAS_SYNTH_WORKERS", "5")
    assert default_workers() == 5
    monkeypatch.setenv("SAAS_SYNTH_WORKERS", "")
    assert default_workers() == 2


@pytest.mark.parametrize("bad", ["abc", "0", "-2", "2.5", "1e3"])
def test_default_workers_bad_env_is_one_clear_line(monkeypatch, bad):
    monkeypatch.setenv("SAAS_SYNTH_WORKERS", bad)
    with pytest.raises(ValueError) as info:
        default_workers()
    assert str(info.value) == f"SAAS_SYNTH_WORKERS: {bad!r} is not allowed; use a whole number >= 1"


def test_scheduler_from_env(monkeypatch):
    monkeypatch.delenv("SAAS_SYNTH_SCHEDULER", raising=False)
    assert scheduler_from_env() is None
    monkeypatch.setenv("SAAS_SYNTH_SCHEDULER", " tcp://127.0.0.1:8786 ")
    assert scheduler_from_env() == "tcp://127.0.0.1:8786"


def test_scheduler_without_dask_installed_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # makes `import distributed` fail
    with pytest.raises(ImportError) as info:
        run_blocks(echo, [(0, 0.0)], scheduler="tcp://127.0.0.1:1")
    assert "pip install -r requirements-dask.txt" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.xdist_group("dask")
def test_dask_cluster_gives_the_same_results_spread_over_its_workers(dask_cluster):
    n = 8
    tasks = first_slow(n)
    local = run_blocks(echo, tasks, workers=1)
    remote = run_blocks(echo, tasks, scheduler=dask_cluster.scheduler_address, desc="dask")
    assert [r[0] for r in remote] == [r[0] for r in local] == list(range(n))
    pids = {pid for _, pid, _ in remote}
    assert len(pids) == 2 and os.getpid() not in pids  # both worker processes did some of the work
    # run_blocks closed only its own client: the cluster it connected to still works.
    again = run_blocks(echo, [(i, 0.0) for i in range(3)], scheduler=dask_cluster.scheduler_address)
    assert [r[0] for r in again] == [0, 1, 2]
    assert len(dask_cluster.scheduler_info["workers"]) == 2


@pytest.mark.xdist_group("dask")
def test_dask_failing_block_names_the_task(dask_cluster, tmp_path):
    tasks = [(i, 1, str(tmp_path), 0.0) for i in range(4)]
    with pytest.raises(ValueError, match=r"task index 1 \(of 4 tasks\) failed"):
        run_blocks(work, tasks, scheduler=dask_cluster.scheduler_address)


def test_pool_refuses_functions_workers_cannot_import(monkeypatch):
    with pytest.raises(ValueError, match=r"worker processes cannot import .*lambda.*top-level function"):
        run_blocks(lambda i: i, [(1,), (2,)], workers=2)
    assert run_blocks(lambda i: i, [(1,), (2,)], workers=1) == [1, 2]  # fine in this process

    def cell_function(i):  # as if defined in a Jupyter cell: module __main__, which has no file
        return i

    cell_function.__qualname__ = "cell_function"
    cell_function.__module__ = "__main__"
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    with pytest.raises(ValueError, match=r"cannot import .*cell_function"):
        run_blocks(cell_function, [(1,), (2,)], workers=2)
