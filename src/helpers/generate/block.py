"""A block of accounts simulated together: users, sessions, projects and every task's timeline, then the
table columns derived from them.

`simulate_block` is a pure function of (params, plan, accounts), vectorised over the accounts of the
block; every account draws only from its own streams (streams.AccountDraws), so any block size or
schedule gives the same rows. The tables are derived from the simulated timeline, so the lifecycle
rules hold by construction:
- users are invited after the account exists and act only inside their sessions (after activation,
  before churn); projects and tasks are created inside a session of an activated user of the account;
- a task moves todo -> in_progress -> (blocked <-> in_progress) -> done | cancelled, each step by the
  user holding it, at that user's next session (generate.tasks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ..params import Params
from ..schema import ROLES
from ..units import window_us
from . import vocab
from .accounts import AccountPlan, Block
from .arrays import chunk_ranges
from .projects import Projects, archive_times, place_projects
from .sessions import Sessions
from .tasks import INTERNAL_TASK_BURST, PRIORITY_TEXT, STATUS_TEXT, TITLE_TEXT, Timeline, simulate_tasks
from .users import GUEST, NONE, Users, simulate_users, user_sessions

# users simulated together at most (session arrays are users x days; keys must fit in int64)
CHUNK_USERS = 4096
ROLE_NAMES = np.array(ROLES, dtype=object)
TABLES = ("users", "user_latent", "sessions", "projects", "tasks", "timeline")


@dataclass
class AccountSim:
    """Everything simulated for a block of accounts, as table columns (name -> numpy or Arrow array) in
    account order, user indices resolved to ids: the published tables users, projects, tasks, and the
    state later steps read (user_latent, sessions, timeline)."""

    users: dict
    user_latent: dict
    sessions: dict
    projects: dict
    tasks: dict
    timeline: dict


def simulate_block(params: Params, plan: AccountPlan, accounts: range) -> AccountSim:
    """Simulate consecutive accounts (indices, account_id = index + 1), vectorised over them; each
    account draws from its own streams, so the rows do not depend on which accounts share a block.
    Blocks of more than CHUNK_USERS users are simulated in pieces."""
    pieces = [
        _simulate_chunk(params, plan, range(accounts.start + lo, accounts.start + hi))
        for lo, hi in chunk_ranges(plan.n_users[accounts.start : accounts.stop], CHUNK_USERS)
    ]
    if len(pieces) == 1:
        return pieces[0]
    return AccountSim(*(_concat([getattr(p, name) for p in pieces]) for name in TABLES))


def simulate_account(params: Params, plan: AccountPlan, a: int) -> AccountSim:
    """Simulate account index a (account_id a + 1) alone."""
    return simulate_block(params, plan, range(a, a + 1))


def _concat(tables: list[dict]) -> dict:
    def join(parts):
        return pa.concat_arrays(parts) if isinstance(parts[0], pa.Array) else np.concatenate(parts)

    return {k: join([t[k] for t in tables]) for k in tables[0]}


def creation_rate(params: Params, users: Users) -> np.ndarray:
    """Per user: how many tasks a session creates, relative to tasks.created_per_session (guests drop
    by; engaged users create more; internal workspaces create in scripted bursts; a scripted sandbox's
    session creates imperfections.test_workspaces.tasks_per_script_run on average)."""
    rate = np.where(users.role == GUEST, params.users.guest_engagement_factor, 1.0) * np.sqrt(users.engagement)
    per_session = params.tasks.created_per_session
    script = params.imperfections.test_workspaces.tasks_per_script_run / per_session if per_session > 0 else 0.0
    return np.where(users.internal, INTERNAL_TASK_BURST, np.where(users.scripted, script, rate))


def _simulate_chunk(params: Params, plan: AccountPlan, accounts: range) -> AccountSim:
    w0, w1 = window_us(params.span)
    block = Block.of(plan, accounts)
    users = simulate_users(params, plan, block, w1)
    ses = user_sessions(params, block, users, w0, w1)
    projects = place_projects(params, plan, block, ses)
    timeline = simulate_tasks(params, plan, block, ses, projects, creation_rate(params, users))
    archived_at = archive_times(params, block, projects, timeline.project, timeline.closed, timeline.closed_at, w1)
    ids = _Ids(block, users)
    return AccountSim(
        users=_users_table(ids, users),
        user_latent=_user_latent(ids, users),
        sessions=_sessions_state(ids, ses),
        projects=_projects_table(ids, projects, archived_at),
        tasks=_tasks_table(ids, projects, timeline),
        timeline=_timeline_state(ids, projects, timeline),
    )


class _Ids:
    """Block-local indices to published ids: users (NONE stays NONE) and accounts."""

    def __init__(self, block: Block, users: Users) -> None:
        self.account_id = block.accounts + 1
        self.user_id = users.user_id
        self.user_account = self.account_id[block.user_acct]

    def user(self, local: np.ndarray) -> np.ndarray:
        return np.where(local >= 0, self.user_id[np.maximum(local, 0)], NONE)


def _users_table(ids: _Ids, users: Users) -> dict:
    return dict(
        user_id=users.user_id,
        account_id=ids.user_account,
        full_name=users.full_name,
        email=users.email,
        role=ROLE_NAMES[users.role],
        timezone=np.array(vocab.TIMEZONES, dtype=object)[users.tz],
        created_at=users.created,
        activated_at=users.activated,
        deactivated_at=users.deactivated,
        is_internal=users.internal.copy(),
    )


def _user_latent(ids: _Ids, users: Users) -> dict:
    """What the simulation knows of each user and the tables do not say (for the truth and the tests)."""
    return dict(
        user_id=users.user_id,
        account_id=ids.user_account,
        engagement=users.engagement,
        workday_active_prob=users.active_prob,
        early_churner=users.early,
        churn_at=np.where(users.churn == np.iinfo(np.int64).max, NONE, users.churn),  # -1: never activated or stays
    )


def _sessions_state(ids: _Ids, ses: Sessions) -> dict:
    return dict(
        account_id=ids.account_id[ses.account],
        user_id=ids.user_id[ses.user],
        session_start=ses.start,
        session_end=ses.end,
        client=ses.client,
    )


def _projects_table(ids: _Ids, projects: Projects, archived_at: np.ndarray) -> dict:
    return dict(
        project_id=projects.project_id,
        account_id=ids.account_id[projects.acct],
        owner_user_id=ids.user_id[projects.owner],
        project_name=projects.name,
        created_at=projects.created,
        archived_at=archived_at,
    )


def _tasks_table(ids: _Ids, projects: Projects, tl: Timeline) -> dict:
    return dict(
        task_id=tl.task_id,
        account_id=ids.account_id[tl.acct],
        project_id=projects.project_id[tl.project],
        created_by_user_id=ids.user_id[tl.creator],
        assignee_user_id=ids.user(tl.holder),
        title=TITLE_TEXT.take(pa.array(tl.title)),
        priority=PRIORITY_TEXT.take(pa.array(tl.priority)),
        status=STATUS_TEXT.take(pa.array(tl.status)),
        created_at=tl.created,
        first_started_at=tl.started_at,
        completed_at=tl.done_at,
        due_at=tl.due,
    )


def _handoff_columns(ids: _Ids, tl: Timeline) -> dict:
    """handoff_at, handoff_from_id, handoff_to_id for the first hand-off; handoff2_*, handoff3_* next."""
    out = {}
    for k, h in enumerate(tl.handoffs, start=1):
        name = "handoff" if k == 1 else f"handoff{k}"
        out |= {f"{name}_at": h.at, f"{name}_from_id": ids.user(h.giver), f"{name}_to_id": ids.user(h.receiver)}
    return out


def _timeline_state(ids: _Ids, projects: Projects, tl: Timeline) -> dict:
    """Every task's steps: who did what when (state/timeline: the events and the answer keys read it)."""
    return dict(
        task_id=tl.task_id,
        account_id=ids.account_id[tl.acct],
        project_id=projects.project_id[tl.project],
        created_at=tl.created,
        creator_id=ids.user_id[tl.creator],
        assigned_at=tl.assigned_at,
        assignee_id=ids.user(tl.assignee),
        reassigned_at=tl.reassigned_at,
        reassignee_id=ids.user(tl.reassignee),
        started_at=tl.started_at,
        started_by_id=ids.user(tl.starter),
        blocker1_added_at=tl.blocker1.added,
        blocker1_resolved_at=tl.blocker1.resolved,
        blocker1_by_id=ids.user(tl.blocker1.by),
        **_handoff_columns(ids, tl),
        blocker2_added_at=tl.blocker2.added,
        blocker2_resolved_at=tl.blocker2.resolved,
        blocker2_by_id=ids.user(tl.blocker2.by),
        done_at=tl.done_at,
        done_by_id=ids.user(tl.finisher),
        cancelled_at=tl.cancelled_at,
        cancelled_from=tl.cancelled_from,
        cancelled_by_id=ids.user(tl.cancelled_by),
        planted_long_cycle=tl.planted_long_cycle,
        original_done_at=tl.original_done_at,
        planted_far_due=tl.planted_far_due,
        original_due_at=tl.original_due,
    )
