"""The steps the notebooks call, each reading and writing the dataset folder (never a kernel's memory).

    setup(params_path, data_dir)  -> Params     00_setup: validate, lay out the folder, save params
    generate_entities(data_dir)   -> summary    01_entities: accounts, users, projects, tasks (+ state)
    generate_events(data_dir)     -> summary    02_events: the event stream from the saved state
    build_warehouse(data_dir)                   DuckDB file with the raw schema, loaded from Parquet
    write_manifest(data_dir, timings)           manifest.json, written last

Work is split into parts of `output.accounts_per_part` consecutive accounts; every random draw is
keyed by account, so the part size changes file layout only, never content. State files (state/*)
hold times as int64 microseconds since the epoch (UTC), with -1 for "none" (e.g. churn_at -1: the
account or user does not churn inside the window, or the user never activated).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import PROJECT_ROOT, io
from .checks import REDELIVERED_SQL, define_truth_views
from .entities import plan_accounts, plan_from_tables, plan_tables
from .events import block_events, to_arrow
from .package import write_package
from .params import SCHEMA_VERSION, Params, from_json_dict, load, params_sha256, to_json_dict
from .schema import ENTITY_TABLES, TABLES, ddl
from .simulate import simulate_block

PARAMS_FILE = "state/params.json"
ENV_PARAMS = "SAAS_SYNTH_PARAMS"
ENV_DATA_DIR = "SAAS_SYNTH_DATA_DIR"
STATE_TABLES = ("user_latent", "sessions", "timeline")
PACKAGES = (
    "numpy",
    "pandas",
    "pyarrow",
    "duckdb",
    "faker",
    "tzdata",
    "pydantic",
    "papermill",
    "nbconvert",
    "matplotlib",
    "seaborn",
)


def resolve(path: str | os.PathLike) -> Path:
    """Relative paths are relative to the project root (nbval and papermill start in different folders)."""
    p = Path(path)
    return p if p.is_absolute() else PROJECT_ROOT / p


def notebook_defaults(params_path: str | None, data_dir: str | None) -> tuple[Path, Path]:
    """Parameters-cell defaults: the environment, else tiny params and a scratch folder."""
    params_path = params_path or os.environ.get(ENV_PARAMS) or "params/tiny.yaml"
    if data_dir is None:
        data_dir = os.environ.get(ENV_DATA_DIR) or f"data/_scratch/{Path(params_path).stem}"
    return resolve(params_path), resolve(data_dir)


def load_saved_params(data_dir: Path) -> Params:
    path = Path(data_dir) / PARAMS_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run 00_setup (or helpers.run) for this dataset first")
    return from_json_dict(json.loads(path.read_text()))


def setup(params_path: str | os.PathLike, data_dir: str | os.PathLike) -> Params:
    """Validate params, empty and lay out the dataset folder, save the resolved params."""
    params = load(resolve(params_path))
    data_dir = Path(data_dir)
    if (data_dir / "manifest.json").exists():
        raise FileExistsError(
            f"{data_dir} holds a published dataset (manifest.json): a notebook never "
            "overwrites one; choose a scratch folder, or publish with python -m helpers.run"
        )
    for sub in ("raw", "state", "truth", "csv", INCREMENTS_DIR):
        shutil.rmtree(data_dir / sub, ignore_errors=True)
    for f in ("warehouse.duckdb", "manifest.json"):
        (data_dir / f).unlink(missing_ok=True)
    for name in TABLES:
        io.table_dir(data_dir, name).mkdir(parents=True, exist_ok=True)
    for name in STATE_TABLES:
        io.state_dir(data_dir, name).mkdir(parents=True, exist_ok=True)
    io.write_json(to_json_dict(params), data_dir / PARAMS_FILE)
    _write_scenarios(params, data_dir)
    return params


def _write_scenarios(params: Params, data_dir: Path) -> None:
    """truth/scenarios.parquet: every scenario, enabled or not, with when, for whom and what changes."""
    from . import scenarios, truth

    truth.truth_dir(data_dir).mkdir(parents=True, exist_ok=True)
    truth.write_table(scenarios.scenarios_table(params), truth.truth_dir(data_dir) / "scenarios.parquet")


def part_ranges(params: Params) -> list[range]:
    n, size = params.accounts.count, params.output.accounts_per_part
    return [range(s, min(s + size, n)) for s in range(0, n, size)]


FAULT_ENV = "SAAS_SYNTH_FAULT"


def fault_point(name: str) -> None:
    """Tests inject a failure at a named point: SAAS_SYNTH_FAULT=<name> raises there, and
    SAAS_SYNTH_FAULT=exit:<name> ends the process at once (as SIGKILL would: no cleanup, no handler)."""
    fault = os.environ.get(FAULT_ENV)
    if fault == name:
        raise RuntimeError(f"fault injected at {name} ({FAULT_ENV})")
    if fault == f"exit:{name}":
        os._exit(137)


def show_progress() -> bool:
    """Progress bars when someone is watching (JupyterLab, a terminal), not inside batch reports."""
    return os.environ.get("SAAS_SYNTH_BATCH") != "1"


PLAN_DIR = "state/plan"
POOL_MIN_ACCOUNTS = 1000  # unless told otherwise, smaller datasets are generated in-process


def _save_plan(plan, data_dir: Path) -> None:
    acc, proj = plan_tables(plan)
    io.write_part(acc, data_dir / PLAN_DIR / "accounts", 0)
    io.write_part(proj, data_dir / PLAN_DIR / "projects", 0)


def _stamp(path: Path) -> tuple:
    """What identifies a version of a file for the caches below (a rewrite changes one of them)."""
    st = path.stat()
    return st.st_mtime_ns, st.st_size, st.st_ino


@lru_cache(maxsize=2)
def _cached_plan(folder: str, stamp: tuple):
    acc = io.read_parts_file(io.part_path(Path(folder) / "accounts", 0))
    proj = io.read_parts_file(io.part_path(Path(folder) / "projects", 0))
    return plan_from_tables(acc, proj)


def load_plan(data_dir: Path):
    """The accounts plan saved by generate_entities (read once per process and data folder)."""
    folder = Path(data_dir) / PLAN_DIR
    f = io.part_path(folder / "accounts", 0)
    return _cached_plan(str(folder), _stamp(f))


@lru_cache(maxsize=2)
def _cached_params(path: str, stamp: tuple) -> Params:
    return from_json_dict(json.loads(Path(path).read_text()))


def _params(data_dir: Path) -> Params:
    path = Path(data_dir) / PARAMS_FILE
    return _cached_params(str(path), _stamp(path))


def entities_block(data_dir: str, k: int, write=io.write_part) -> dict:
    """Block k (the k-th part of accounts): simulate it and write its users, projects and tasks parts
    and state. A pure function of the saved params and plan, so any worker may run it."""
    data_dir = Path(data_dir)
    params = _params(data_dir)
    accounts = part_ranges(params)[k]
    sim = simulate_block(params, load_plan(data_dir), accounts)
    for name in ("users", "projects", "tasks"):
        write(io.from_numpy_columns(getattr(sim, name), TABLES[name]), io.table_dir(data_dir, name), k)
    for name in STATE_TABLES:
        write(io.from_numpy_state(getattr(sim, name)), io.state_dir(data_dir, name), k)
    fault_point("entities")
    return {name: len(next(iter(getattr(sim, name).values()))) for name in ("users", "projects", "tasks")}


def save_plan_only(data_dir: str | os.PathLike) -> None:
    """The accounts plan alone (for helpers.bench: generation without writing tables)."""
    _save_plan(plan_accounts(load_saved_params(Path(data_dir))), Path(data_dir))


def simulate_only_block(data_dir: str, k: int, write=None) -> int:
    """Block k generated in memory and dropped: every table built (entities, state, events as Arrow),
    nothing written. helpers.bench measures generation alone with it."""
    data_dir = Path(data_dir)
    params = _params(data_dir)
    accounts = part_ranges(params)[k]
    sim = simulate_block(params, load_plan(data_dir), accounts)
    for name in ("users", "projects", "tasks"):
        io.from_numpy_columns(getattr(sim, name), TABLES[name])
    cols = block_events(params, accounts, sim.users, sim.sessions, sim.projects, sim.timeline)
    return to_arrow(cols).num_rows


TIMELINE_FOR_EVENTS = [
    "task_id",
    "account_id",
    "project_id",
    "created_at",
    "creator_id",
    "assigned_at",
    "assignee_id",
    "started_at",
    "blocker1_added_at",
    "blocker1_resolved_at",
    "handoff_at",
    "handoff_from_id",
    "handoff_to_id",
    "blocker2_added_at",
    "blocker2_resolved_at",
    "done_at",
    "done_by_id",
    "cancelled_at",
    "cancelled_from",
    "cancelled_by_id",
]


def events_block(data_dir: str, k: int, write=io.write_part) -> int:
    """Block k: derive its accounts' events from their saved state and write the events part
    (ordered by event time)."""
    data_dir = Path(data_dir)
    params = _params(data_dir)
    accounts = part_ranges(params)[k]
    f = io.part_path
    read = {
        name: io.to_numpy_columns(io.read_parts_file(f(folder, k), cols))
        for name, folder, cols in (
            ("users", io.table_dir(data_dir, "users"), ["user_id", "account_id"]),
            ("sessions", io.state_dir(data_dir, "sessions"), None),
            (
                "projects",
                io.table_dir(data_dir, "projects"),
                ["project_id", "account_id", "owner_user_id", "created_at"],
            ),
            ("timeline", io.state_dir(data_dir, "timeline"), TIMELINE_FOR_EVENTS),
        )
    }
    cols = block_events(params, accounts, read["users"], read["sessions"], read["projects"], read["timeline"])
    table = to_arrow(cols)  # ordered by event time
    write(table, io.table_dir(data_dir, "events"), k)
    fault_point("events")
    return table.num_rows


def run_tasks(
    fn,
    data_dir: Path,
    tasks: list[tuple],
    desc: str,
    progress: bool,
    workers: int | None = None,
    scheduler: str | None = None,
) -> list:
    """fn(data_dir, *task) for every task (a block): here, with parts written on a background thread
    while the next block is computed; on `workers` local processes; or on a Dask cluster
    (`scheduler`). Workers only schedule blocks: the content is the same whichever runs them.
    Defaults: env SAAS_SYNTH_SCHEDULER, env SAAS_SYNTH_WORKERS, else the cores this process may use."""
    from . import parallel

    scheduler = scheduler or parallel.scheduler_from_env()
    if (
        workers is None
        and not os.environ.get(parallel.WORKERS_ENV, "").strip()
        and _params(Path(data_dir)).accounts.count < POOL_MIN_ACCOUNTS
    ):
        workers = 1  # a small dataset takes seconds: starting worker processes would cost more than it saves
    workers = parallel.default_workers() if workers is None else workers
    started = time.perf_counter()
    if scheduler or (workers > 1 and len(tasks) > 1):
        folder = str(Path(data_dir).resolve())
        results = parallel.run_blocks(
            fn, [(folder, *task) for task in tasks], workers=workers, scheduler=scheduler, desc=desc, progress=progress
        )
        where = f"the Dask cluster at {scheduler}" if scheduler else f"{min(workers, len(tasks))} worker processes"
    else:
        with io.BackgroundWriter() as writer:
            results = [
                fn(str(data_dir), *task, write=writer.write) for task in tqdm(tasks, desc=desc, disable=not progress)
            ]
        where = "this process (Parquet written on a background thread)"
    LAST_RUN.update(step=desc, blocks=len(tasks), where=where, seconds=time.perf_counter() - started)
    return results


LAST_RUN: dict = {}  # how the last step's blocks ran (for the notebooks' summary line)


def last_run_summary(rows: int | None = None, what: str = "rows") -> str:
    """One Markdown line: how many blocks ran where, how long it took, and the rate."""
    r = LAST_RUN
    if not r:
        return ""
    rate = f", {rows / r['seconds']:,.0f} {what}/s" if rows and r["seconds"] > 0 else ""
    return f"{r['blocks']} blocks on {r['where']} in {r['seconds']:.1f} s{rate}."


def run_parts(
    fn,
    data_dir: Path,
    n_parts: int,
    desc: str,
    progress: bool,
    workers: int | None = None,
    scheduler: str | None = None,
) -> list:
    """fn(data_dir, k) for every part k (see run_tasks)."""
    return run_tasks(fn, data_dir, [(k,) for k in range(n_parts)], desc, progress, workers, scheduler)


def generate_entities(
    data_dir: str | os.PathLike, progress: bool | None = None, workers: int | None = None, scheduler: str | None = None
) -> dict:
    """Plan accounts, simulate every block of accounts, write the four entity tables and state."""
    data_dir = Path(data_dir)
    params = load_saved_params(data_dir)
    _forget_imperfections(data_dir, ("accounts", "users", "tasks", "events"))
    _forget_answer_keys(data_dir)
    for folder in [io.table_dir(data_dir, t) for t in ENTITY_TABLES] + [
        io.state_dir(data_dir, t) for t in STATE_TABLES
    ]:
        for old in io.parts(folder):
            old.unlink()  # no stale part survives a run with fewer parts
    plan = plan_accounts(params)
    io.write_part(plan.accounts, io.table_dir(data_dir, "accounts"), 0)
    io.write_part(
        io.from_numpy_state(
            {
                "account_id": np.arange(1, plan.n_accounts + 1, dtype=np.int64),
                "churn_at": np.where(plan.churn_at == np.iinfo(np.int64).max, -1, plan.churn_at),
            }
        ),
        io.state_dir(data_dir, "account_latent"),
        0,
    )
    _save_plan(plan, data_dir)
    run_parts(
        entities_block,
        data_dir,
        len(part_ranges(params)),
        "entities (account blocks)",
        show_progress() if progress is None else progress,
        workers,
        scheduler,
    )
    return {name: io.row_count(io.table_dir(data_dir, name)) for name in ENTITY_TABLES}


def generate_events(
    data_dir: str | os.PathLike, progress: bool | None = None, workers: int | None = None, scheduler: str | None = None
) -> dict:
    """Derive every account's events from the saved state, one part per block of accounts."""
    data_dir = Path(data_dir)
    params = load_saved_params(data_dir)
    _forget_imperfections(data_dir, ("events",))
    _forget_answer_keys(data_dir)
    for old in io.parts(io.table_dir(data_dir, "events")):
        old.unlink()  # no stale part survives a run with fewer parts
    counts = run_parts(
        events_block,
        data_dir,
        len(part_ranges(params)),
        "events (account blocks)",
        show_progress() if progress is None else progress,
        workers,
        scheduler,
    )
    return {"events": int(sum(counts))}


