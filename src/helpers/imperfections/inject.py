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
from ..generate.events import SESSION_ID_STRIDE
from ..params import Params
from ..schema import (
    BEACON_EVENTS,
    BLANKABLE_COLUMNS,
    CONTENT_EVENTS,
    IMPERFECT_TABLES,
    MOBILE_CLIENTS,
    SLEEPING_CLIENTS,
    SYNCHRONOUS_EVENTS,
    TABLES,
)
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
    late: LatePlan
    work: list[tuple[str, int]]  # (table, part number) for every part of every table touched
    resend: float = 0.0  # chance that an event of weight 1 (duplicate_weight_sql) is delivered again


LATE_CAUSES = ("offline", "asleep", "retry")  # params imperfections.late_arrival.<cause>_share


@dataclass(frozen=True)
class LatePlan:
    """The chance that an eligible event (not synchronous, not held by the incident) of weight 1 is late,
    per cause; an event's cause is fixed by its client (late_cause_sql) and its weight by late_weight_sql."""

    offline: float = 0.0  # phones
    asleep: float = 0.0  # desktop
    retry: float = 0.0  # web


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


def _sql_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def late_cause_sql() -> str:
    """The cause that may delay an event, by its client: a phone goes offline, a desktop app sleeps with
    the laptop, a web client retries."""
    client = "client::VARCHAR"
    return (
        f"CASE WHEN list_contains({_sql_list(MOBILE_CLIENTS)}, {client}) THEN 'offline' "
        f"WHEN list_contains({_sql_list(SLEEPING_CLIENTS)}, {client}) THEN 'asleep' ELSE 'retry' END"
    )


def late_weight_sql(params: Params) -> str:
    """How many times more likely an event is late than a weight-1 event of its cause (a SQL expression
    over an event with its user's `timezone`): a phone's event outside the user's local weekday working
    hours (9-18: commutes, evenings, weekends, off wifi); a desktop event from 16:00 local on (the lid
    closes for the night with events still queued); a web event that uploads content (a larger request,
    timed out and retried) or an analytics beacon (fire-and-forget, seldom retried)."""
    late = params.imperfections.late_arrival
    local = "timezone(coalesce(timezone, 'UTC'), event_at_utc AT TIME ZONE 'UTC')"
    off_hours = f"(isodow({local}) > 5 OR hour({local}) < 9 OR hour({local}) >= 18)"
    name = "event_name::VARCHAR"
    return (
        f"CASE WHEN ({late_cause_sql()}) = 'offline' THEN "
        f"CASE WHEN {off_hours} THEN {float(late.offline_off_hours_weight)} ELSE 1.0 END "
        f"WHEN ({late_cause_sql()}) = 'asleep' THEN "
        f"CASE WHEN hour({local}) >= 16 THEN {float(late.asleep_end_of_day_weight)} ELSE 1.0 END "
        "ELSE "  # retry
        f"CASE WHEN list_contains({_sql_list(CONTENT_EVENTS)}, {name}) THEN {float(late.retry_content_weight)} "
        f"WHEN list_contains({_sql_list(BEACON_EVENTS)}, {name}) THEN {float(late.retry_beacon_weight)} "
        "ELSE 1.0 END END"
    )


def split_late(want: float, shares: dict[str, float], capacity: dict[str, float]) -> dict[str, float]:
    """Each cause's expected late events: `want` split by the shares; a cause with fewer events than its
    part takes them all and the others share the rest (by share, or by what they have left when their
    shares are 0), so the parts add up to min(want, all events)."""
    alloc = dict.fromkeys(shares, 0.0)
    left = min(want, sum(capacity.values()))
    open_ = [c for c in shares if capacity[c] > 0]
    while left > 1e-9 and open_:
        total = sum(shares[c] for c in open_)
        room = {c: capacity[c] - alloc[c] for c in open_}
        part = {c: left * (shares[c] / total if total > 0 else room[c] / sum(room.values())) for c in open_}
        full = [c for c in open_ if part[c] >= room[c]]
        if not full:
            for c in open_:
                alloc[c] += part[c]
            break
        for c in full:
            alloc[c], left = capacity[c], left - room[c]
            open_.remove(c)
    return alloc


