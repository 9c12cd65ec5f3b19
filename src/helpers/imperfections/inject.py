"""Blanking values, delaying and re-sending events, one part at a time, from the untouched copies.

`plan` keeps the untouched tables in state/clean/ (once) and decides, over the whole dataset, the
chance that a value is blanked (each column ends at its target null share) and that an event is
late (the share of all events ends at its target); `apply_part` then rewrites one part of one table
into raw/, with its ledger rows. Draws come from each account's own stream, in key order, so they do
not depend on how accounts are split into parts.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import duck, io, scenarios
from ..params import Params
from ..schema import BLANKABLE_COLUMNS, IMPERFECT_TABLES, MOBILE_CLIENTS, SYNCHRONOUS_EVENTS, TABLES
from ..streams import AccountDraws
from ..units import DAY, US, to_us
from . import ledger, snapshot

# Stream keys: account_id * 16 + the table's number here (never reorder IMPERFECT_TABLES).
_TABLE_STREAM = {name: i for i, name in enumerate(IMPERFECT_TABLES, 1)}


@dataclass(frozen=True)
class MissingPlan:
    """How one blankable column reaches its target null share."""

    table: str
    column: str
    target: float
    rows: int
    natural_nulls: int
    protected: int  # non-null rows that must not be blanked (outliers measured on this column)
    probability: float  # chance that a blankable value of weight 1 is blanked: min(1, probability * weight)


@dataclass(frozen=True)
class Plan:
    """What 03 does to the whole dataset, decided once before the parts are worked."""

    missing: list[MissingPlan]
    late_probability: float  # chance that an eligible event (not synchronous, not held by the incident) is a straggler
    offline_probability: float  # chance that an eligible event of a phone is an offline sync (days late)
    work: list[tuple[str, int]]  # (table, part number) for every part of every table touched


def keep_clean_copy(data_dir: Path) -> None:
    """Move each touched table's parts to state/clean/ once; every run of 03 starts from there."""
    for name in IMPERFECT_TABLES:
        src, dst = io.table_dir(data_dir, name), io.clean_dir(data_dir, name)
        if not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            src.rename(dst)
        shutil.rmtree(src, ignore_errors=True)
        src.mkdir(parents=True)


HABIT_WEIGHT = 1000.0  # a value of a team with the habit: blanked before any other (up to the target)


def missing_weight_sql(params: Params, table: str, column: str) -> str:
    """Why values of a column go missing: a SQL expression over its table's row, how many times more
    likely that row's value is blanked than the rest (1.0 everywhere: at random). A team's habit is a
    fixed share of accounts picked by DuckDB's hash of (account_id, seed)."""
    causes = params.imperfections.missing_causes
    if (table, column) == ("accounts", "country_code"):
        return f"CASE WHEN plan_tier = 'free' THEN {float(causes.country_code_free_plan)} ELSE 1.0 END"
    if (table, column) == ("users", "timezone"):
        return f"CASE WHEN activated_at IS NULL THEN {float(causes.timezone_never_signed_in)} ELSE 1.0 END"
    if (table, column) == ("tasks", "due_at") and causes.due_at_teams_without_dates > 0:
        habit = f"hash(account_id, {params.seed}) % 1000000 < {round(causes.due_at_teams_without_dates * 1e6)}"
        return f"CASE WHEN {habit} THEN {HABIT_WEIGHT} ELSE 1.0 END"
    if (table, column) == ("tasks", "assignee_user_id") and causes.assignee_per_year_of_age > 0:
        end = params.window.end + dt.timedelta(days=1)
        weeks_old = f"date_diff('day', created_at, DATE '{end.isoformat()}') // 7"  # whole weeks: few kinds
        return f"1.0 + {float(causes.assignee_per_year_of_age)} * {weeks_old} / 52.0"
    return "1.0"


def scale_for(weights: np.ndarray, counts: np.ndarray, want: float) -> float:
    """The s with sum(counts * min(1, s * weights)) == want (weights > 0): the chance of a weight-1 value,
    so that the heaviest values are blanked first when there is no room for the rest (capped at 1)."""
    if want <= 0 or not counts.sum():
        return 0.0
    order = np.argsort(-weights, kind="stable")
    w, n = weights[order], counts[order].astype(float)
    saturated = 0.0
    for k in range(len(w)):  # the k heaviest classes are blanked whole; the rest in proportion to weight
        s = (want - saturated) / float((n[k:] * w[k:]).sum())
        if s * w[k] <= 1.0:
            return max(s, 0.0)
        saturated += n[k]
    return 1.0 / float(w.min())