def write_answer_keys(data_dir: str | os.PathLike) -> dict[str, int]:
    """truth/: the answer keys from the simulation's state (helpers.truth), rows per file."""
    from . import truth

    return truth.write_answer_keys(data_dir, load_saved_params(Path(data_dir)))


def apply_imperfections(
    data_dir: str | os.PathLike, progress: bool | None = None, workers: int | None = None, scheduler: str | None = None
) -> dict:
    """03_imperfections: blank values, delay events, write the ledger (idempotent: starts from
    state/clean). Parts are processed as blocks, like generation."""
    from . import imperfections

    data_dir = Path(data_dir)
    params = load_saved_params(data_dir)
    plan = imperfections.plan(params, data_dir)
    tasks = [(name, part, plan["missing"], plan["late_probability"]) for name, part in plan["work"]]
    run_tasks(
        imperfections_block,
        data_dir,
        tasks,
        "imperfections (parts)",
        show_progress() if progress is None else progress,
        workers,
        scheduler,
    )
    rows = imperfections.finish(data_dir)
    shutil.rmtree(data_dir / INCREMENTS_DIR, ignore_errors=True)
    if params.snapshot.increments:
        write_increments(data_dir)
    fault_point("imperfections")
    return {"missing": plan["missing"], "late_probability": plan["late_probability"], "ledger_rows": rows}