def late_probabilities(params: Params, data_dir: Path, con: duckdb.DuckDBPyConnection) -> LatePlan:
    """Each cause's chance for a weight-1 event, so that late events are the target share of all events
    (the incident's held-back events count; synchronous events are never late) and each cause makes its
    share of the rest, its events' weights (late_weight_sql) as many times as likely (scale_for)."""
    events = duck.parts(con, io.clean_dir(data_dir, "events"))
    users = duck.parts(con, io.clean_dir(data_dir, "users"))
    held = scenarios.incident_sql(params)
    n_events, n_held = con.execute(f"SELECT count(*), count(*) FILTER (WHERE {held}) FROM {events}").fetchall()[0]
    classes = con.execute(
        f"SELECT {late_cause_sql()} AS cause, ({late_weight_sql(params)})::DOUBLE AS w, count(*) "
        f"FROM {events} LEFT JOIN (SELECT user_id, timezone FROM {users}) USING (user_id) "
        f"WHERE NOT list_contains(getvariable('synchronous_events'), event_name) AND NOT {held} GROUP BY ALL"
    ).fetchall()
    late = params.imperfections.late_arrival
    shares = {c: getattr(late, f"{c}_share") for c in LATE_CAUSES}
    capacity = {c: float(sum(n for cause, _, n in classes if cause == c)) for c in LATE_CAUSES}
    want = split_late(max(late.share * n_events - n_held, 0.0), shares, capacity)
    chance = {}
    for c in LATE_CAUSES:
        weights = np.array([w for cause, w, _ in classes if cause == c], dtype=float)
        counts = np.array([n for cause, _, n in classes if cause == c], dtype=float)
        chance[c] = scale_for(weights, counts, want[c]) if len(counts) else 0.0
    return LatePlan(**chance)


def duplicate_weight_sql(params: Params) -> str:
    """How many times more likely an event is re-sent than a web or desktop one: a phone's acknowledgement
    is lost on a flaky network more often, and its SDK re-sends the whole batch."""
    weight = float(params.imperfections.duplicates.mobile_weight)
    return f"CASE WHEN client::VARCHAR IN {_sql_list(MOBILE_CLIENTS)} THEN {weight} ELSE 1.0 END"


def resend_probability(params: Params, data_dir: Path, con: duckdb.DuckDBPyConnection) -> float:
    """The chance of a weight-1 event being re-sent, so that the expected re-sent deliveries are
    duplicates.share of all events (phones' weighted by duplicate_weight_sql)."""
    share = params.imperfections.duplicates.share
    if share <= 0:
        return 0.0
    classes = con.execute(
        f"SELECT {duplicate_weight_sql(params)} AS w, count(*) "
        f"FROM {duck.parts(con, io.clean_dir(data_dir, 'events'))} GROUP BY w ORDER BY w"
    ).fetchall()
    weights, counts = np.array([c[0] for c in classes], float), np.array([c[1] for c in classes], float)
    return scale_for(weights, counts, share * counts.sum())


def plan(params: Params, data_dir: str | Path) -> Plan:
    """Keep the untouched tables in state/clean/ and decide the probabilities from them (DuckDB over
    the parts); what an earlier run of 03 left is removed."""
    data_dir = Path(data_dir)
    keep_clean_copy(data_dir)
    con = duck.connect(params=params)
    try:
        missing, late = plan_missing(params, data_dir, con), late_probabilities(params, data_dir, con)
        resend = resend_probability(params, data_dir, con)
    finally:
        con.close()
    ledger.forget(data_dir)
    snapshot.forget(data_dir)
    work = [
        (name, io.part_number(path)) for name in IMPERFECT_TABLES for path in io.parts(io.clean_dir(data_dir, name))
    ]
    return Plan(missing, late, work, resend)


