"""The event stream of one account, derived from its simulated state (sessions, projects, timeline).

Rules guaranteed here (each also checked by SQL in helpers.quality.checks):
- every task has one task_created at its created_at; every done task one task_completed at its
  completed_at and no other task has one; the task_status_changed into in_progress is at
  first_started_at; each blocker_resolved follows its blocker_added (same blocker_id);
- every event is inside one of its user's sessions, so inside the window, after activation, before
  churn; ingested_at_utc = event_at_utc + a normal latency (seconds to minutes, below max_latency);
- event_id = account_id * 1e9 + rank of the event in its account (by time): ids do not depend on
  how accounts are split into blocks.
task_status_changed records only the moves with no event of their own (todo -> in_progress,
-> cancelled); moves into and out of blocked and into done are blocker_added, blocker_resolved and
task_completed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..params import Params
from ..schema import CLIENTS, EVENT_NAMES, EVENTS, STATUSES
from ..streams import AccountDraws, poisson_from_u
from ..units import DAY, US, window_us
from .arrays import chunk_ranges, group_rank, stable_order
from .block import CHUNK_USERS
from .sessions import Sessions, moment
from .worktime import from_work, to_work

CODE = {name: i for i, name in enumerate(EVENT_NAMES)}
EVENT_ID_STRIDE = 1_000_000_000
NONE = -1
# property kinds: how `properties` is rendered (to_arrow)
P_NONE, P_STATUS, P_HANDOFF, P_ASSIGNEE, P_BLOCKER = range(5)


@dataclass(frozen=True)
class EventColumns:
    """Events as integer columns (users are ids, times us, NONE for no project/task/property value);
    `properties` is rendered from (prop_kind, prop_a, prop_b) by to_arrow."""

    acct: np.ndarray  # block-local account
    code: np.ndarray  # index into schema.EVENT_NAMES
    user: np.ndarray
    t: np.ndarray
    project: np.ndarray
    task: np.ndarray
    prop_kind: np.ndarray
    prop_a: np.ndarray
    prop_b: np.ndarray

    def take(self, order: np.ndarray) -> EventColumns:
        return EventColumns(*(getattr(self, f.name)[order] for f in fields(self)))


class _Builder:
    """Collects event columns piece by piece (each piece covers every account of the block), then
    concatenates once."""

    def __init__(self) -> None:
        self.parts: list[EventColumns] = []

    def add(self, name, acct, user, t, project=None, task=None, prop_kind=0, prop_a=None, prop_b=None) -> None:
        n = len(t)
        if n == 0:
            return

        def ids(x):
            return np.full(n, NONE, dtype=np.int64) if x is None else np.asarray(x, np.int64)

        self.parts.append(
            EventColumns(
                np.asarray(acct, np.int64),
                np.full(n, CODE[name], dtype=np.int8),
                ids(user),
                ids(t),
                ids(project),
                ids(task),
                np.full(n, prop_kind, dtype=np.int8),
                ids(prop_a),
                ids(prop_b),
            )
        )

    def columns(self) -> EventColumns:
        if not self.parts:
            z = np.zeros(0, np.int64)
            return EventColumns(z, np.zeros(0, np.int8), z, z, z, z, np.zeros(0, np.int8), z, z)
        return EventColumns(*(np.concatenate([getattr(p, f.name) for p in self.parts]) for f in fields(EventColumns)))


def block_events(params: Params, accounts: range, users: dict, sessions: dict, projects: dict, timeline: dict) -> dict:
    """Events of consecutive accounts (indices; account_id = index + 1) as numpy columns, ordered by
    time (ties: by account), with ids and ingestion times (properties as integer codes, see to_arrow).

    `users` (user_id, account_id), `sessions`, `projects` and `timeline` hold those accounts' rows in
    account order. Each account draws from its own stream, so the block is worked in pieces of at
    most CHUNK_USERS users (the session search keys must fit in int64), merged in time order: the
    rows do not depend on the pieces.
    """
    a0 = accounts.start
    per_account = np.bincount(users["account_id"] - 1 - a0, minlength=len(accounts))
    pieces = []
    for lo, hi in chunk_ranges(per_account, CHUNK_USERS):
        ids = range(a0 + lo + 1, a0 + hi + 1)  # account ids of the piece
        part = [_rows_of(t, ids) for t in (users, sessions, projects, timeline)]
        first_user_id = int(part[0]["user_id"].min()) if len(part[0]["user_id"]) else 1
        pieces.append(_chunk_events(params, range(a0 + lo, a0 + hi), first_user_id, *part[1:]))
    if len(pieces) == 1:
        return pieces[0]
    w0, _ = window_us(params.span)
    cols = {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}
    order = stable_order(cols["event_at_utc"], cols["account_id"] - a0 - 1, len(accounts), w0)
    return {k: v[order] for k, v in cols.items()}


def _rows_of(cols: dict, account_ids: range) -> dict:
    """The rows of a table (in account order) whose account_id is in the range: a slice, no scan."""
    lo, hi = np.searchsorted(cols["account_id"], [account_ids.start, account_ids.stop], side="left")
    return {k: v[lo:hi] for k, v in cols.items()}


def _chunk_events(
    params: Params, accounts: range, first_user_id: int, sessions: dict, projects: dict, timeline: dict
) -> dict:
    """block_events for accounts with at most CHUNK_USERS users, first_user_id, first_user_id + 1, ...
    Each account draws from its own stream, in this order: sessions, views, notes, latencies."""
    a0, n_acc = accounts.start, len(accounts)
    draws = AccountDraws(params.seed, "events", np.arange(a0, accounts.stop) + 1)
    w0, w1 = window_us(params.span)
    s_acct = sessions["account_id"] - 1 - a0
    ses = Sessions(
        sessions["user_id"] - first_user_id,
        sessions["session_start"],
        sessions["session_end"],
        w0,
        s_acct,
        n_acc,
        sessions["client"],
    )
    cut, _ = window_us(params.window)  # the extract: only what happens inside the window is an event
    builder = _Builder()
    _session_events(builder, params, draws, ses, first_user_id, cut)
    builder.add(
        "project_created",
        projects["account_id"] - 1 - a0,
        projects["owner_user_id"],
        projects["created_at"],
        project=projects["project_id"],
    )
    t_acct = timeline["account_id"] - 1 - a0
    _task_events(builder, timeline, t_acct)
    _work_notes(builder, params, draws, ses, timeline, t_acct, first_user_id, w1, cut)
    ev = builder.columns()
    if cut > w0:
        ev = ev.take(np.nonzero(ev.t >= cut)[0])
    cols = _numbered(params, draws, ev, a0, n_acc, w0)
    return cols | _session_columns(ses, cols["user_id"] - first_user_id, cols["event_at_utc"], first_user_id)


SESSION_ID_STRIDE = 100_000  # session_id = user_id * 1e5 + n: ids do not depend on block scheduling


def _session_columns(ses: Sessions, user: np.ndarray, t: np.ndarray, first_user_id: int) -> dict:
    """Each event's session (every event happens inside one of its user's sessions, by construction)
    and that session's client."""
    idx = ses.next_session(user, t)
    if len(idx) and ((idx < 0).any() or (ses.start[np.maximum(idx, 0)] > t).any()):
        raise AssertionError("an event outside its user's sessions: a generator bug")
    rank = group_rank(ses.user)  # sessions are sorted by (user, start)
    if len(rank) and rank.max() >= SESSION_ID_STRIDE - 1:
        raise ValueError(f"a user has more than {SESSION_ID_STRIDE - 1} sessions")
    return dict(
        session_id=(ses.user[idx] + first_user_id) * SESSION_ID_STRIDE + 1 + rank[idx],
        client=ses.client[idx].astype(np.int8),
    )


