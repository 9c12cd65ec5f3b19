"""Imperfections: values blanked and events delayed on purpose (03_imperfections), a ledger of every
row touched or planted, and the rates measured back from the final tables.

Two kinds, both documented in the ledger (imperfections/ledger.parquet):
- planted by the simulation, because they change behaviour and events must still agree with the
  tables: internal/test accounts (simulate, entities) and outliers (long cycle times, far-future
  due dates);
- applied here, because they only blank or delay a value: missing values in nullable columns and
  late-arriving events.
Every choice draws from a stream keyed by (account, table), so the result does not depend on how
accounts are split into files. Applying is idempotent: the untouched tables are kept in
state/clean/ and raw/ is always rewritten from them.
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import io, scenarios
from .entities import DAY, US, to_us
from .params import Params
from .schema import LEDGER, TABLES
from .streams import AccountDraws

LEDGER_SCHEMA = LEDGER.arrow_schema
KINDS = LEDGER.column("kind").allowed
# Blankable columns: nullable by contract and needed by no rule. (table, column, params field)
MISSING_COLUMNS = (
    ("tasks", "assignee_user_id", "tasks_assignee_user_id"),
    ("tasks", "due_at", "tasks_due_at"),
    ("users", "timezone", "users_timezone"),
    ("accounts", "industry", "accounts_industry"),
    ("accounts", "country_code", "accounts_country_code"),
)
TOUCHED_TABLES = ("accounts", "users", "tasks", "events")
_TABLE_BLOCK = {name: i for i, name in enumerate(TOUCHED_TABLES, 1)}
# Events a client can deliver late. login_succeeded is written synchronously by the auth server.
LATE_EXCLUDED = ("login_succeeded",)


def _text(values: pa.Array) -> pa.Array:
    """Values as ledger text (timestamps ISO 8601, UTC, no zone suffix)."""
    if pa.types.is_timestamp(values.type):
        return pc.strftime(values, format="%Y-%m-%dT%H:%M:%S")  # %S carries the microseconds
    return pc.cast(values, pa.string())


def _ledger(table: str, keys, kind: str, column: str | None, original, new) -> pa.Table:
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    n = len(keys)

    def col(x):
        if x is None:
            return pa.nulls(n, pa.string())
        if isinstance(x, pa.ChunkedArray):
            x = x.combine_chunks()
        return _text(x) if isinstance(x, pa.Array) else pa.array(x, pa.string())

    return pa.table(
        {
            "table_name": pa.array([table] * n, pa.string()),
            "row_key": pa.array(keys, pa.int64()),
            "kind": pa.array([kind] * n, pa.string()),
            "column_name": pa.array([column] * n, pa.string()),
            "original_value": col(original),
            "new_value": col(new),
        },
        schema=LEDGER_SCHEMA,
    )


# --------------------------------------------------------------------------- preparing the clean copy
def clean_dir(data_dir: Path, table: str) -> Path:
    return Path(data_dir) / "state" / "clean" / table


def keep_clean_copy(data_dir: Path) -> None:
    """Move each touched table's parts to state/clean/ once; later runs of 03 start from there."""
    for name in TOUCHED_TABLES:
        src, dst = io.table_dir(data_dir, name), clean_dir(data_dir, name)
        if not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            src.rename(dst)
        shutil.rmtree(src, ignore_errors=True)
        src.mkdir(parents=True)


# --------------------------------------------------------------------------- blanking probabilities
@dataclass(frozen=True)
class MissingPlan:
    table: str
    column: str
    target: float
    rows: int
    natural_nulls: int
    protected: int  # non-null rows that must not be blanked (outliers measured on this column)
    probability: float  # chance that a blankable value is blanked


def plan_missing(params: Params, data_dir: Path, con: duckdb.DuckDBPyConnection) -> list[MissingPlan]:
    """For each blankable column: rows, natural nulls, and the blanking probability that brings the
    column's null share to its target (natural nulls included; never below the natural share)."""
    far_due = params.imperfections.outliers.far_due_threshold_days
    plans = []
    for table, column, field in MISSING_COLUMNS:
        glob = f"{clean_dir(data_dir, table)}/*.parquet"
        protect = f"due_at > created_at + INTERVAL ({far_due * 86400}) SECOND" if column == "due_at" else "false"
        rows, nulls, protected = con.execute(
            f"SELECT count(*), count(*) - count({column}), count(*) FILTER (WHERE {protect}) "
            f"FROM read_parquet('{glob}')"
        ).fetchall()[0]
        target = getattr(params.imperfections.missing, field)
        blankable = rows - nulls - protected
        want = target * rows - nulls
        p = min(max(want / blankable, 0.0), 1.0) if blankable > 0 else 0.0
        plans.append(MissingPlan(table, column, target, rows, nulls, protected, p))
    return plans