INCREMENTS_DIR = "events_increments"


def write_increments(data_dir: str | os.PathLike) -> int:
    """events_increments/ingested_date=YYYY-MM-DD/part-0.parquet: the published events split by the UTC
    day they were ingested (the daily extracts a warehouse loads incrementally), each file ordered by
    ingestion time and event_id. Written beside the final folder, then renamed; returns the days."""
    data_dir = Path(data_dir)
    final = data_dir / INCREMENTS_DIR
    tmp = data_dir / f".{INCREMENTS_DIR}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    con = io.duckdb_connect()
    try:
        con.execute("SET threads = 1")  # one file per day, rows in the ORDER BY order
        con.execute(f"""COPY (SELECT *, ingested_at_utc::DATE AS ingested_date
                              FROM read_parquet('{io.table_dir(data_dir, "events")}/part-*.parquet')
                              ORDER BY ingested_at_utc, event_id)
                        TO '{tmp}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (ingested_date),
                                    FILENAME_PATTERN 'part-{{i}}')""")
    finally:
        con.close()
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return len(list(final.glob("ingested_date=*")))


def imperfections_block(
    data_dir: str, name: str, part: int, plans, late_probability: float, write=io.write_part
) -> int:
    """One part of one table through 03_imperfections (see imperfections.apply_part)."""
    from . import imperfections

    return imperfections.apply_part(_params(Path(data_dir)), Path(data_dir), name, part, plans, late_probability, write)