def _session_events(
    b: _Builder, params: Params, draws: AccountDraws, ses: Sessions, first_user_id: int, cut: int
) -> None:
    """A login opens a session (always a user's first; later login_share_of_sessions of them, as SSO
    sessions persist): it is the session's first event, at its start; dashboard views at moments inside
    sessions. Only sessions that end at or after `cut` (the window's start) are drawn."""
    act = params.activity
    first_of_user = np.r_[True, ses.user[1:] != ses.user[:-1]] if len(ses) else np.zeros(0, bool)
    live = np.nonzero(ses.end >= cut)[0]
    user, start, end, s_acct, n_acc = ses.user[live], ses.start[live], ses.end[live], ses.account[live], ses.n_accounts
    per_session = draws.random(np.bincount(s_acct, minlength=n_acc), cols=2)  # login?, views
    login = first_of_user[live] | (per_session[:, 0] < act.login_share_of_sessions)
    b.add("login_succeeded", s_acct[login], user[login] + first_user_id, start[login])
    views = np.repeat(np.arange(len(live)), poisson_from_u(act.dashboard_views_per_session, per_session[:, 1]))
    view_t = moment(draws, start[views], end[views], np.bincount(s_acct[views], minlength=n_acc))
    b.add("dashboard_viewed", s_acct[views], user[views] + first_user_id, view_t)


