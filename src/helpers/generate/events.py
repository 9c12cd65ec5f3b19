"""The event stream of one account, derived from its simulated state (sessions, projects, timeline).

Rules guaranteed here (each also checked by SQL in helpers.checks):
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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..params import Params
from ..schema import EVENT_NAMES, EVENTS, STATUSES
from ..streams import AccountDraws, poisson_from_u
from ..units import DAY, US, window_us
from .arrays import chunk_ranges, group_rank, stable_order
from .block import CHUNK_USERS
from .sessions import Sessions, intraday_from_u, moment

CODE = {name: i for i, name in enumerate(EVENT_NAMES)}
EVENT_ID_STRIDE = 1_000_000_000
NONE = -1


class _Builder:
    """Collects event columns piece by piece (each piece covers every account of the block), then
    concatenates once."""

    def __init__(self) -> None:
        self.parts: list[tuple] = []

    def add(self, name, acct, user, t, project=None, task=None, prop_kind=0, prop_a=None, prop_b=None):
        n = len(t)
        if n == 0:
            return
        none = np.full(n, NONE, dtype=np.int64)
        self.parts.append(
            (
                np.asarray(acct, np.int64),
                np.full(n, CODE[name], dtype=np.int8),
                np.asarray(user, np.int64),
                np.asarray(t, np.int64),
                none if project is None else np.asarray(project, np.int64),
                none if task is None else np.asarray(task, np.int64),
                np.full(n, prop_kind, dtype=np.int8),
                none if prop_a is None else np.asarray(prop_a, np.int64),
                none if prop_b is None else np.asarray(prop_b, np.int64),
            )
        )

    def columns(self):
        if not self.parts:
            z = np.zeros(0, np.int64)
            return z, np.zeros(0, np.int8), z, z, z, z, np.zeros(0, np.int8), z, z
        return tuple(np.concatenate(c) for c in zip(*self.parts))


# property kinds: how `properties` is rendered
P_NONE, P_STATUS, P_HANDOFF, P_ASSIGNEE, P_BLOCKER = range(5)
STATUS_NAMES = np.array(STATUSES, dtype=object)


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
    w0, _ = window_us(params.window)
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
    """block_events for accounts with at most CHUNK_USERS users, first_user_id, first_user_id + 1, ..."""
    a0 = accounts.start
    n_acc = len(accounts)
    D = AccountDraws(params.seed, "events", np.arange(a0, accounts.stop) + 1)
    w0, w1 = window_us(params.window)
    act = params.activity
    s_acct = sessions["account_id"] - 1 - a0
    ses = Sessions(
        sessions["user_id"] - first_user_id, sessions["session_start"], sessions["session_end"], w0, s_acct, n_acc
    )
    s_counts = np.bincount(s_acct, minlength=n_acc)
    b = _Builder()

    # --- session events: a login when a session opens (always on the first), dashboard views inside
    n_s = len(ses)
    S = D.random(s_counts, cols=3)  # per session: login?, login offset, number of dashboard views
    first_of_user = np.r_[True, ses.user[1:] != ses.user[:-1]] if n_s else np.zeros(0, bool)
    login = first_of_user | (S[:, 0] < act.login_share_of_sessions)
    length = ses.end - ses.start
    login_t = ses.start + np.minimum(np.floor(30.0 * S[:, 1] * US).astype(np.int64), length - 1)
    b.add("login_succeeded", s_acct[login], ses.user[login] + first_user_id, login_t[login])
    views = poisson_from_u(act.dashboard_views_per_session, S[:, 2])
    vs = np.repeat(np.arange(n_s), views)
    v_acct = s_acct[vs]
    start, end = ses.start[vs], ses.end[vs]
    view_t = moment(D, start, end, np.bincount(v_acct, minlength=n_acc))
    b.add("dashboard_viewed", v_acct, ses.user[vs] + first_user_id, view_t)

    # --- projects
    b.add(
        "project_created",
        projects["account_id"] - 1 - a0,
        projects["owner_user_id"],
        projects["created_at"],
        project=projects["project_id"],
    )

    # --- task lifecycle events, straight from the timeline
    tl = timeline
    task, project = tl["task_id"], tl["project_id"]
    t_acct = tl["account_id"] - 1 - a0
    t_counts = np.bincount(t_acct, minlength=n_acc)

    def at(mask, name, user, t, **kw):
        sel = np.nonzero(mask)[0]
        extra = {k: (v[sel] if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
        b.add(name, t_acct[sel], user[sel], t[sel], project=project[sel], task=task[sel], **extra)

    holder_after = np.where(tl["handoff_to_id"] >= 0, tl["handoff_to_id"], tl["assignee_id"])
    at(np.ones(len(task), bool), "task_created", tl["creator_id"], tl["created_at"])
    at(
        tl["assigned_at"] >= 0,
        "task_assigned",
        tl["creator_id"],
        tl["assigned_at"],
        prop_kind=P_ASSIGNEE,
        prop_a=tl["assignee_id"],
    )
    at(
        tl["started_at"] >= 0,
        "task_status_changed",
        tl["assignee_id"],
        tl["started_at"],
        prop_kind=P_STATUS,
        prop_a=np.zeros(len(task), np.int64),
        prop_b=np.ones(len(task), np.int64),
    )
    blocker1, blocker2 = task * 10 + 1, task * 10 + 2
    at(
        tl["blocker1_added_at"] >= 0,
        "blocker_added",
        tl["assignee_id"],
        tl["blocker1_added_at"],
        prop_kind=P_BLOCKER,
        prop_a=blocker1,
    )
    at(
        tl["blocker1_resolved_at"] >= 0,
        "blocker_resolved",
        tl["assignee_id"],
        tl["blocker1_resolved_at"],
        prop_kind=P_BLOCKER,
        prop_a=blocker1,
    )
    at(
        tl["handoff_at"] >= 0,
        "handoff_completed",
        tl["handoff_from_id"],
        tl["handoff_at"],
        prop_kind=P_HANDOFF,
        prop_a=tl["handoff_from_id"],
        prop_b=tl["handoff_to_id"],
    )
    at(
        tl["blocker2_added_at"] >= 0,
        "blocker_added",
        holder_after,
        tl["blocker2_added_at"],
        prop_kind=P_BLOCKER,
        prop_a=blocker2,
    )
    at(
        tl["blocker2_resolved_at"] >= 0,
        "blocker_resolved",
        holder_after,
        tl["blocker2_resolved_at"],
        prop_kind=P_BLOCKER,
        prop_a=blocker2,
    )
    at(tl["done_at"] >= 0, "task_completed", tl["done_by_id"], tl["done_at"])
    at(
        tl["cancelled_at"] >= 0,
        "task_status_changed",
        tl["cancelled_by_id"],
        tl["cancelled_at"],
        prop_kind=P_STATUS,
        prop_a=tl["cancelled_from"],
        prop_b=np.full(len(task), 4, np.int64),
    )

    # --- work notes while a task is in progress, by whoever holds it, in their sessions
    started = tl["started_at"] >= 0
    end = np.where(tl["done_at"] >= 0, tl["done_at"], np.where(tl["cancelled_at"] >= 0, tl["cancelled_at"], w1))
    span = np.where(started, end - tl["started_at"], 0)
    n_notes = np.minimum(D.poisson(params.tasks.work_notes_per_day * span / DAY, t_counts), params.tasks.max_work_notes)
    ni = np.repeat(np.arange(len(task)), n_notes)
    n_acct = t_acct[ni]
    N = D.random(np.bincount(n_acct, minlength=n_acc), cols=2)  # per note: when it is due, where in the session
    nominal = tl["started_at"][ni] + np.floor(N[:, 0] * span[ni]).astype(np.int64)
    after_handoff = (tl["handoff_at"][ni] >= 0) & (nominal >= tl["handoff_at"][ni])
    writer = np.where(after_handoff, tl["handoff_to_id"][ni], tl["assignee_id"][ni])
    note_t = ses.snap(writer - first_user_id, nominal, where=intraday_from_u(N[:, 1]))
    # a note is written while its writer holds the task: the first holder's notes stop at the hand-off
    holds_until = np.where(after_handoff | (tl["handoff_at"][ni] < 0), end[ni], tl["handoff_at"][ni])
    ok = (note_t >= 0) & (note_t < holds_until)
    b.add("work_note_added", n_acct[ok], writer[ok], note_t[ok], project=project[ni][ok], task=task[ni][ok])

    acct, code, user, t, proj_col, task_col, pkind, pa_, pb_ = b.columns()

    # --- order by time, then account, then generation order (the part's row order); ids number each
    # account's events in that order, and each account draws its latencies in that order
    order = stable_order(t, acct, n_acc, w0)
    acct, code, user, t, proj_col, task_col, pkind, pa_, pb_ = (
        x[order] for x in (acct, code, user, t, proj_col, task_col, pkind, pa_, pb_)
    )
    by_account = np.argsort(acct.astype(np.int16) if n_acc <= 1 << 15 else acct, kind="stable")
    counts = np.bincount(acct, minlength=n_acc)
    if counts.max(initial=0) >= EVENT_ID_STRIDE:
        raise ValueError(f"account {a0 + 1 + int(np.argmax(counts))} has more than {EVENT_ID_STRIDE - 1} events")
    account_id = acct + a0 + 1
    event_id = np.empty(len(t), dtype=np.int64)
    event_id[by_account] = account_id[by_account] * EVENT_ID_STRIDE + 1 + group_rank(acct[by_account])
    lat = params.ingestion
    latency = np.empty(len(t))
    latency[by_account] = np.minimum(
        D.lognormal(lat.latency_seconds.median, lat.latency_seconds.sigma, counts), lat.max_latency_seconds
    )
    ingested = t + np.floor(latency * US).astype(np.int64)
    return dict(
        event_id=event_id,
        account_id=account_id,
        user_id=user,
        code=code,
        event_at_utc=t,
        ingested_at_utc=ingested,
        project_id=proj_col,
        task_id=task_col,
        prop_kind=pkind,
        prop_a=pa_,
        prop_b=pb_,
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
