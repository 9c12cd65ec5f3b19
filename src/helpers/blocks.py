"""Blocks of accounts, as a worker runs them, and where they run.

A block is `output.accounts_per_part` consecutive accounts (block k writes part k of every table). A
block function reads only the saved parameters and plan and writes only its own part files, so any
worker may run any block: here (parts written on a background thread while the next block is
computed), on local worker processes, or on a Dask cluster (`run_blocks`). Content never depends on
which one.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import duck, io, parallel
from .faults import fault_point
from .generate.accounts import AccountPlan, plan_accounts, plan_from_tables, plan_tables
from .generate.block import simulate_block
from .generate.events import block_events, to_arrow
from .imperfections import inject
from .params import Params, from_json_dict
from .quality import checks
from .schema import TABLES

PLAN_DIR = "plan"  # under the scratch state (helpers.io.state_root)
STATE_TABLES = ("user_latent", "sessions", "timeline")
POOL_MIN_ACCOUNTS = 1000  # unless told otherwise, smaller datasets are generated in-process
BATCH_ENV = "SAAS_SYNTH_BATCH"  # set by helpers.run: kernels draw no progress bars into the reports
TIMELINE_FOR_EVENTS = [
    "task_id",
    "account_id",
    "project_id",
    "created_at",
    "creator_id",
    "assigned_at",
    "assignee_id",
    "reassigned_at",
    "reassignee_id",
    "started_at",
    "started_by_id",
    "blocker1_added_at",
    "blocker1_resolved_at",
    "blocker1_by_id",
    "handoff_at",
    "handoff_from_id",
    "handoff_to_id",
    "blocker2_added_at",
    "blocker2_resolved_at",
    "blocker2_by_id",
    "handoff2_at",
    "handoff2_from_id",
    "handoff2_to_id",
    "handoff3_at",
    "handoff3_from_id",
    "handoff3_to_id",
    "done_at",
    "done_by_id",
    "cancelled_at",
    "cancelled_from",
    "cancelled_by_id",
]


def part_ranges(data_dir: Path) -> list[range]:
    """The accounts (indices, account_id - 1) of each block of the saved plan, in order (the plan holds
    the accounts of the extract: fewer than accounts.count when some left before the window)."""
    n, size = load_plan(Path(data_dir)).n_accounts, saved_params(Path(data_dir)).output.accounts_per_part
    return [range(s, min(s + size, n)) for s in range(0, n, size)]


def show_progress() -> bool:
    """Progress bars when someone is watching (JupyterLab, a terminal), not inside batch reports."""
    return os.environ.get(BATCH_ENV) != "1"


# --------------------------------------------------------------------------- what a worker reads
def save_plan(plan: AccountPlan, data_dir: Path) -> None:
    accounts, projects = plan_tables(plan)
    io.write_part(accounts, io.state_root(data_dir) / PLAN_DIR / "accounts", 0)
    io.write_part(projects, io.state_root(data_dir) / PLAN_DIR / "projects", 0)


def _stamp(path: Path) -> tuple:
    """io.file_stamp, hashable: the key of the caches below (a rewrite changes it)."""
    return tuple(io.file_stamp(path))


@lru_cache(maxsize=2)
def _cached_plan(folder: str, stamp: tuple) -> AccountPlan:
    accounts = io.read_parts_file(io.part_path(Path(folder) / "accounts", 0))
    projects = io.read_parts_file(io.part_path(Path(folder) / "projects", 0))
    return plan_from_tables(accounts, projects)


def load_plan(data_dir: Path) -> AccountPlan:
    """The accounts plan saved by 01 (read once per process and version of the file)."""
    folder = io.state_root(data_dir) / PLAN_DIR
    return _cached_plan(str(folder), _stamp(io.part_path(folder / "accounts", 0)))


@lru_cache(maxsize=2)
def _cached_params(path: str, stamp: tuple) -> Params:
    return from_json_dict(json.loads(Path(path).read_text()))


def saved_params(data_dir: Path) -> Params:
    """The saved parameters (read once per process and version of the file)."""
    path = io.params_path(data_dir)
    return _cached_params(str(path), _stamp(path))


# --------------------------------------------------------------------------- the blocks
def entities_block(data_dir: str, k: int, write=io.write_part) -> dict:
    """Block k: simulate its accounts, write their users, projects and tasks parts and their state."""
    data_dir = Path(data_dir)
    params = saved_params(data_dir)
    sim = simulate_block(params, load_plan(data_dir), part_ranges(data_dir)[k])
    for name in ("users", "projects", "tasks"):
        write(io.from_numpy_columns(getattr(sim, name), TABLES[name]), io.table_dir(data_dir, name), k)
    for name in STATE_TABLES:
        write(io.from_numpy_state(getattr(sim, name)), io.state_dir(data_dir, name), k)
    fault_point("entities")
    return {name: len(next(iter(getattr(sim, name).values()))) for name in ("users", "projects", "tasks")}


def events_block(data_dir: str, k: int, write=io.write_part) -> int:
    """Block k: derive its accounts' events from their saved state, write the events part (by time)."""
    data_dir = Path(data_dir)
    params = saved_params(data_dir)

    def read(folder: Path, columns: list[str] | None) -> dict[str, np.ndarray]:
        return io.to_numpy_columns(io.read_parts_file(io.part_path(folder, k), columns))

    users = read(io.table_dir(data_dir, "users"), ["user_id", "account_id"])
    sessions = read(io.state_dir(data_dir, "sessions"), None)
    projects = read(io.table_dir(data_dir, "projects"), ["project_id", "account_id", "owner_user_id", "created_at"])
    timeline = read(io.state_dir(data_dir, "timeline"), TIMELINE_FOR_EVENTS)
    table = to_arrow(block_events(params, part_ranges(data_dir)[k], users, sessions, projects, timeline))
    write(table, io.table_dir(data_dir, "events"), k)
    fault_point("events")
    return table.num_rows