# --------------------------------------------------------------------------- applying
def _draws(params: Params, name: str, part: pa.Table, plans: list[MissingPlan]) -> dict[str, np.ndarray]:
    """Per-row random numbers, drawn account by account in key order from each account's own
    stream (so they do not depend on how accounts are split into parts), vectorised over the part."""
    acct = part.column("account_id").to_numpy()
    key = part.column(TABLES[name].primary_key).to_numpy()
    order = np.lexsort((key, acct))
    accounts, counts = np.unique(acct, return_counts=True)
    D = AccountDraws(params.seed, "imperfections", accounts * 16 + _TABLE_BLOCK[name])
    out = {}

    def put(values):
        x = np.empty(len(values), dtype=values.dtype)
        x[order] = values
        return x

    for p in plans:
        if p.table == name:
            out[p.column] = put(D.random(counts))
    if name == "events":
        la = params.imperfections.late_arrival
        out["late_u"] = put(D.random(counts))
        straggler = D.random(counts) < la.straggler_share
        hours = D.lognormal(la.straggler_delay_hours.median * 3600 * US, la.straggler_delay_hours.sigma, counts)
        days = D.lognormal(la.offline_delay_days.median * DAY, la.offline_delay_days.sigma, counts)
        # beyond the threshold by at least a second: a late event is unambiguously late
        out["delay"] = put(la.threshold_seconds * US + US + to_us(np.where(straggler, hours, days)))
        out["dup_u"] = put(D.random(counts))
        out["resend"] = put(to_us(D.uniform(1.0, 600.0, counts) * US))  # the pipeline re-sends within minutes
    return out


def _apply_part(
    params: Params, name: str, part: pa.Table, plans: list[MissingPlan], late_probability: float
) -> tuple[pa.Table, list[pa.Table]]:
    """One part of one table with its values blanked / events delayed, and the ledger rows."""
    n = part.num_rows
    if n == 0:
        return part, []
    draws = _draws(params, name, part, plans)
    table = TABLES[name]
    key = part.column(table.primary_key)
    out, ledgers = part, []

    def replace(column: str, changed: np.ndarray, new_values: pa.Array, kind: str) -> None:
        nonlocal out
        idx = pa.array(np.flatnonzero(changed))
        old = out.column(column)
        ledgers.append(
            _ledger(
                name, key.take(idx), kind, column, old.take(idx), None if kind == "missing" else new_values.take(idx)
            )
        )
        out = out.set_column(table.column_names.index(column), column, pc.if_else(pa.array(changed), new_values, old))

    for p in plans:
        if p.table != name:
            continue
        col = part.column(p.column)
        blank = (draws[p.column] < p.probability) & pc.is_valid(col).to_numpy(zero_copy_only=False)
        if p.column == "due_at":  # far-future due dates are outliers: keep them measurable
            due = pc.cast(col, pa.int64()).fill_null(-1).to_numpy()
            created = pc.cast(part.column("created_at"), pa.int64()).to_numpy()
            blank &= ~(due - created > params.imperfections.outliers.far_due_threshold_days * DAY)
        if blank.any():
            replace(p.column, blank, pa.nulls(n, col.type), "missing")

    if name == "events":
        names = pc.cast(part.column("event_name"), pa.string()).to_numpy(zero_copy_only=False)
        event_at = pc.cast(part.column("event_at_utc"), pa.int64()).to_numpy()
        new_ingested = event_at + draws["delay"]
        late = (draws["late_u"] < late_probability) & ~np.isin(names, LATE_EXCLUDED)
        incident = scenarios.incident_us(params)
        if incident:  # held back by the pipeline: delivered together after the stretch, each with its latency
            start, end, delivered = incident
            held = (event_at >= start) & (event_at < end)
            latency = pc.cast(part.column("ingested_at_utc"), pa.int64()).to_numpy() - event_at
            new_ingested = np.where(held, delivered + latency, new_ingested)
            late |= held
        if late.any():
            replace("ingested_at_utc", late, pa.array(new_ingested, pa.timestamp("us")), "late_arrival")
        dup = draws["dup_u"] < params.imperfections.duplicates.share
        if dup.any():  # a re-sent delivery: the same row, same event_id, received again a little later
            idx = pa.array(np.flatnonzero(dup))
            copies = out.take(idx)
            first = copies.column("ingested_at_utc")
            resent = pa.array(
                pc.cast(first, pa.int64()).to_numpy() + draws["resend"][np.flatnonzero(dup)], pa.timestamp("us")
            )
            copies = copies.set_column(table.column_names.index("ingested_at_utc"), "ingested_at_utc", resent)
            # ledger: column event_id (the repeated key); values: first and re-sent ingested_at_utc
            ledgers.append(_ledger(name, copies.column("event_id"), "duplicate", "event_id", first, resent))
            out = pa.concat_tables([out, copies.cast(out.schema)])
            order = np.argsort(pc.cast(out.column("event_at_utc"), pa.int64()).to_numpy(), kind="stable")
            out = out.take(pa.array(order))
    return out, ledgers


