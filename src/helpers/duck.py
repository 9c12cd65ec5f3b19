"""DuckDB, the one way in: connections, file paths in SQL, and the schemas every query reads.

- `connect` builds every connection: UTC session time zone, bounded memory that spills to a folder of
  its own, no progress bar; with params, the variables the SQL reads (`set_variables`).
- A path never reaches SQL text: `parquet(con, files)` registers exactly those files (a pyarrow
  dataset) under a name the SQL reads, so any folder name works (quotes, brackets, `*`, `?`, braces,
  backslashes, non-ASCII), and the files come from our own fixed pattern (`io.parts`). Output paths
  are bound parameters (`COPY ... TO ?`).
- `dataset` (views over a dataset folder's Parquet) and `warehouse` (the published warehouse.duckdb)
  present the same schemas: raw.<table>, imperfections.ledger, truth.<answer key>, and the qa views
  (`define_qa_views`) that every rule reads.
"""

from __future__ import annotations

import atexit
import datetime as dt
import itertools
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pyarrow.dataset as ds

from . import io
from .generate.calendar import widely_observed_days
from .params import Params
from .schema import EVENTS, LEDGER, SQL_VOCABULARIES, TABLES, TRUTH_TABLES, Table

MEMORY_ENV = "SAAS_SYNTH_DUCKDB_MEMORY"
GLOB_CHARACTERS = frozenset("*?[]{}")  # DuckDB's file reader takes a path with one of these as a pattern
_names = itertools.count(1)  # registered relations: parquet_1, parquet_2, ...


def supported_folder(path: str | Path, what: str) -> None:
    """Raise ValueError (one line) for a folder DuckDB cannot hold a database in: DuckDB reads a
    backslash in a database path as a separator (on every platform), so warehouse.duckdb could not be
    written or opened there. Every other character a file system allows works."""
    if "\\" in os.fspath(path):
        raise ValueError(
            f"{what} = {os.fspath(path)!r} is not supported: it holds a backslash, which DuckDB reads as a path "
            "separator in a database path; choose a folder without one"
        )