# Each step of the timeline that is an event: (event, time column, actor, properties (kind, a, b)), in
# the order the steps happen; properties name timeline columns or the constants below.
_TODO_CODE, _IN_PROGRESS_CODE, _CANCELLED_CODE = (STATUSES.index(s) for s in ("todo", "in_progress", "cancelled"))
_TASK_STEPS = (
    ("task_created", "created_at", "creator_id", (P_NONE, None, None)),
    ("task_assigned", "assigned_at", "creator_id", (P_ASSIGNEE, "assignee_id", None)),
    ("task_assigned", "reassigned_at", "creator_id", (P_ASSIGNEE, "reassignee_id", None)),
    ("task_status_changed", "started_at", "started_by_id", (P_STATUS, _TODO_CODE, _IN_PROGRESS_CODE)),
    ("blocker_added", "blocker1_added_at", "blocker1_by_id", (P_BLOCKER, "blocker1", None)),
    ("blocker_resolved", "blocker1_resolved_at", "blocker1_by_id", (P_BLOCKER, "blocker1", None)),
    ("handoff_completed", "handoff_at", "handoff_from_id", (P_HANDOFF, "handoff_from_id", "handoff_to_id")),
    ("blocker_added", "blocker2_added_at", "blocker2_by_id", (P_BLOCKER, "blocker2", None)),
    ("blocker_resolved", "blocker2_resolved_at", "blocker2_by_id", (P_BLOCKER, "blocker2", None)),
    ("handoff_completed", "handoff2_at", "handoff2_from_id", (P_HANDOFF, "handoff2_from_id", "handoff2_to_id")),
    ("handoff_completed", "handoff3_at", "handoff3_from_id", (P_HANDOFF, "handoff3_from_id", "handoff3_to_id")),
    ("task_completed", "done_at", "done_by_id", (P_NONE, None, None)),
    ("task_status_changed", "cancelled_at", "cancelled_by_id", (P_STATUS, "cancelled_from", _CANCELLED_CODE)),
)
# the hand-offs of the timeline, in time order: (time, giver, receiver)
_HANDOFFS = tuple((f"handoff{k}_at", f"handoff{k}_from_id", f"handoff{k}_to_id") for k in ("", "2", "3"))


def _task_events(b: _Builder, timeline: dict, t_acct: np.ndarray) -> None:
    """One event per step of the timeline that happened, by the step's actor, with its properties."""
    task = timeline["task_id"]
    cols = dict(timeline, blocker1=task * 10 + 1, blocker2=task * 10 + 2)

    def value(x, rows):
        return None if x is None else (cols[x][rows] if isinstance(x, str) else np.full(len(rows), x, np.int64))

    for name, at, actor, (kind, prop_a, prop_b) in _TASK_STEPS:
        rows = np.nonzero(cols[at] >= 0)[0]
        b.add(
            name,
            t_acct[rows],
            cols[actor][rows],
            cols[at][rows],
            project=timeline["project_id"][rows],
            task=task[rows],
            prop_kind=kind,
            prop_a=value(prop_a, rows),
            prop_b=value(prop_b, rows),
        )