def cut_at_as_of(params: Params, events: pa.Table) -> tuple[pa.Table, pa.Table]:
    """(published, not yet arrived): with snapshot.as_of set, deliveries ingested after it are not
    in the extract (listed in truth/not_yet_arrived.parquet instead)."""
    as_of = params.snapshot.as_of
    if as_of is None or events.num_rows == 0:
        return events, events.slice(0, 0)
    later = pc.cast(events.column("ingested_at_utc"), pa.int64()).to_numpy() > scenarios.moment_us(as_of)
    return events.filter(pa.array(~later)), events.filter(pa.array(later))


def plan(params: Params, data_dir: str | Path) -> dict:
    """Keep the untouched tables in state/clean/ (once) and decide the blanking probabilities and the
    late-arrival probability from them (DuckDB over the parts)."""
    data_dir = Path(data_dir)
    keep_clean_copy(data_dir)
    con = io.duckdb_connect()
    plans = plan_missing(params, data_dir, con)
    glob = f"{clean_dir(data_dir, 'events')}/*.parquet"
    excluded = ", ".join(f"'{e}'" for e in LATE_EXCLUDED)
    n_events, n_eligible = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE event_name NOT IN ({excluded})) FROM read_parquet('{glob}')"
    ).fetchall()[0]
    # the target is a share of all events; only eligible ones can be late, and the incident's events
    # are late already
    n_held, n_held_eligible = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE event_name NOT IN ({excluded})) FROM read_parquet('{glob}') "
        f"WHERE {scenarios.incident_sql(params)}"
    ).fetchall()[0]
    want = params.imperfections.late_arrival.share * n_events - n_held
    pool = n_eligible - n_held_eligible
    late_probability = min(max(want / pool, 0.0), 1.0) if pool else 0.0
    con.close()
    shutil.rmtree(ledger_parts_dir(data_dir), ignore_errors=True)
    shutil.rmtree(not_yet_arrived_parts_dir(data_dir), ignore_errors=True)
    not_yet_arrived_path(data_dir).unlink(missing_ok=True)
    work = [(name, _part_number(path)) for name in TOUCHED_TABLES for path in io.parts(clean_dir(data_dir, name))]
    return {"missing": plans, "late_probability": late_probability, "work": work}


def apply_part(
    params: Params,
    data_dir: Path,
    name: str,
    part: int,
    plans: list[MissingPlan],
    late_probability: float,
    write=io.write_part,
) -> int:
    """One part of one table, from its clean copy: values blanked, events delayed (or re-sent),
    written to raw/; its ledger rows written to imperfections/.parts/. Returns the ledger rows."""
    data_dir = Path(data_dir)
    out, ledgers = _apply_part(
        params, name, io.read_parts_file(io.part_path(clean_dir(data_dir, name), part)), plans, late_probability
    )
    if name == "events":
        out, later = cut_at_as_of(params, out)
        if later.num_rows:
            write(later.cast(TABLES[name].arrow_schema), not_yet_arrived_parts_dir(data_dir), part)
    write(out.cast(TABLES[name].arrow_schema), io.table_dir(data_dir, name), part)
    ledger = pa.concat_tables(ledgers) if ledgers else LEDGER_SCHEMA.empty_table()
    if ledger.num_rows:
        write(ledger.cast(LEDGER_SCHEMA), ledger_parts_dir(data_dir) / name, part)
    return ledger.num_rows