def connect(
    database: str | Path = ":memory:",
    read_only: bool = False,
    params: Params | None = None,
    spill_dir: Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection: time zone UTC (so TIMESTAMP::DATE is the UTC day), memory bounded by env
    SAAS_SYNTH_DUCKDB_MEMORY (default 1GB) with larger work spilled to `spill_dir` (default: a folder
    of its own, removed at exit); with `params`, the window and vocabulary variables."""
    con = duckdb.connect(str(database), read_only=read_only)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET memory_limit = ?", [os.environ.get(MEMORY_ENV) or "1GB"])
    con.execute("SET preserve_insertion_order = false")  # lets large scans and COPY stream
    con.execute("SET enable_progress_bar = false")  # no progress text in logs and reports
    if spill_dir is None:  # connections must not share a spill folder
        spill_dir = Path(tempfile.mkdtemp(prefix="saas-synth-duckdb-"))
        atexit.register(shutil.rmtree, spill_dir, True)
    con.execute("SET temp_directory = ?", [str(spill_dir)])
    if params is not None:
        set_variables(con, params)
    return con


def set_variables(con: duckdb.DuckDBPyConnection, params: Params) -> None:
    """The variables the SQL files read: window_start and window_end ([start, end), UTC), launch_at (the
    product's launch: history.launch, or the window's start), late_threshold_seconds, as_of (NULL without
    an extract), holidays (the days off for at least a quarter of customers when that scenario is on:
    generate.calendar.widely_observed_days), and each vocabulary of schema.SQL_VOCABULARIES as a list
    (key_events, statuses, ...)."""
    start = dt.datetime.combine(params.window.start, dt.time())
    end = dt.datetime.combine(params.window.end + dt.timedelta(days=1), dt.time())
    con.execute("SET VARIABLE window_start = ?::TIMESTAMP", [start])
    con.execute("SET VARIABLE window_end = ?::TIMESTAMP", [end])
    con.execute("SET VARIABLE launch_at = ?::TIMESTAMP", [dt.datetime.combine(params.span.start, dt.time())])
    con.execute("SET VARIABLE late_threshold_seconds = ?", [params.imperfections.late_arrival.threshold_seconds])
    con.execute("SET VARIABLE as_of = ?::TIMESTAMP", [params.snapshot.as_of])
    con.execute("SET VARIABLE holidays = ?::DATE[]", [widely_observed_days(params)])
    for name, values in SQL_VOCABULARIES.items():
        con.execute(f"SET VARIABLE {name} = ?::VARCHAR[]", [list(values)])


# --------------------------------------------------------------------------- files in SQL
def parquet(con: duckdb.DuckDBPyConnection, files: Iterable[str | Path]) -> str:
    """A relation over exactly these Parquet files, to use in SQL by the name returned. No path ever reaches
    SQL text: DuckDB's own reader takes the paths as values (within its memory limit, and about 2.5x
    faster than a pyarrow scan, whose read-ahead DuckDB does not count: ~400 MB on large's events); a path
    its reader would take as a pattern (`*`, `?`, brackets, braces) is read by a pyarrow dataset
    instead, so any folder name works (quotes, brackets, `*`, `?`, braces, backslashes, non-ASCII)."""
    files = [os.path.abspath(f) for f in files]  # absolute: DuckDB expands a leading ~
    if not files:
        raise FileNotFoundError("no Parquet files to read")
    name = f"parquet_{next(_names)}"
    glob_like = any(GLOB_CHARACTERS.intersection(f) for f in files)
    con.register(name, ds.dataset(files, format="parquet") if glob_like else con.read_parquet(files))
    return name


def parts(con: duckdb.DuckDBPyConnection, folder: str | Path) -> str:
    """`parquet` over the part files of one table folder (io.parts: our own fixed pattern part-NNNNN.parquet)."""
    files = io.parts(folder)
    if not files:
        raise FileNotFoundError(f"no part files in {folder}: run the notebook that makes them first")
    return parquet(con, files)


def empty(table: Table) -> str:
    """A query with a table's columns and types and no rows."""
    columns = ", ".join(f"NULL::{c.sql_type} AS {c.name}" for c in table.columns)
    return f"SELECT {columns} WHERE false"


# --------------------------------------------------------------------------- the schemas of a dataset
def dataset(data_dir: str | Path, params: Params) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB over a dataset folder: views raw.<table> over the Parquet parts (tables not made
    yet get none), imperfections.ledger (empty before 03), truth.*, the qa views, and the variables."""
    con = connect(params=params)
    con.execute("CREATE SCHEMA raw")
    for name in TABLES:
        if io.parts(io.table_dir(data_dir, name)):
            con.execute(f"CREATE VIEW raw.{name} AS SELECT * FROM {parts(con, io.table_dir(data_dir, name))}")
    ledger = io.ledger_path(data_dir)
    con.execute("CREATE SCHEMA imperfections")
    source = parquet(con, [ledger]) if ledger.exists() else f"({empty(LEDGER)})"
    con.execute(f"CREATE VIEW imperfections.ledger AS SELECT * FROM {source}")
    con.execute("SET VARIABLE has_ledger = ?", [ledger.exists()])
    define_truth(con, data_dir)
    if io.parts(io.table_dir(data_dir, "events")):
        define_qa_views(con)
    return con


BLOCK_TABLES = ("users", "projects", "tasks", "events")  # a block's own rows (accounts are whole in every block)


def block(data_dir: str | Path, params: Params, part: int, accounts: range, resent: bool) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB over one block of accounts (part `part`, account_ids `accounts`), with what the
    account rules (helpers.quality.checks) read: raw.users, raw.projects, raw.tasks and raw.events over
    the block's part, held in memory as Arrow (no rows where it has none), raw.accounts and
    raw.account_plans whole,
    truth.not_yet_arrived of the block's accounts and the qa views (`resent`: whether the whole
    dataset's ledger lists re-sent deliveries, ledger_lists_resent); qa.events is kept as a table (a
    block is small, and every rule reads it)."""
    con = connect(params=params)
    con.execute("CREATE SCHEMA raw")
    for name in TABLES:
        if name in BLOCK_TABLES:
            path = io.part_path(io.table_dir(data_dir, name), part)
            rows = io.read_parts_file(path) if path.exists() else TABLES[name].arrow_schema.empty_table()
            con.register(f"block_{name}", rows)  # Arrow in memory: the rules scan it without a copy
            con.execute(f"CREATE VIEW raw.{name} AS SELECT * FROM block_{name}")
        else:
            con.execute(f"CREATE VIEW raw.{name} AS SELECT * FROM {parts(con, io.table_dir(data_dir, name))}")
    con.execute("CREATE SCHEMA imperfections")
    con.execute(f"CREATE VIEW imperfections.ledger AS {empty(LEDGER)}")  # account rules never read it
    con.execute("SET VARIABLE has_ledger = ?", [io.ledger_path(data_dir).exists()])
    path = io.truth_path(data_dir, "not_yet_arrived")
    later = f"(SELECT * FROM {parquet(con, [path])} WHERE account_id BETWEEN ? AND ?)" if path.exists() else None
    con.execute("CREATE SCHEMA truth")
    if later:
        con.execute(f"CREATE TABLE truth.not_yet_arrived AS SELECT * FROM {later}", [accounts.start, accounts.stop - 1])
    else:
        con.execute(f"CREATE TABLE truth.not_yet_arrived AS {empty(EVENTS)}")
    define_qa_views(con, resent)
    con.execute("CREATE TABLE qa.first_deliveries AS SELECT * FROM qa.events")
    con.execute("CREATE OR REPLACE VIEW qa.events AS SELECT * FROM qa.first_deliveries")
    return con


def warehouse(data_dir: str | Path, params: Params) -> duckdb.DuckDBPyConnection:
    """The dataset's warehouse.duckdb, read-only, with the variables the SQL uses."""
    con = connect(Path(data_dir) / "warehouse.duckdb", read_only=True, params=params)
    con.execute("SET VARIABLE has_ledger = ?", [io.ledger_path(data_dir).exists()])
    return con


def define_truth(con: duckdb.DuckDBPyConnection, data_dir: str | Path, as_tables: bool = False) -> None:
    """Schema truth: a view (a table, for the warehouse) per file of truth/ that exists;
    truth.not_yet_arrived always exists (no rows when snapshot.as_of cut nothing)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS truth")
    kind = "TABLE" if as_tables else "VIEW"
    for name in TRUTH_TABLES:
        path = io.truth_path(data_dir, name)
        if path.exists():
            con.execute(f"CREATE OR REPLACE {kind} truth.{name} AS SELECT * FROM {parquet(con, [path])}")
        elif name == "not_yet_arrived":
            con.execute(f"CREATE OR REPLACE {kind} truth.not_yet_arrived AS {empty(EVENTS)}")


REDELIVERED_SLICE_ROWS = 8_000_000


def resent_in_ledger(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the ledger lists re-sent deliveries (then qa.events keeps each event's first delivery)."""
    return con.execute("SELECT count(*) FROM imperfections.ledger WHERE kind = 'duplicate'").fetchall()[0][0] > 0


def ledger_lists_resent(data_dir: str | Path) -> bool:
    """resent_in_ledger for a dataset folder, reading the ledger file alone (no view over the events)."""
    path = io.ledger_path(data_dir)
    if not path.exists():
        return False
    con = connect()
    try:
        con.execute(f"CREATE SCHEMA imperfections; CREATE VIEW imperfections.ledger AS FROM {parquet(con, [path])}")
        return resent_in_ledger(con)
    finally:
        con.close()


def define_qa_views(con: duckdb.DuckDBPyConnection, resent: bool | None = None) -> None:
    """The views every rule and metric reads:
    - qa.all_events: every delivery, the published ones and those an as_of extract left out
      (truth.not_yet_arrived), so checks excuse exactly those;
    - qa.events: one row per event_id (its first delivery), so re-sent duplicates (an imperfection,
      listed in the ledger) count once; only pk_events reads raw.events. With re-sent deliveries, the
      event_ids delivered more than once (qa.redelivered, found by a GROUP BY over the data) are kept
      apart: every other delivery streams through an anti join, and only theirs are ranked by
      ingestion time, so no window runs over the whole stream.
    Whether events were re-sent: `resent`, or (None) as the ledger says."""
    con.execute("CREATE SCHEMA IF NOT EXISTS qa")
    con.execute(
        "CREATE OR REPLACE VIEW qa.all_events AS SELECT * FROM raw.events UNION ALL SELECT * FROM truth.not_yet_arrived"
    )
    if resent is None:
        resent = resent_in_ledger(con)
    if not resent:
        con.execute("CREATE OR REPLACE VIEW qa.events AS SELECT * FROM qa.all_events")
        return
    prepare_redelivered(con)
    con.execute(
        """CREATE OR REPLACE VIEW qa.events AS
           SELECT e.* FROM qa.all_events e ANTI JOIN qa.redelivered r USING (event_id)
           UNION ALL
           SELECT * FROM (SELECT e.* FROM qa.all_events e SEMI JOIN qa.redelivered r USING (event_id))
           QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ingested_at_utc) = 1"""
    )


def prepare_redelivered(con: duckdb.DuckDBPyConnection) -> None:
    """qa.redelivered: every event_id delivered more than once, with its number of deliveries, shared
    by every check that needs it (the warehouse stores it, an in-memory connection makes it on first
    use). Counted in slices of event_id of about REDELIVERED_SLICE_ROWS deliveries each: one GROUP BY
    over 60M+ ids needs a hash table DuckDB cannot spill (its 512 MiB directory failed at the 1 GB
    limit on large); a slice's stays small, and Parquet statistics skip the parts outside it."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'qa' AND table_name = 'redelivered'"
    ).fetchall()[0][0]
    if exists:
        return
    con.execute("CREATE TABLE qa.redelivered (event_id BIGINT, deliveries BIGINT)")
    low, high, rows = con.execute("SELECT min(event_id), max(event_id), count(*) FROM qa.all_events").fetchall()[0]
    if not rows:
        return
    slices = -(-rows // REDELIVERED_SLICE_ROWS)
    edges = [low + (high + 1 - low) * i // slices for i in range(slices + 1)]
    for start, end in itertools.pairwise(edges):
        con.execute(
            "INSERT INTO qa.redelivered SELECT event_id, count(*) FROM qa.all_events "
            "WHERE event_id >= ? AND event_id < ? GROUP BY event_id HAVING count(*) > 1",
            [start, end],
        )