def plan_missing(params: Params, data_dir: Path, con: duckdb.DuckDBPyConnection) -> list[MissingPlan]:
    """For each blankable column: rows, natural nulls, and the blanking probability that brings the
    column's null share to its target (natural nulls included; never below the natural share), values
    of a heavier weight (missing_weight_sql) blanked that many times more often."""
    far_due = params.imperfections.outliers.far_due_threshold_days
    plans = []
    for table, column in BLANKABLE_COLUMNS:
        protect = f"due_at > created_at + INTERVAL ({far_due * 86400}) SECOND" if column == "due_at" else "false"
        classes = con.execute(
            f"SELECT {missing_weight_sql(params, table, column)} AS w, count(*), count(*) - count({column}), "
            f"count(*) FILTER (WHERE {protect}), count(*) FILTER (WHERE {column} IS NOT NULL AND NOT ({protect})) "
            f"FROM {duck.parts(con, io.clean_dir(data_dir, table))} GROUP BY w ORDER BY w"
        ).fetchall()
        rows, nulls, protected = (sum(c[i] for c in classes) for i in (1, 2, 3))
        target = getattr(params.imperfections.missing, f"{table}_{column}")
        weights = np.array([c[0] for c in classes], dtype=float)
        blankable = np.array([c[4] for c in classes], dtype=float)
        want = target * rows - nulls
        p = scale_for(weights, blankable, min(want, blankable.sum()))
        plans.append(MissingPlan(table, column, target, rows, nulls, protected, p))
    return plans


def late_probabilities(params: Params, data_dir: Path, con: duckdb.DuckDBPyConnection) -> tuple[float, float]:
    """(the chance that an eligible event is a straggler, the chance that an eligible phone's event is an
    offline sync), so that late events are the target share of all events and offline syncs
    1 - straggler_share of them. Only phones go offline; synchronous events are never late, and the
    incident's held-back events are late already."""
    events = duck.parts(con, io.clean_dir(data_dir, "events"))
    eligible = (
        f"NOT list_contains(getvariable('synchronous_events'), event_name) AND NOT {scenarios.incident_sql(params)}"
    )
    phone = "list_contains(getvariable('mobile_clients'), client::VARCHAR)"
    n_events, n_held, pool, phones = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {scenarios.incident_sql(params)}), "
        f"count(*) FILTER (WHERE {eligible}), count(*) FILTER (WHERE {eligible} AND {phone}) FROM {events}"
    ).fetchall()[0]
    late = params.imperfections.late_arrival
    want = max(late.share * n_events - n_held, 0.0)
    offline = min((1.0 - late.straggler_share) * want / phones, 1.0) if phones else 0.0
    synced = offline * phones
    straggler = min(max((want - synced) / (pool - synced), 0.0), 1.0) if pool > synced else 0.0
    return straggler, offline


def plan(params: Params, data_dir: str | Path) -> Plan:
    """Keep the untouched tables in state/clean/ and decide the probabilities from them (DuckDB over
    the parts); what an earlier run of 03 left is removed."""
    data_dir = Path(data_dir)
    keep_clean_copy(data_dir)
    con = duck.connect(params=params)
    try:
        missing, (late, offline) = plan_missing(params, data_dir, con), late_probabilities(params, data_dir, con)
    finally:
        con.close()
    ledger.forget(data_dir)
    snapshot.forget(data_dir)
    work = [
        (name, io.part_number(path)) for name in IMPERFECT_TABLES for path in io.parts(io.clean_dir(data_dir, name))
    ]
    return Plan(missing, late, offline, work)


# --------------------------------------------------------------------------- one part
@dataclass(frozen=True)
class PartDraws:
    """The random numbers of one part, one per row (in the part's row order)."""

    blank_u: dict[str, np.ndarray]  # per blankable column of the table
    late_u: np.ndarray | None = None  # events only
    offline_u: np.ndarray | None = None  # an offline sync if a phone's and below the plan's offline chance
    retry_delay_us: np.ndarray | None = None  # ingestion delay if late: beyond the threshold (hours)
    offline_delay_us: np.ndarray | None = None  # (days)
    resend_u: np.ndarray | None = None
    resend_delay_us: np.ndarray | None = None  # a re-sent delivery's lag after the first