def imperfections_block(data_dir: str, name: str, part: int, plan: inject.Plan, write=io.write_part) -> inject.PartDone:
    """One part of one table through 03_imperfections (see imperfections.inject.apply_part)."""
    return inject.apply_part(saved_params(Path(data_dir)), Path(data_dir), name, part, plan, write)


def save_plan_only(data_dir: str | os.PathLike) -> None:
    """The accounts plan alone (helpers.bench: generation without writing tables)."""
    save_plan(plan_accounts(io.load_params(Path(data_dir))), Path(data_dir))


def simulate_only_block(data_dir: str, k: int, write=None) -> int:
    """Block k generated in memory and dropped: every table built (entities, state, events as Arrow),
    nothing written. helpers.bench measures generation alone with it."""
    data_dir = Path(data_dir)
    params = saved_params(data_dir)
    accounts = part_ranges(data_dir)[k]
    sim = simulate_block(params, load_plan(data_dir), accounts)
    for name in ("users", "projects", "tasks"):
        io.from_numpy_columns(getattr(sim, name), TABLES[name])
    return to_arrow(block_events(params, accounts, sim.users, sim.sessions, sim.projects, sim.timeline)).num_rows


# --------------------------------------------------------------------------- where they run
@dataclass(frozen=True)
class RunSummary:
    """How a step's blocks ran (for the notebooks' summary line)."""

    step: str
    blocks: int
    where: str
    seconds: float

    def line(self, rows: int | None = None, what: str = "rows") -> str:
        rate = f", {rows / self.seconds:,.0f} {what}/s" if rows and self.seconds > 0 else ""
        return f"{self.blocks} blocks on {self.where} in {self.seconds:.1f} s{rate}."


LAST_RUN: list[RunSummary] = []  # the last step's summary, in this process


def hash_part_block(data_dir: str, name: str, part: str, write=None) -> io.HashSums:
    """Block: the HashSums of one published part raw/<name>/<part> (io.content_hash, one part)."""
    return io.part_hash_sums(io.table_dir(Path(data_dir), name) / part, TABLES[name])