def _work_notes(
    b: _Builder,
    params: Params,
    draws: AccountDraws,
    ses: Sessions,
    tl: dict,
    t_acct: np.ndarray,
    first_user_id: int,
    w1: int,
    cut: int,
) -> None:
    """Notes while a task is in progress, Poisson(expected_notes) per task, each at a random moment of
    working time in progress (weekends do not count), by whoever holds the task at that moment, in
    their next session (anywhere in it); a holder's notes stop at their hand-off. Only tasks still in
    progress at `cut` (the window's start) or later are drawn."""
    end = np.where(tl["done_at"] >= 0, tl["done_at"], np.where(tl["cancelled_at"] >= 0, tl["cancelled_at"], w1))
    live = np.nonzero(end >= cut)[0]
    if len(live) < len(end):
        tl, t_acct, end = {k: v[live] for k, v in tl.items()}, t_acct[live], end[live]
    started = tl["started_at"] >= 0
    span = np.where(started, end - tl["started_at"], 0)
    n_acc = ses.n_accounts
    n_notes = draws.poisson(expected_notes(params, span), np.bincount(t_acct, minlength=n_acc))
    ni = np.repeat(np.arange(len(span)), n_notes)
    per_note = draws.random(np.bincount(t_acct[ni], minlength=n_acc), cols=2)  # when it is due, where in the session
    w_start = to_work(tl["started_at"][ni])
    nominal = from_work(w_start + np.floor(per_note[:, 0] * (to_work(end[ni]) - w_start)).astype(np.int64))
    writer, holds_until = tl["started_by_id"][ni], end[ni].copy()
    for at, _, to in _HANDOFFS:  # the holder at the nominal moment, and until when they hold the task
        h_at = tl[at][ni]
        holds_until = np.where((h_at >= 0) & (h_at > nominal) & (h_at < holds_until), h_at, holds_until)
        writer = np.where((h_at >= 0) & (nominal >= h_at), tl[to][ni], writer)
    note_t = ses.snap(writer - first_user_id, nominal, where=per_note[:, 1])
    ok = (note_t >= 0) & (note_t < holds_until)
    b.add(
        "work_note_added",
        t_acct[ni][ok],
        writer[ok],
        note_t[ok],
        project=tl["project_id"][ni][ok],
        task=tl["task_id"][ni][ok],
    )


def expected_notes(params: Params, span: np.ndarray) -> np.ndarray:
    """Expected work notes of a task in progress for `span` us: work_notes_per_day per day at first,
    saturating at work_notes_soft_cap on long tasks (cap x (1 - exp(-rate x days / cap))): long tasks
    get more notes, never a pile-up at a cap."""
    t = params.tasks
    if t.work_notes_soft_cap <= 0:
        return np.zeros(len(span))
    return t.work_notes_soft_cap * -np.expm1(-t.work_notes_per_day * (span / DAY) / t.work_notes_soft_cap)


def _numbered(params: Params, draws: AccountDraws, ev: EventColumns, a0: int, n_acc: int, w0: int) -> dict:
    """Order by time, then account, then generation order; ids number each account's events in that
    order (account_id * 1e9 + rank), and each account draws its ingestion latencies in that order."""
    ev = ev.take(stable_order(ev.t, ev.acct, n_acc, w0))
    by_account = np.argsort(ev.acct.astype(np.int16) if n_acc <= 1 << 15 else ev.acct, kind="stable")
    counts = np.bincount(ev.acct, minlength=n_acc)
    if counts.max(initial=0) >= EVENT_ID_STRIDE:
        raise ValueError(f"account {a0 + 1 + int(np.argmax(counts))} has more than {EVENT_ID_STRIDE - 1} events")
    account_id = ev.acct + a0 + 1
    event_id = np.empty(len(ev.t), dtype=np.int64)
    event_id[by_account] = account_id[by_account] * EVENT_ID_STRIDE + 1 + group_rank(ev.acct[by_account])
    lat = params.ingestion
    latency = np.empty(len(ev.t))
    latency[by_account] = np.minimum(
        draws.lognormal(lat.latency_seconds.median, lat.latency_seconds.sigma, counts), lat.max_latency_seconds
    )
    return dict(
        event_id=event_id,
        account_id=account_id,
        user_id=ev.user,
        code=ev.code,
        event_at_utc=ev.t,
        ingested_at_utc=ev.t + np.floor(latency * US).astype(np.int64),
        project_id=ev.project,
        task_id=ev.task,
        prop_kind=ev.prop_kind,
        prop_a=ev.prop_a,
        prop_b=ev.prop_b,
    )