# --------------------------------------------------------------------------- one part
@dataclass(frozen=True)
class PartDraws:
    """The random numbers of one part, one per row (in the part's row order)."""

    blank_u: dict[str, np.ndarray]  # per blankable column of the table
    late_u: np.ndarray | None = None  # events only: late if below its cause's chance times its weight
    retry_delay_us: np.ndarray | None = None  # ingestion delay if late by a retry: beyond the threshold (hours)
    offline_delay_us: np.ndarray | None = None  # by an offline phone (days)
    asleep_delay_us: np.ndarray | None = None  # by a desktop app asleep, if the user opens it no later (hours)
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
    retry = draws.lognormal(late.retry_delay_hours.median * 3600 * US, late.retry_delay_hours.sigma, counts)
    days = draws.lognormal(late.offline_delay_days.median * DAY, late.offline_delay_days.sigma, counts)
    asleep = draws.lognormal(late.asleep_delay_hours.median * 3600 * US, late.asleep_delay_hours.sigma, counts)
    # beyond the threshold by at least a second: a late event is unambiguously late
    beyond = late.threshold_seconds * US + US
    resend_u = draws.random(counts)
    resend_delay = to_us(draws.uniform(1.0, 600.0, counts) * US)  # the pipeline re-sends within minutes
    columns = (late_u, beyond + to_us(retry), beyond + to_us(days), beyond + to_us(asleep), resend_u, resend_delay)
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
    return 1.0 if sql == "1.0" else row_weights(table, sql)


def row_weights(table: pa.Table, sql: str) -> np.ndarray:
    """A weight SQL expression evaluated on each row of a part (DuckDB over the Arrow table)."""
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


def _late_weights(params: Params, table: pa.Table, users: pa.Table | None) -> np.ndarray:
    """Each event's late_weight_sql (DuckDB over the part, with its user's time zone from `users`)."""
    tz = pa.nulls(table.num_rows, pa.string())
    if users is not None and users.num_rows:
        ids = users.column("user_id").to_numpy()
        order = np.argsort(ids, kind="stable")
        at = order[np.searchsorted(ids, table.column("user_id").to_numpy(), sorter=order).clip(0, len(ids) - 1)]
        tz = users.column("timezone").take(pa.array(at))
    cols = {c: table.column(c) for c in ("client", "event_name", "event_at_utc")}
    con = duckdb.connect()
    try:
        con.register("part", pa.table({**cols, "timezone": tz}))
        return con.execute(f"SELECT ({late_weight_sql(params)})::DOUBLE AS w FROM part").fetchnumpy()["w"]
    finally:
        con.close()