def content_hashes(
    data_dir: str | os.PathLike, progress: bool | None = None, workers: int | None = None, scheduler: str | None = None
) -> dict[str, str]:
    """io.content_hashes from every part's HashSums combined per table: those recorded as the part was
    written (io.recorded_part_hashes: 03 hashes what it publishes while it is in memory), the rest hashed
    from the files as blocks where blocks run (the largest parts first). The same values, whatever the
    workers and whatever was recorded."""
    data_dir = Path(data_dir)
    by_table: dict[str, list[io.HashSums]] = {name: [] for name in TABLES}
    files = []
    for name in TABLES:
        recorded = io.recorded_part_hashes(data_dir, name)
        by_table[name] += recorded.values()
        files += [(name, f) for f in io.parts(io.table_dir(data_dir, name)) if f.name not in recorded]
    files.sort(key=lambda nf: -nf[1].stat().st_size)
    tasks = [(name, f.name) for name, f in files]
    sums = run_blocks(
        hash_part_block, data_dir, tasks, "content hashes (parts)", progress, workers, scheduler, writes=False
    )
    for (name, _), part_sums in zip(tasks, sums, strict=True):
        by_table[name].append(part_sums)
    return {name: io.hash_digest(TABLES[name], by_table[name]) for name in TABLES}


def rules_block(data_dir: str, k: int, resent: bool, write=None) -> dict[str, int]:
    """Block k: every account rule's violations among its accounts (the rules' own SQL, DuckDB over the
    block's part files: helpers.duck.block)."""
    data_dir = Path(data_dir)
    params = saved_params(data_dir)
    indices = part_ranges(data_dir)[k]  # account_id - 1
    con = duck.block(data_dir, params, k, range(indices.start + 1, indices.stop + 1), resent)
    try:
        return checks.violations(con, checks.account_rules())
    finally:
        con.close()


def account_rule_violations(
    data_dir: str | os.PathLike, progress: bool | None = None, workers: int | None = None, scheduler: str | None = None
) -> dict[str, int]:
    """Every account rule's violations (helpers.quality.checks, scope account), counted block by block
    where blocks run and summed: what the same SQL counts over the whole dataset."""
    data_dir = Path(data_dir)
    resent = duck.ledger_lists_resent(data_dir)
    tasks = [(k, resent) for k in range(len(part_ranges(data_dir)))]
    counts = run_blocks(
        rules_block, data_dir, tasks, "account rules (account blocks)", progress, workers, scheduler, writes=False
    )
    return {q.name: sum(c[q.name] for c in counts) for q in checks.account_rules()}


def run_blocks(
    fn,
    data_dir: Path,
    tasks: list[tuple],
    desc: str,
    progress: bool | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    writes: bool = True,
) -> list:
    """fn(data_dir, *task) for every task (a block), results in task order: here (parts written on a
    background thread; `writes` False: blocks that only read, said so in the summary), on `workers` local
    processes, or on a Dask cluster (`scheduler`). Defaults: env
    SAAS_SYNTH_SCHEDULER, env SAAS_SYNTH_WORKERS, else the cores this process may use (one, under
    POOL_MIN_ACCOUNTS accounts: starting workers would cost more than it saves)."""
    progress = show_progress() if progress is None else progress
    scheduler = scheduler or parallel.scheduler_from_env()
    if workers is None and not os.environ.get(parallel.WORKERS_ENV, "").strip():
        workers = 1 if saved_params(Path(data_dir)).accounts.count < POOL_MIN_ACCOUNTS else None
    workers = parallel.default_workers() if workers is None else workers
    started = time.perf_counter()
    if scheduler or (workers > 1 and len(tasks) > 1):
        folder = str(Path(data_dir).resolve())
        where = f"the Dask cluster at {scheduler}" if scheduler else f"{min(workers, len(tasks))} worker processes"
        results = parallel.run_blocks(
            fn, [(folder, *task) for task in tasks], workers=workers, scheduler=scheduler, desc=desc, progress=progress
        )
    else:
        where = "this process" + (" (Parquet written on a background thread)" if writes else "")
        with io.BackgroundWriter() as writer:
            results = [fn(str(data_dir), *t, write=writer.write) for t in tqdm(tasks, desc=desc, disable=not progress)]
    LAST_RUN[:] = [RunSummary(desc, len(tasks), where, time.perf_counter() - started)]
    return results


def last_run_summary(rows: int | None = None, what: str = "rows") -> str:
    """One Markdown line: how many blocks of the last step ran where, how long it took, and the rate."""
    return LAST_RUN[0].line(rows, what) if LAST_RUN else ""