def _forget_answer_keys(data_dir: Path) -> None:
    """New events void the answer keys and everything 03 derived from the old events: the deliveries
    an as_of extract left out and the daily increments (03 redoes them)."""
    from . import imperfections, truth

    for name in truth.ANSWER_KEYS:
        (truth.truth_dir(data_dir) / f"{name}.parquet").unlink(missing_ok=True)
    imperfections.not_yet_arrived_path(data_dir).unlink(missing_ok=True)
    shutil.rmtree(imperfections.not_yet_arrived_parts_dir(data_dir), ignore_errors=True)
    shutil.rmtree(data_dir / INCREMENTS_DIR, ignore_errors=True)


def _forget_imperfections(data_dir: Path, tables: tuple[str, ...]) -> None:
    """A table regenerated by 01/02 replaces its untouched copy and voids the ledger (03 redoes both)."""
    for name in tables:
        shutil.rmtree(data_dir / "state" / "clean" / name, ignore_errors=True)
    (data_dir / "imperfections" / "ledger.parquet").unlink(missing_ok=True)


def build_warehouse(data_dir: str | os.PathLike) -> Path:
    """Create warehouse.duckdb: schema raw, every table loaded by DuckDB from its Parquet parts.

    PRIMARY KEY and FOREIGN KEY constraints are declared on the four entity tables; events carries
    none (keys are checked by SQL instead). Built under a temporary name, then renamed.
    """
    data_dir = Path(data_dir)
    final = data_dir / "warehouse.duckdb"
    tmp = data_dir / f".warehouse.duckdb.tmp-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    con = io.duckdb_connect(tmp)
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("CREATE SCHEMA raw")
        for name, table in TABLES.items():
            con.execute(ddl(table))
            glob = str(io.table_dir(data_dir, name) / "part-*.parquet")
            cols = ", ".join(table.column_names)
            con.execute(f"INSERT INTO raw.{name} SELECT {cols} FROM read_parquet('{glob}')")
            fault_point("warehouse")
        ledger = data_dir / "imperfections" / "ledger.parquet"
        con.execute("CREATE SCHEMA imperfections")
        if ledger.exists():
            con.execute(f"CREATE TABLE imperfections.ledger AS SELECT * FROM read_parquet('{ledger}')")
        else:  # before (or without) 03_imperfections: the same columns, no rows
            con.execute(
                "CREATE TABLE imperfections.ledger (table_name VARCHAR, row_key BIGINT, kind VARCHAR, "
                "column_name VARCHAR, original_value VARCHAR, new_value VARCHAR)"
            )
        # answer keys (schema truth); qa.all_events: published deliveries and those an as_of extract left
        # out; qa.events: one row per event_id (first delivery)
        define_truth_views(con, data_dir, as_tables=True)
        con.execute("CREATE SCHEMA qa")
        con.execute(
            "CREATE VIEW qa.all_events AS SELECT * FROM raw.events UNION ALL SELECT * FROM truth.not_yet_arrived"
        )
        dups = con.execute("SELECT count(*) FROM imperfections.ledger WHERE kind = 'duplicate'").fetchall()[0][0]
        dedup = " QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ingested_at_utc) = 1" if dups else ""
        con.execute(f"CREATE VIEW qa.events AS SELECT * FROM qa.all_events{dedup}")
        con.execute(f"CREATE TABLE qa.redelivered AS {REDELIVERED_SQL}")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, final)
    Path(str(tmp) + ".wal").unlink(missing_ok=True)
    return final