def finish(data_dir: str | Path) -> int:
    """The ledger: planted rows plus every part's rows, sorted by (table, kind, column, row) by
    DuckDB (out of core), written under a temporary name and renamed; the part files are removed."""
    data_dir = Path(data_dir)
    planted = planted_ledger(data_dir)
    io.write_part(planted.cast(LEDGER_SCHEMA), ledger_parts_dir(data_dir) / "planted", 0)
    path = ledger_path(data_dir)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    con = io.duckdb_connect()
    try:
        con.execute(f"""COPY (SELECT * FROM read_parquet('{ledger_parts_dir(data_dir)}/*/part-*.parquet')
                             ORDER BY table_name, kind, column_name, row_key, original_value, new_value)
                        TO '{tmp}' (FORMAT parquet, COMPRESSION zstd)""")
        rows = con.execute(f"SELECT count(*) FROM read_parquet('{tmp}')").fetchall()[0][0]
    finally:
        con.close()
    os.replace(tmp, path)
    shutil.rmtree(ledger_parts_dir(data_dir), ignore_errors=True)
    _finish_not_yet_arrived(data_dir)
    return rows


def not_yet_arrived_path(data_dir: Path) -> Path:
    return Path(data_dir) / "truth" / "not_yet_arrived.parquet"


def not_yet_arrived_parts_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "truth" / ".not_yet_arrived_parts"


def _finish_not_yet_arrived(data_dir: Path) -> None:
    """truth/not_yet_arrived.parquet (events schema, by event_id and delivery) when snapshot.as_of cut
    any delivery; no file otherwise."""
    folder, path = not_yet_arrived_parts_dir(data_dir), not_yet_arrived_path(data_dir)
    if not io.parts(folder):
        shutil.rmtree(folder, ignore_errors=True)
        return
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    con = io.duckdb_connect()
    try:
        con.execute(f"""COPY (SELECT * FROM read_parquet('{folder}/part-*.parquet') ORDER BY event_id, ingested_at_utc)
                        TO '{tmp}' (FORMAT parquet, COMPRESSION zstd)""")
    finally:
        con.close()
    os.replace(tmp, path)
    shutil.rmtree(folder, ignore_errors=True)


def ledger_parts_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "imperfections" / ".parts"


def _part_number(path: Path) -> int:
    return int(path.stem.split("-")[1])


def ledger_path(data_dir: Path) -> Path:
    return Path(data_dir) / "imperfections" / "ledger.parquet"


def write_ledger(ledger: pa.Table, data_dir: Path) -> None:
    import os

    import pyarrow.parquet as pq

    path = ledger_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(ledger.cast(LEDGER_SCHEMA), tmp, compression="zstd")
    os.replace(tmp, path)


def planted_ledger(data_dir: Path) -> pa.Table:
    """Ledger rows for what the simulation planted: internal accounts and their users, outliers.
    DuckDB selects the few planted rows from the parts (the tables are never loaded whole)."""
    con = io.duckdb_connect()

    def parts(folder: Path) -> str:
        return f"read_parquet('{folder}/part-*.parquet')"

    ledgers = []
    for name, key in (("accounts", "account_id"), ("users", "user_id")):
        ids = (
            con.sql(f"SELECT {key} FROM {parts(clean_dir(data_dir, name))} WHERE is_internal ORDER BY {key}")
            .to_arrow_table()
            .column(0)
        )
        ledgers.append(_ledger(name, ids, "internal", "is_internal", ["false"] * len(ids), ["true"] * len(ids)))
    timeline = parts(io.state_dir(data_dir, "timeline"))
    long_cycle = con.sql(f"""SELECT task_id, make_timestamp(original_done_at) AS was, make_timestamp(done_at) AS now
                                 FROM {timeline} WHERE planted_long_cycle ORDER BY task_id""").to_arrow_table()
    ledgers.append(
        _ledger(
            "tasks",
            long_cycle.column("task_id"),
            "outlier",
            "completed_at",
            long_cycle.column("was"),
            long_cycle.column("now"),
        )
    )
    far_due = con.sql(f"""SELECT t.task_id, make_timestamp(s.original_due_at) AS was, t.due_at AS now
                              FROM {timeline} s JOIN {parts(clean_dir(data_dir, "tasks"))} t USING (task_id)
                              WHERE s.planted_far_due ORDER BY t.task_id""").to_arrow_table()
    ledgers.append(
        _ledger("tasks", far_due.column("task_id"), "outlier", "due_at", far_due.column("was"), far_due.column("now"))
    )
    con.close()
    return pa.concat_tables(ledgers)


