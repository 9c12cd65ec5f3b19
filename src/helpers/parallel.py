"""Run independent blocks of work here, on a local process pool, or on a Dask distributed cluster.

`run_blocks(fn, tasks)` calls `fn(*task)` for every task and returns the results in task order.
Where the work runs:

* `scheduler="tcp://HOST:8786"` (or env SAAS_SYNTH_SCHEDULER, read by `scheduler_from_env()`): an existing
  Dask cluster through `dask.distributed.Client`. Dask is optional: `pip install -r requirements-dask.txt`.
* otherwise `workers` (default `default_workers()`: the cores this process may use, or env SAAS_SYNTH_WORKERS)
  processes of a `concurrent.futures.ProcessPoolExecutor`, or a plain loop in this process when that is 1
  or there is at most one task.

Rules for `fn` and the tasks:

* `fn` must be a top-level function of an importable module (e.g. `helpers.pipeline`), not one defined in a
  notebook cell or a lambda: the pool starts its workers with "forkserver" (Linux) or "spawn", which are safe
  with threads and Jupyter kernels but import `fn` by name (the pool refuses such an `fn` with a clear error).
  A script that calls run_blocks needs the usual `if __name__ == "__main__":` guard: workers import it.
* Results travel back to the caller, so keep them small (counts, dicts); a block writes its own files.

A real cluster: start `dask scheduler` on one host and `dask worker tcp://HOST:8786` on each worker host.
Every worker needs the same environment as the caller
(`pip install -r requirements.txt -r requirements-dask.txt -c constraints.txt && pip install -e .`, so that
`helpers` is importable) and the data folder at the same path on every host (a shared file system).
"""

from __future__ import annotations

import multiprocessing
import os
import reprlib
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed

from tqdm.auto import tqdm

WORKERS_ENV = "SAAS_SYNTH_WORKERS"
SCHEDULER_ENV = "SAAS_SYNTH_SCHEDULER"


def default_workers() -> int:
    """Cores this process may use (its CPU affinity, else os.cpu_count()); env SAAS_SYNTH_WORKERS overrides
    it and must then be a whole number >= 1 (an empty value counts as unset)."""
    raw = os.environ.get(WORKERS_ENV, "").strip()
    if raw:
        try:
            n = int(raw)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"{WORKERS_ENV}: {raw!r} is not allowed; use a whole number >= 1")
        return n
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no sched_getaffinity (macOS, Windows)
        return os.cpu_count() or 1


def scheduler_from_env() -> str | None:
    """The Dask scheduler address in env SAAS_SYNTH_SCHEDULER (e.g. "tcp://10.0.0.5:8786"), else None."""
    return os.environ.get(SCHEDULER_ENV, "").strip() or None


def run_blocks(
    fn,
    tasks: list[tuple],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    desc: str = "blocks",
    progress: bool = False,
) -> list:
    """fn(*task) for every task, results in task order whatever order the blocks finish in.

    A block that raises stops the run: its exception propagates with a note naming the task index, blocks
    not yet started are cancelled and the pool (or the Dask client made here) is closed.
    """
    tasks = [tuple(task) for task in tasks]
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers: {workers!r} is not allowed; use a whole number >= 1")
    if not tasks:
        return []
    with tqdm(total=len(tasks), desc=desc, unit="block", disable=not progress) as bar:
        if scheduler:
            return _run_dask(fn, tasks, scheduler, desc, bar)
        if workers == 1 or len(tasks) <= 1:
            return _run_loop(fn, tasks, desc, bar)
        return _run_pool(fn, tasks, min(workers, len(tasks)), desc, bar)


def _note(exc: BaseException, i: int, tasks: list[tuple], desc: str) -> None:
    exc.add_note(f"{desc}: task index {i} (of {len(tasks)} tasks) failed; its arguments: {reprlib.repr(tasks[i])}")


def _run_loop(fn, tasks, desc, bar) -> list:
    results = []
    for i, task in enumerate(tasks):
        try:
            results.append(fn(*task))
        except Exception as exc:
            _note(exc, i, tasks, desc)
            raise
        bar.update()
    return results


def _mp_context():
    if not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    # the fork server imports the heavy modules once; every worker is then a cheap fork of it
    ctx.set_forkserver_preload(["helpers.pipeline"])
    return ctx


def _check_importable(fn) -> None:
    """Pool workers import fn by name: a lambda, a nested function or one defined in a notebook cell fails."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if "<" in getattr(fn, "__qualname__", "") or (getattr(fn, "__module__", None) == "__main__" and not main_file):
        raise ValueError(
            f"run_blocks: worker processes cannot import {fn!r}; "
            "pass a top-level function of an importable module (e.g. in src/helpers/)"
        )


def _collect(completed, task_index, results: list, tasks, desc, bar) -> None:
    """Store each finished future's result at its task's index; a failure re-raises, naming the task."""
    for future in completed:
        i = task_index(future)
        try:
            results[i] = future.result()
        except Exception as exc:
            _note(exc, i, tasks, desc)
            raise
        bar.update()


def _run_pool(fn, tasks, workers, desc, bar) -> list:
    _check_importable(fn)
    results = [None] * len(tasks)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context())
    try:
        index = {pool.submit(fn, *task): i for i, task in enumerate(tasks)}
        _collect(as_completed(index), lambda f: index[f], results, tasks, desc, bar)
    finally:  # on error: cancel what has not started, wait for the running blocks, stop the workers
        pool.shutdown(wait=True, cancel_futures=True)
    return results


def _run_dask(fn, tasks, scheduler, desc, bar) -> list:
    try:
        from distributed import Client
        from distributed import as_completed as dask_as_completed
    except ImportError:
        raise ImportError("run_blocks(scheduler=...) needs Dask: pip install -r requirements-dask.txt") from None
    results = [None] * len(tasks)
    with Client(scheduler) as client:  # closes this client only, never the cluster it connected to
        if len({len(task) for task in tasks}) == 1 and tasks[0]:
            futures = client.map(fn, *zip(*tasks, strict=True), pure=False)
        else:  # zip would drop arguments of uneven tasks
            futures = [client.submit(fn, *task, pure=False) for task in tasks]
        index = {future.key: i for i, future in enumerate(futures)}
        try:
            _collect(dask_as_completed(futures), lambda f: index[f.key], results, tasks, desc, bar)
        finally:
            client.cancel([future for future in futures if not future.done()])
    return results