def _imperfections_manifest(data_dir: Path, params: Params) -> list[dict]:
    from . import checks, imperfections

    rows = imperfections.measure(checks.connect(data_dir, params), params)
    keys = (
        "kind",
        "table",
        "column",
        "target_rate",
        "achievable_rate",
        "measured_rate",
        "count",
        "denominator",
        "tolerance",
        "within_tolerance",
        "definition",
        "threshold_seconds",
    )
    return [{k: (round(r[k], 6) if isinstance(r[k], float) else r[k]) for k in keys} for r in rows]


def write_manifest(data_dir: str | os.PathLike, timings: dict | None = None, name: str | None = None) -> dict:
    """manifest.json: what the dataset is, how it was made, and how to check it (no paths, no hosts)."""
    from . import scenarios, truth

    data_dir = Path(data_dir)
    params = load_saved_params(data_dir)
    versions = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "generator": "saas-synth",
        "name": name or data_dir.name,
        "seed": params.seed,
        "params": to_json_dict(params),
        "params_sha256": params_sha256(params),
        "package_versions": versions,
        "row_counts": {name: io.row_count(io.table_dir(data_dir, name)) for name in TABLES},
        "parts": {name: len(io.parts(io.table_dir(data_dir, name))) for name in TABLES},
        "content_hashes": io.content_hashes(data_dir),
        "imperfections": _imperfections_manifest(data_dir, params),
        "grain": {name: t.grain for name, t in TABLES.items()},
        "notes": (
            [
                f"events: duplicate deliveries are on (imperfections.duplicates.share = "
                f"{params.imperfections.duplicates.share:g}): a re-sent event repeats its event_id; "
                "deduplicate by event_id (the warehouse view qa.events does)"
            ]
            if params.imperfections.duplicates.share > 0
            else []
        )
        + [f"scenario {line}" for line in scenarios.notes(params)]
        + (
            [
                f"events: an extract as of {params.snapshot.as_of.isoformat()} UTC: deliveries ingested later "
                "are not in raw/events but in truth/not_yet_arrived.parquet"
            ]
            if params.snapshot.as_of
            else []
        ),
        "scenarios": scenarios.scenarios_table(params)
        .to_pandas()
        .assign(starts_at=lambda d: d.starts_at.astype(str), ends_at=lambda d: d.ends_at.astype(str))
        .to_dict("records"),
        "truth": truth.truth_files(data_dir),
        "snapshot": {
            "as_of": params.snapshot.as_of.isoformat() if params.snapshot.as_of else None,
            "increments_days": len(list((data_dir / INCREMENTS_DIR).glob("ingested_date=*"))),
        },
        "timings_seconds": {k: round(v, 3) for k, v in (timings or {}).items()},
    }
    # schema.sql, data_dictionary.md, sources.yml, datapackage.json (and csv/ copies on request)
    write_package(data_dir, name or data_dir.name, csv=params.output.csv)
    io.write_json(manifest, data_dir / "manifest.json")
    return manifest