# --------------------------------------------------------------------------- measuring back
def measurements(params: Params) -> list[dict]:
    """Each imperfection: how its rate is recomputed from the final tables (SQL returning count,
    denominator, achievable), with its target.

    `achievable` is the rate the data can reach: a missing-value target below the column's natural
    null share keeps the natural share; a late-arrival target above the share of events that can be
    late (all but logins) stops there; outliers need tasks with a due date, or started early enough
    to run past the threshold inside the window. Measured rates are judged against it, and the
    manifest shows both.
    """
    im = params.imperfections
    out = []
    for table, column, field in MISSING_COLUMNS:
        target = getattr(im.missing, field)
        protected = (
            (
                "count(*) FILTER (WHERE due_at > created_at + INTERVAL ("
                f"{int(im.outliers.far_due_threshold_days * 86400)}) SECOND)"
            )
            if column == "due_at"
            else "0"
        )
        natural = (
            f"(count(*) - count({column}) - (SELECT count(*) FROM imperfections.ledger "
            f"WHERE kind = 'missing' AND table_name = '{table}' AND column_name = '{column}'))"
        )
        out.append(
            dict(
                kind="missing",
                table=table,
                column=column,
                target_rate=target,
                definition=f"share of {table} rows whose {column} is null (natural nulls included)",
                sql=f"SELECT count(*) - count({column}), count(*), "
                f"least(greatest({target}, {natural} / nullif(count(*), 0)), 1 - {protected} / nullif(count(*), 0)) "
                f"FROM raw.{table}",
            )
        )
    long_s = int(im.outliers.long_cycle_threshold_days * 86400)
    t = im.outliers.long_cycle_share
    out.append(
        dict(
            kind="outlier",
            table="tasks",
            column="completed_at",
            target_rate=t,
            definition=f"share of done tasks with completed_at - first_started_at > {im.outliers.long_cycle_threshold_days:g} days",
            threshold_seconds=long_s,
            sql=f"SELECT count(*) FILTER (WHERE completed_at - first_started_at > INTERVAL ({long_s}) SECOND), count(*), "
            f"least({t}, count(*) FILTER (WHERE first_started_at < getvariable('window_end') - INTERVAL "
            f"({int(long_s * 1.05)}) SECOND) / nullif(count(*), 0)) FROM raw.tasks WHERE status = 'done'",
        )
    )
    far_s = int(im.outliers.far_due_threshold_days * 86400)
    t = im.outliers.far_due_share
    out.append(
        dict(
            kind="outlier",
            table="tasks",
            column="due_at",
            target_rate=t,
            definition=f"share of tasks with due_at > created_at + {im.outliers.far_due_threshold_days:g} days",
            threshold_seconds=far_s,
            sql=f"SELECT count(*) FILTER (WHERE due_at > created_at + INTERVAL ({far_s}) SECOND), count(*), "
            f"least({t}, (count(due_at) + (SELECT count(*) FROM imperfections.ledger WHERE kind = 'missing' "
            "AND column_name = 'due_at')) / nullif(count(*), 0)) FROM raw.tasks",
        )
    )
    late_s = im.late_arrival.threshold_seconds
    t = im.late_arrival.share
    excluded = ", ".join(f"'{e}'" for e in LATE_EXCLUDED)
    held = scenarios.incident_sql(params)
    out.append(
        dict(
            kind="late_arrival",
            table="events",
            column="ingested_at_utc",
            target_rate=t,
            definition=f"share of events (first deliveries) with ingested_at_utc - event_at_utc > {late_s} seconds",
            threshold_seconds=late_s,
            sql=f"SELECT count(*) FILTER (WHERE ingested_at_utc - event_at_utc > INTERVAL ({late_s}) SECOND), count(*), "
            f"greatest(least({t}, count(*) FILTER (WHERE event_name NOT IN ({excluded}) OR {held}) / nullif(count(*), 0)), "
            f"count(*) FILTER (WHERE {held}) / nullif(count(*), 0)) FROM qa.events",
        )
    )
    t = im.duplicates.share
    out.append(
        dict(
            kind="duplicate",
            table="events",
            column="event_id",
            target_rate=t,
            definition="re-sent deliveries (rows repeating an event_id) per distinct event",
            sql="SELECT extra, (SELECT count(*) FROM qa.all_events) - extra, "
            f"{t} FROM (SELECT coalesce(sum(deliveries - 1), 0) AS extra FROM qa.redelivered)",
        )
    )
    t = im.internal.account_share
    out.append(
        dict(
            kind="internal",
            table="accounts",
            column="is_internal",
            target_rate=t,
            definition="share of accounts flagged is_internal (their users are flagged too)",
            sql=f"SELECT count(*) FILTER (WHERE is_internal), count(*), round({t} * count(*)) / nullif(count(*), 0) "
            "FROM raw.accounts",
        )
    )
    return out


