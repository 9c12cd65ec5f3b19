"""helpers.parallel: results in task order on every backend, real parallelism, errors carry the task index.

No assertion depends on wall-clock time and no ordering on how long a task sleeps: tasks wait for marker
files that other tasks (or the test) write, so the order is fixed by construction. Each wait has a
generous guard that only turns a hang into an error; it is never what a test asserts."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
import types
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from helpers import parallel
from helpers.parallel import default_workers, run_blocks, scheduler_from_env

GUARD_SECONDS = 120  # only against hangs: a correct run never comes near it


def _wait_for(ready, what: str) -> None:
    """Poll until ready() is true; after GUARD_SECONDS raise TimeoutError naming what never happened."""
    deadline = time.monotonic() + GUARD_SECONDS
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {GUARD_SECONDS} s for {what}")
        time.sleep(0.005)


# Block functions live at module top level: pool and Dask workers import them by name.
def whoami(i: int) -> tuple[int, int]:
    """Say which task ran in which process."""
    return i, os.getpid()


def finish_after(i: int, marker_dir: str, others: tuple[int, ...]) -> tuple[int, int, int]:
    """Wait until the tasks `others` have finished (their markers exist), then leave this task's marker.
    Returns the task, its process and how many tasks had finished before it."""
    folder = Path(marker_dir)
    _wait_for(lambda: all((folder / f"{j}.done").exists() for j in others), f"tasks {others} to finish")
    finished_before = len(list(folder.glob("*.done")))
    (folder / f"{i}.done").touch()
    return i, os.getpid(), finished_before


def meet(i: int, marker_dir: str, processes: int) -> tuple[int, int]:
    """Leave a marker named after this process, then wait until `processes` processes have left one:
    a task passes only while another process runs tasks at the same time (a barrier)."""
    folder = Path(marker_dir)
    (folder / f"{os.getpid()}.pid").touch()
    _wait_for(lambda: len(list(folder.glob("*.pid"))) >= processes, f"{processes} processes to run tasks")
    return i, os.getpid()


def step(i: int, fail_at: int, marker_dir: str) -> int:
    """Leave a marker that this task started; task fail_at raises at once."""
    Path(marker_dir, f"{i}.started").touch()
    if i == fail_at:
        raise ValueError(f"block {i} is broken")
    return i * i


def held(i: int, fail_at: int, marker_dir: str) -> int:
    """Like step, but every other task then waits for the file `release` (the test writes it once a
    task has been cancelled) and leaves a marker that it finished."""
    folder = Path(marker_dir)
    (folder / f"{i}.started").touch()
    if i == fail_at:
        raise ValueError(f"block {i} is broken")
    try:
        _wait_for((folder / "release").exists, "a cancelled task")
    except TimeoutError:  # nothing was cancelled: let every task run, so the started count shows it
        (folder / "release").touch()
    (folder / f"{i}.finished").touch()
    return i * i


# --------------------------------------------------------------------------- order and parallelism
def test_a_plain_loop_runs_the_tasks_in_order_in_this_process(tmp_path):
    """workers=1: no other process, and each task starts after the previous one finished."""
    n = 9
    results = run_blocks(finish_after, [(i, str(tmp_path), ()) for i in range(n)], workers=1)
    assert results == [(i, os.getpid(), i) for i in range(n)]


@pytest.mark.slow
@pytest.mark.parametrize("workers", [2, 7])
def test_pool_returns_results_in_task_order_though_the_first_finishes_last(tmp_path, workers):
    """Task 0 waits until every other task has finished, so it finishes last (it could not finish at all
    in a single process); the results still come back in task order, from more than one process and
    never more than asked."""
    n = 9
    tasks = [(0, str(tmp_path), tuple(range(1, n)))] + [(i, str(tmp_path), ()) for i in range(1, n)]
    results = run_blocks(finish_after, tasks, workers=workers)
    assert [r[0] for r in results] == list(range(n))
    pids = {pid for _, pid, _ in results}
    assert os.getpid() not in pids
    assert 2 <= len(pids) <= workers


def test_one_task_or_empty_runs_here():
    assert run_blocks(whoami, [(5,)], workers=4) == [(5, os.getpid())]
    assert run_blocks(whoami, [], workers=4) == []


def test_bad_workers_argument_is_rejected():
    with pytest.raises(ValueError, match=r"workers: 0 is not allowed; use a whole number >= 1"):
        run_blocks(whoami, [(0,)], workers=0)


# --------------------------------------------------------------------------- failures
def test_failing_block_in_plain_loop_names_the_task(tmp_path):
    """The loop stops at the failing task: the tasks after it never start."""
    tasks = [(i, 2, str(tmp_path)) for i in range(5)]
    with pytest.raises(ValueError, match=r"block 2 is broken") as info:
        run_blocks(step, tasks, workers=1, desc="parts")
    assert any("parts: task index 2 (of 5 tasks) failed" in note for note in info.value.__notes__)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.started", "1.started", "2.started"]


@pytest.mark.slow
def test_failing_block_in_pool_names_the_task_cancels_the_rest_and_stops_the_pool(tmp_path, monkeypatch):
    """Task 1 fails while task 0 runs. Every other task waits for `release`, written only when a task is
    cancelled, so no task can finish before run_blocks reacts to the failure: the tasks that ever start
    are the few already handed to the workers, each finishes (none is killed mid-way), and the workers
    are gone when run_blocks raises. Without the cancellation, `release` comes only from the guard and
    all 30 tasks start."""
    release = tmp_path / "release"

    class Pool(ProcessPoolExecutor):
        """The pool run_blocks makes; a future cancelled by it writes `release`."""

        def submit(self, fn, /, *args, **kwargs):
            future = super().submit(fn, *args, **kwargs)
            future.add_done_callback(lambda f: f.cancelled() and release.touch())
            return future

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", Pool)
    children_before = set(multiprocessing.active_children())
    n = 30
    with pytest.raises(ValueError, match=r"task index 1 \(of 30 tasks\) failed") as info:
        run_blocks(held, [(i, 1, str(tmp_path)) for i in range(n)], workers=2)
    assert "block 1 is broken" in str(info.value)
    assert release.exists()
    started = {int(p.name.split(".")[0]) for p in tmp_path.glob("*.started")}
    finished = {int(p.name.split(".")[0]) for p in tmp_path.glob("*.finished")}
    assert {0, 1} <= started
    assert len(started) < n // 2, f"{len(started)} of {n} blocks started: the rest should have been cancelled"
    assert finished == started - {1}  # the blocks already running were waited for, not killed
    assert set(multiprocessing.active_children()) <= children_before  # pool workers are gone


def test_progress_bar_counts_finished_blocks(capsys, tmp_path):
    run_blocks(step, [(i, -1, str(tmp_path)) for i in range(3)], workers=1, desc="demo", progress=True)
    err = capsys.readouterr().err
    assert "demo" in err and "3/3" in err


# --------------------------------------------------------------------------- how many workers, where
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
        run_blocks(whoami, [(0,)], scheduler="tcp://127.0.0.1:1")
    assert "pip install -r requirements-dask.txt" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.slow
@pytest.mark.xdist_group("dask")
def test_dask_cluster_gives_the_same_results_spread_over_its_workers(dask_cluster, tmp_path):
    """Each task waits until both worker processes have run a task (a barrier), so the results can only
    come back if the work was spread over the two workers; they equal the plain loop's, in task order."""
    n = 8
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir(), there.mkdir()
    local = run_blocks(meet, [(i, str(here), 1) for i in range(n)], workers=1)
    remote = run_blocks(meet, [(i, str(there), 2) for i in range(n)], scheduler=dask_cluster.scheduler_address)
    assert [r[0] for r in remote] == [r[0] for r in local] == list(range(n))
    pids = {pid for _, pid in remote}
    assert len(pids) == 2 and os.getpid() not in pids  # both worker processes did some of the work
    # run_blocks closed only its own client: the cluster it connected to still works.
    again = run_blocks(whoami, [(i,) for i in range(3)], scheduler=dask_cluster.scheduler_address)
    assert [r[0] for r in again] == [0, 1, 2]
    assert len(dask_cluster.scheduler_info["workers"]) == 2


@pytest.mark.slow
@pytest.mark.xdist_group("dask")
def test_dask_failing_block_names_the_task(dask_cluster, tmp_path):
    tasks = [(i, 1, str(tmp_path)) for i in range(4)]
    with pytest.raises(ValueError, match=r"task index 1 \(of 4 tasks\) failed"):
        run_blocks(step, tasks, scheduler=dask_cluster.scheduler_address)


def test_pool_refuses_functions_workers_cannot_import(monkeypatch):
    """Refused before any worker process starts; the same function runs fine in this process."""
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