def wake_times(session_id: np.ndarray, event_at: np.ndarray, query_session: np.ndarray, due: np.ndarray) -> np.ndarray:
    """Given one client's events (session_id, event_at; a session is on one client), for each query (a
    session of that client and a moment `due`): when the same user's first session starting at or after
    `due` begins (its first event), -1 where there is none. Sorted searches, no loop."""
    out = np.full(len(query_session), -1, np.int64)
    if not len(query_session):
        return out
    order = np.lexsort((event_at, session_id))
    sid, at = session_id[order], event_at[order]
    first = np.r_[True, sid[1:] != sid[:-1]]
    starts, users = at[first], sid[first] // SESSION_ID_STRIDE  # sorted ids: a user's sessions in time order
    known, rank = np.unique(users, return_inverse=True)
    t0 = int(min(starts.min(), due.min()))
    keys = (rank.astype(np.int64) << 32) | ((starts - t0) // US)  # sorted: (user, start in whole seconds)
    query_rank = np.searchsorted(known, query_session // SESSION_ID_STRIDE).astype(np.int64)
    due_s = (due - t0 + US - 1) // US  # the first whole second at or after due
    at_key = np.searchsorted(keys, (query_rank << 32) | due_s)
    found = at_key < len(keys)
    found[found] &= rank[at_key[found]] == query_rank[found]
    out[found] = starts[at_key[found]]
    out[out < due] = -1  # a start within the second before due: no break long enough
    return out


def _delay(edit: _Edit, params: Params, draws: PartDraws, late: LatePlan, users: pa.Table | None = None):
    """Late arrivals, delayed past the threshold, by cause (fixed by the client): a phone goes offline and
    syncs days later, a desktop app asleep sends its queue when the user opens it again after a break of
    more than the threshold (the user's next such session on that client), a web client retries within
    hours; each with its cause's chance times the event's weight (late_weight_sql). The incident's events
    are held back and delivered together after it, each with its own latency."""
    names = pc.cast(edit.table.column("event_name"), pa.string()).to_numpy(zero_copy_only=False)
    client = pc.cast(edit.table.column("client"), pa.string()).to_numpy(zero_copy_only=False)
    event_at = pc.cast(edit.table.column("event_at_utc"), pa.int64()).to_numpy()
    latency = pc.cast(edit.table.column("ingested_at_utc"), pa.int64()).to_numpy() - event_at
    incident = scenarios.incident_us(params)
    held = (event_at >= incident[0]) & (event_at < incident[1]) if incident else np.zeros(len(event_at), bool)
    phone, asleep = np.isin(client, MOBILE_CLIENTS), np.isin(client, SLEEPING_CLIENTS)
    chance = np.where(phone, late.offline, np.where(asleep, late.asleep, late.retry))
    if chance.any():
        chance = np.minimum(chance * _late_weights(params, edit.table, users), 1.0)
    delayed = ~np.isin(names, SYNCHRONOUS_EVENTS) & ~held & (draws.late_u < chance)
    ingested = event_at + np.where(phone, draws.offline_delay_us, draws.retry_delay_us)
    sleeping = np.flatnonzero(delayed & asleep)
    if len(sleeping):
        session_id = edit.table.column("session_id").to_numpy()
        due = event_at[sleeping] + (params.imperfections.late_arrival.threshold_seconds + 1) * US
        wake = wake_times(session_id[asleep], event_at[asleep], session_id[sleeping], due)
        fallback = event_at[sleeping] + draws.asleep_delay_us[sleeping]
        ingested[sleeping] = np.where(wake >= 0, np.maximum(wake + latency[sleeping], due), fallback)
    if incident:
        ingested = np.where(held, incident[2] + latency, ingested)
    changed = delayed | held
    if changed.any():
        edit.replace("ingested_at_utc", changed, pa.array(ingested, pa.timestamp("us")), "late_arrival")


def _resend(edit: _Edit, params: Params, draws: PartDraws, probability: float) -> None:
    """Re-sent deliveries: the same row, same event_id, received again a little later, each event with
    the plan's chance times its duplicate_weight_sql. The ledger row names column event_id (the repeated
    key), with the first and the re-sent ingested_at_utc."""
    if probability <= 0:
        return
    chance = np.minimum(probability * row_weights(edit.table, duplicate_weight_sql(params)), 1.0)
    resent = np.flatnonzero(draws.resend_u < chance)
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
    late: LatePlan | None = None,
    users: pa.Table | None = None,
    resend: float = 0.0,
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
        _delay(edit, params, draws, late or LatePlan(), users)
        _resend(edit, params, draws, resend)
    return edit


@dataclass(frozen=True)
class PartDone:
    """What apply_part did to one part: its ledger rows, and the HashSums of the rows it published (taken
    while they are in memory, so the manifest's content hashes need not read the part again)."""

    ledger_rows: int
    hash_sums: io.HashSums


def apply_part(params: Params, data_dir: Path, name: str, part: int, plan: Plan, write=io.write_part) -> PartDone:
    """One part of one table, from its clean copy, written to raw/ (events: only what the as_of cut
    publishes; the rest to the not-yet-arrived parts); its ledger rows to the ledger parts."""
    data_dir = Path(data_dir)
    schema = TABLES[name].arrow_schema
    clean = io.read_parts_file(io.part_path(io.clean_dir(data_dir, name), part))
    users, users_part = None, io.part_path(io.clean_dir(data_dir, "users"), part)
    if name == "events" and users_part.exists():  # the same accounts' users: their time zones (a phone off hours)
        users = io.read_parts_file(users_part, columns=["user_id", "timezone"])
    edit = imperfect(params, name, clean, plan.missing, plan.late, users, plan.resend)
    out = edit.table
    if name == "events":
        out, later = snapshot.cut_at_as_of(params, out)
        if later.num_rows:
            write(later.cast(schema), snapshot.not_yet_arrived_parts_dir(data_dir), part)
    published = out.cast(schema)
    write(published, io.table_dir(data_dir, name), part)
    rows = pa.concat_tables(edit.ledgers) if edit.ledgers else ledger.LEDGER_SCHEMA.empty_table()
    if rows.num_rows:
        write(rows.cast(ledger.LEDGER_SCHEMA), ledger.parts_dir(data_dir) / name, part)
    return PartDone(rows.num_rows, io.arrow_hash_sums(published, TABLES[name]))