def _draws(params: Params, name: str, part: pa.Table, plans: list[MissingPlan]) -> PartDraws:
    """Each account draws from its own stream, rows in key order (so parts never matter), vectorised."""
    acct = part.column("account_id").to_numpy()
    order = np.lexsort((part.column(TABLES[name].primary_key).to_numpy(), acct))
    accounts, counts = np.unique(acct, return_counts=True)
    draws = AccountDraws(params.seed, "imperfections", accounts * 16 + _TABLE_STREAM[name])

    def in_row_order(values: np.ndarray) -> np.ndarray:
        out = np.empty(len(values), dtype=values.dtype)
        out[order] = values
        return out

    blank_u = {p.column: in_row_order(draws.random(counts)) for p in plans if p.table == name}
    if name != "events":
        return PartDraws(blank_u)
    late = params.imperfections.late_arrival
    late_u = draws.random(counts)
    offline_u = draws.random(counts)
    hours = draws.lognormal(late.straggler_delay_hours.median * 3600 * US, late.straggler_delay_hours.sigma, counts)
    days = draws.lognormal(late.offline_delay_days.median * DAY, late.offline_delay_days.sigma, counts)
    # beyond the threshold by at least a second: a late event is unambiguously late
    beyond = late.threshold_seconds * US + US
    resend_u = draws.random(counts)
    resend_delay = to_us(draws.uniform(1.0, 600.0, counts) * US)  # the pipeline re-sends within minutes
    columns = (late_u, offline_u, beyond + to_us(hours), beyond + to_us(days), resend_u, resend_delay)
    return PartDraws(blank_u, *(in_row_order(x) for x in columns))


class _Edit:
    """A part being changed column by column, collecting the ledger rows of each change."""

    def __init__(self, name: str, part: pa.Table) -> None:
        self.name, self.table, self.ledgers = name, part, []
        self.keys = part.column(TABLES[name].primary_key)

    def replace(self, column: str, changed: np.ndarray, new_values: pa.Array, kind: str) -> None:
        """Where `changed`, `column` takes `new_values` (a ledger row each; a blanked value has no new value)."""
        idx = pa.array(np.flatnonzero(changed))
        old = self.table.column(column)
        new = None if kind == "missing" else new_values.take(idx)
        self.ledgers.append(ledger.rows(self.name, self.keys.take(idx), kind, column, old.take(idx), new))
        position = self.table.column_names.index(column)
        self.table = self.table.set_column(position, column, pc.if_else(pa.array(changed), new_values, old))


def _weights(params: Params, table: pa.Table, name: str, column: str) -> np.ndarray | float:
    """Each row's missing_weight_sql (DuckDB over the part), or 1.0 for a column blanked at random."""
    sql = missing_weight_sql(params, name, column)
    if sql == "1.0":
        return 1.0
    con = duckdb.connect()
    try:
        con.register("part", table)
        return con.execute(f"SELECT ({sql})::DOUBLE AS w FROM part").fetchnumpy()["w"]
    finally:
        con.close()


def _blank(edit: _Edit, plan: MissingPlan, u: np.ndarray, params: Params) -> None:
    """Blank values of one column with the plan's probability times each row's weight; far-future due
    dates are outliers and stay, so both rates remain measurable."""
    col = edit.table.column(plan.column)
    chance = np.minimum(plan.probability * _weights(params, edit.table, edit.name, plan.column), 1.0)
    blank = (u < chance) & pc.is_valid(col).to_numpy(zero_copy_only=False)
    if plan.column == "due_at":
        due = pc.cast(col, pa.int64()).fill_null(-1).to_numpy()
        created = pc.cast(edit.table.column("created_at"), pa.int64()).to_numpy()
        blank &= ~(due - created > params.imperfections.outliers.far_due_threshold_days * DAY)
    if blank.any():
        edit.replace(plan.column, blank, pa.nulls(len(blank), col.type), "missing")