# JSON text of each property kind: prefix, first value, middle, second value, suffix
_TEMPLATE = {
    P_NONE: ("", "", ""),
    P_STATUS: ('{"from_status": "', '", "to_status": "', '"}'),
    P_HANDOFF: ('{"from_user_id": ', ', "to_user_id": ', "}"),
    P_ASSIGNEE: ('{"assignee_user_id": ', "", "}"),
    P_BLOCKER: ('{"blocker_id": ', "", "}"),
}
_PREFIX, _MIDDLE, _SUFFIX = (pa.array([_TEMPLATE[k][i] for k in range(5)], pa.string()) for i in range(3))
_STATUS_TEXT = pa.array(STATUSES, pa.string())
CLIENT_TEXT = pa.array(CLIENTS, pa.string())


def _json_props(kind: np.ndarray, a: np.ndarray, b: np.ndarray) -> pa.Array:
    """Render the properties JSON text column from (kind, a, b) integer columns, vectorised.

    The text of the rows that have properties is joined in row order from per-kind templates; the
    column (null elsewhere) is then assembled from its buffers, with no per-row scatter."""
    n = len(kind)
    rows = np.flatnonzero(kind != P_NONE)
    if len(rows) == 0:
        return pa.nulls(n, pa.string())
    k = pa.array(kind[rows].astype(np.int32))
    ka, kb = a[rows], b[rows]
    status = pa.array(kind[rows] == P_STATUS)
    second = pa.array(kind[rows] == P_HANDOFF)
    first_text = pc.if_else(status, _STATUS_TEXT.take(pa.array(np.clip(ka, 0, 4))), pc.cast(pa.array(ka), pa.string()))
    second_text = pc.if_else(
        status,
        _STATUS_TEXT.take(pa.array(np.clip(kb, 0, 4))),
        pc.if_else(second, pc.cast(pa.array(kb), pa.string()), pa.scalar("", pa.string())),
    )
    text = pc.binary_join_element_wise(_PREFIX.take(k), first_text, _MIDDLE.take(k), second_text, _SUFFIX.take(k), "")
    text_offsets = np.frombuffer(text.buffers()[1], dtype=np.int32, count=len(text) + 1, offset=4 * text.offset)
    offsets = np.zeros(n + 1, dtype=np.int32)
    offsets[rows + 1] = np.diff(text_offsets)
    np.cumsum(offsets, out=offsets)
    offsets += text_offsets[0]
    valid = np.packbits(kind != P_NONE, bitorder="little")
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), text.buffers()[2], pa.py_buffer(valid), null_count=n - len(rows)
    )


def to_arrow(cols: dict) -> pa.Table:
    """Events columns -> Arrow table with the published schema (event_name as a dictionary)."""
    n = len(cols["event_id"])
    names = pa.DictionaryArray.from_arrays(pa.array(cols["code"], pa.int8()), pa.array(EVENT_NAMES, pa.string()))

    def nullable_id(x):
        return pa.array(x, pa.int64(), mask=(x < 0))

    table = pa.table(
        {
            "event_id": pa.array(cols["event_id"], pa.int64()),
            "account_id": pa.array(cols["account_id"], pa.int64()),
            "user_id": pa.array(cols["user_id"], pa.int64()),
            "session_id": pa.array(cols["session_id"], pa.int64()),
            "client": pa.DictionaryArray.from_arrays(pa.array(cols["client"], pa.int8()), CLIENT_TEXT),
            "event_name": names,
            "event_at_utc": pa.array(cols["event_at_utc"], pa.timestamp("us")),
            "ingested_at_utc": pa.array(cols["ingested_at_utc"], pa.timestamp("us")),
            "project_id": nullable_id(cols["project_id"]),
            "task_id": nullable_id(cols["task_id"]),
            "properties": _json_props(cols["prop_kind"], cols["prop_a"], cols["prop_b"])
            if n
            else pa.array([], pa.string()),
        }
    )
    return table.cast(EVENTS.arrow_schema)