def tolerance(target: float, denominator: int) -> float | None:
    """Allowed |measured - target|: three binomial standard deviations, at least 0.002 (and half a
    row, where a count is exact)."""
    if denominator <= 0:
        return None
    return max(0.002, 0.5 / denominator, 3.0 * math.sqrt(target * (1.0 - target) / denominator))


def measure(con: duckdb.DuckDBPyConnection, params: Params) -> list[dict]:
    """Every imperfection's measured rate, recomputed from the final tables, against its target."""
    from .checks import prepare_redelivered

    prepare_redelivered(con)
    rows = []
    for m in measurements(params):
        count, denominator, achievable = con.execute(m["sql"]).fetchall()[0]
        measured = count / denominator if denominator else None
        achievable = None if achievable is None else float(achievable)
        tol = tolerance(achievable if achievable is not None else m["target_rate"], denominator)
        row = {k: v for k, v in m.items() if k != "sql"}
        row.update(
            count=int(count),
            denominator=int(denominator),
            measured_rate=measured,
            achievable_rate=achievable,
            tolerance=tol,
            within_tolerance=None if measured is None or achievable is None else abs(measured - achievable) <= tol,
        )
        row.setdefault("threshold_seconds", None)
        rows.append(row)
    return rows


def snapshot_summary(con: duckdb.DuckDBPyConnection, params: Params, data_dir: str | Path) -> str:
    """Markdown lines: the incident's held-back events, what an as_of extract left out, the increments."""
    lines = []
    if scenarios.incident_us(params):
        held, total = con.execute(
            f"SELECT count(*) FILTER (WHERE {scenarios.incident_sql(params)}), count(*) FROM qa.events"
        ).fetchall()[0]
        inc = params.scenarios.ingestion_incident
        lines.append(
            f"- **Ingestion incident**: {held:,} events ({100 * held / max(total, 1):.2f}% of all) happened "
            f"from {inc.start:%Y-%m-%d %H:%M} UTC for {inc.hours:g} h and were delivered together "
            f"{inc.backfill_delay_hours:g} h after it ended; all are late."
        )
    else:
        lines.append("- Ingestion incident: off.")
    as_of = params.snapshot.as_of
    if as_of is not None:
        later, first_day = con.execute(
            "SELECT count(*), min(event_at_utc)::DATE FROM truth.not_yet_arrived"
        ).fetchall()[0]
        published = con.execute("SELECT count(*) FROM raw.events").fetchall()[0][0]
        lines.append(
            f"- **as_of {as_of:%Y-%m-%d %H:%M} UTC**: {published:,} deliveries published; {later:,} "
            f"ingested later are left out and listed in `truth/not_yet_arrived.parquet`"
            + (f" (the earliest happened on {first_day})." if later else ".")
        )
    else:
        lines.append("- as_of: off (every delivery is published).")
    folder = Path(data_dir) / "events_increments"
    if params.snapshot.increments and folder.exists():
        days = sorted(p.name.split("=", 1)[1] for p in folder.glob("ingested_date=*"))
        lines.append(
            f"- **Daily increments**: {len(days)} folders `events_increments/ingested_date=YYYY-MM-DD/`, "
            f"{days[0]} .. {days[-1]}."
            if days
            else "- Daily increments: no events."
        )
    else:
        lines.append("- Daily increments: off.")
    return "\n".join(lines)