def _delay(edit: _Edit, params: Params, draws: PartDraws, straggler_probability: float, offline_probability: float):
    """Late arrivals, delayed past the threshold: a phone's events go offline and sync days later (with
    offline_probability), any eligible event may be a retrying client hours late (straggler_probability);
    the incident's events are held back and delivered together after it, each with its own latency."""
    names = pc.cast(edit.table.column("event_name"), pa.string()).to_numpy(zero_copy_only=False)
    client = pc.cast(edit.table.column("client"), pa.string()).to_numpy(zero_copy_only=False)
    event_at = pc.cast(edit.table.column("event_at_utc"), pa.int64()).to_numpy()
    eligible = ~np.isin(names, SYNCHRONOUS_EVENTS)
    incident = scenarios.incident_us(params)
    held = (event_at >= incident[0]) & (event_at < incident[1]) if incident else np.zeros(len(event_at), bool)
    offline = eligible & ~held & np.isin(client, MOBILE_CLIENTS) & (draws.offline_u < offline_probability)
    straggler = eligible & ~held & ~offline & (draws.late_u < straggler_probability)
    ingested = event_at + np.where(offline, draws.offline_delay_us, draws.retry_delay_us)
    if incident:
        latency = pc.cast(edit.table.column("ingested_at_utc"), pa.int64()).to_numpy() - event_at
        ingested = np.where(held, incident[2] + latency, ingested)
    late = offline | straggler | held
    if late.any():
        edit.replace("ingested_at_utc", late, pa.array(ingested, pa.timestamp("us")), "late_arrival")


def _resend(edit: _Edit, params: Params, draws: PartDraws) -> None:
    """Re-sent deliveries: the same row, same event_id, received again a little later. The ledger row
    names column event_id (the repeated key), with the first and the re-sent ingested_at_utc."""
    resent = np.flatnonzero(draws.resend_u < params.imperfections.duplicates.share)
    if not len(resent):
        return
    copies = edit.table.take(pa.array(resent))
    first = copies.column("ingested_at_utc")
    again = pa.array(pc.cast(first, pa.int64()).to_numpy() + draws.resend_delay_us[resent], pa.timestamp("us"))
    copies = copies.set_column(copies.column_names.index("ingested_at_utc"), "ingested_at_utc", again)
    edit.ledgers.append(ledger.rows(edit.name, copies.column("event_id"), "duplicate", "event_id", first, again))
    table = pa.concat_tables([edit.table, copies.cast(edit.table.schema)])
    order = np.argsort(pc.cast(table.column("event_at_utc"), pa.int64()).to_numpy(), kind="stable")
    edit.table = table.take(pa.array(order))


def imperfect(
    params: Params,
    name: str,
    part: pa.Table,
    plans: list[MissingPlan],
    straggler_probability: float,
    offline_probability: float = 0.0,
) -> _Edit:
    """One part of one table with its values blanked and, for events, delayed and re-sent."""
    edit = _Edit(name, part)
    if part.num_rows == 0:
        return edit
    draws = _draws(params, name, part, plans)
    for p in plans:
        if p.table == name:
            _blank(edit, p, draws.blank_u[p.column], params)
    if name == "events":
        _delay(edit, params, draws, straggler_probability, offline_probability)
        _resend(edit, params, draws)
    return edit


def apply_part(params: Params, data_dir: Path, name: str, part: int, plan: Plan, write=io.write_part) -> int:
    """One part of one table, from its clean copy, written to raw/ (events: only what the as_of cut
    publishes; the rest to the not-yet-arrived parts); its ledger rows to the ledger parts. Returns the
    ledger rows."""
    data_dir = Path(data_dir)
    schema = TABLES[name].arrow_schema
    clean = io.read_parts_file(io.part_path(io.clean_dir(data_dir, name), part))
    edit = imperfect(params, name, clean, plan.missing, plan.late_probability, plan.offline_probability)
    out = edit.table
    if name == "events":
        out, later = snapshot.cut_at_as_of(params, out)
        if later.num_rows:
            write(later.cast(schema), snapshot.not_yet_arrived_parts_dir(data_dir), part)
    write(out.cast(schema), io.table_dir(data_dir, name), part)
    rows = pa.concat_tables(edit.ledgers) if edit.ledgers else ledger.LEDGER_SCHEMA.empty_table()
    if rows.num_rows:
        write(rows.cast(ledger.LEDGER_SCHEMA), ledger.parts_dir(data_dir) / name, part)
    return rows.num_rows
