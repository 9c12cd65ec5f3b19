"""Tasks of a block of accounts: created as people work, then walked through their lifecycle.

A task moves todo -> in_progress -> (blocked <-> in_progress) -> done | cancelled, each step by the
user holding it, at that user's next session after the step's nominal time (sessions.snap); a step
with no session left (the holder churned, the window ended) never happens and the task keeps its
last status. Nominal times are a working-time duration after the previous step (generate.worktime:
weekends do not count), and a step that waits for a session lands anywhere in it (uniformly), so
cycle times are continuous and the weekend's work is not piled onto Monday. Every task draws one row
of uniforms and one of normals up front (one named column per decision), so whether a step happens
never shifts another step's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .. import scenarios
from ..params import Params
from ..schema import PRIORITIES, STATUSES
from ..streams import AccountDraws, DrawColumns, choice_from_u
from ..units import DAY, HOUR, MINUTE, to_us
from . import vocab
from .accounts import AccountPlan, Block
from .arrays import group_rank, order_by
from .outliers import plant_far_due_dates, plant_long_cycles
from .projects import Projects
from .sessions import Sessions, moment
from .worktime import advance

NONE = -1  # "not reached" / "no user"
TASK_ID_STRIDE = 10_000_000  # task_id = account_id * 1e7 + n: ids do not depend on block scheduling
# the codes of the statuses a step leads to (indices into schema.STATUSES)
TODO = STATUSES.index("todo")
IN_PROGRESS = STATUSES.index("in_progress")
BLOCKED = STATUSES.index("blocked")
DONE = STATUSES.index("done")
CANCELLED = STATUSES.index("cancelled")
# Internal/test workspaces behave like scripts: bursts of tasks closed within minutes.
INTERNAL_TASK_BURST = 3.0  # x tasks.created_per_session
INTERNAL_SPEED = 0.02  # x every nominal task duration
SCRIPT_RUN = 5 * MINUTE  # a scripted sandbox's session creates its tasks within its last 5 minutes
MAX_HANDOFFS = 3  # hand-offs a task's timeline holds: a first, a second (repeat_handoff_prob), rarely a third
# A project fills up: its r-th offered task is created with probability 1 / (1 + (r / capacity)^FILL_EDGE),
# a soft edge (no project stops at a round number) that leaves projects well below capacity untouched.
FILL_EDGE = 6.0

TITLE_POOL = np.array([f"{v} {o}" for v in vocab.TASK_VERBS for o in vocab.TASK_OBJECTS], dtype=object)
# text columns of many rows are built in Arrow from codes (no Python string objects per task)
TITLE_TEXT = pa.array(TITLE_POOL, pa.string())
PRIORITY_TEXT = pa.array(PRIORITIES, pa.string())
STATUS_TEXT = pa.array(STATUSES, pa.string())

UNIFORMS = (
    "priority",
    "title",
    "has_due",
    "assigned",
    "self_assigned",
    "never_started",
    "blocked",
    "blocked_twice",
    "handoff1",
    "handoff2",
    "handoff3",
    "cancelled",
    "backlog_cancel",
    "assign_later",
    "reassigned",
    "parked",
    "colleague_assign",
    "colleague_reassign",
    "colleague_handoff1",
    "colleague_handoff2",
    "colleague_handoff3",
    "at_assigned",
    "at_reassigned",
    "at_started",
    "at_blocker1_added",
    "at_blocker1_resolved",
    "at_handoff1",
    "at_blocker2_added",
    "at_blocker2_resolved",
    "at_handoff2",
    "at_handoff3",
    "at_finished",
    "at_backlog_cancelled",
)
NORMALS = ("due_in", "cycle", "to_start", "blocker1", "blocker2", "backlog_wait", "assign_delay", "parked_for")


# --------------------------------------------------------------------------- creation
@dataclass(frozen=True)
class Creations:
    """When, by whom and in which project each task is created (ordered by time within each account)."""

    created: np.ndarray
    creator: np.ndarray  # block-local user index
    project: np.ndarray  # index into the block's projects


def task_creations(
    params: Params, block: Block, ses: Sessions, projects: Projects, create_rate: np.ndarray, draws: AccountDraws
) -> Creations:
    """Work follows activity: each session creates Poisson(tasks.created_per_session x the user's
    creation factor) tasks at random moments of the session, each into a project of the account that
    already exists (the newest project half the time, else any live one). A project fills up softly
    (_fill_up: never more than tasks_per_project.max, and no two projects stop at one round number)
    and gets at least tasks_per_project.min: missing ones are created in random sessions from the
    project's creation on. Task ids follow time."""
    session, t, project = _in_sessions(params, block, ses, projects, create_rate, draws)
    order = order_by(project, t, ses.origin)  # each project's offered tasks in time order
    keep = order[_fill_up(params, block, projects, project[order], draws)]
    top_session, top_t, top_project = _top_up(params, block, ses, projects, project[keep], draws)
    session, t, project = (
        np.concatenate(x) for x in ((session[keep], top_session), (t[keep], top_t), (project[keep], top_project))
    )
    by_project = np.argsort(project, kind="stable")  # ties by project
    order = by_project[order_by(projects.acct[project[by_project]], t[by_project], ses.origin)]
    return Creations(t[order], ses.user_sorted[session[order]], project[order])


def _in_sessions(
    params: Params, block: Block, ses: Sessions, projects: Projects, create_rate: np.ndarray, draws: AccountDraws
):
    """(session, time, project) of the tasks created as people work (before the per-project cap)."""
    per_session = draws.poisson(
        params.tasks.created_per_session * create_rate[ses.user_sorted] * ses.intensity_sorted,
        ses.account_hi - ses.account_lo,
    )
    k = np.repeat(np.arange(len(ses)), per_session)
    ka = ses.account_sorted[k]
    counts = np.bincount(ka, minlength=len(block))
    start, end = ses.start_sorted[k], ses.end_sorted[k]
    t = _script_runs(block.scripted[ka], moment(draws, start, end, counts), start, end)
    p_order = order_by(projects.acct, projects.created, ses.origin)
    p_key = ses.start_key(projects.acct[p_order], projects.created[p_order])
    p_lo = np.searchsorted(projects.acct[p_order], np.arange(len(block)), side="left")
    live = np.searchsorted(p_key, ses.start_key(ka, t), side="left") - p_lo[ka]  # projects created strictly before t
    newest = draws.random(counts) < 0.5
    pick = np.where(newest, live - 1, np.floor(draws.random(counts) * np.maximum(live, 1)).astype(np.int64))
    ok = live > 0
    project = p_order[np.minimum(p_lo[ka[ok]] + np.maximum(pick[ok], 0), max(len(projects) - 1, 0))]
    return k[ok], t[ok], project


def _script_runs(scripted: np.ndarray, t: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """A scripted sandbox's session creates its tasks in one run in its last SCRIPT_RUN (after its project
    exists: a session's first project comes in its first 30%): the moments squeezed towards the session's end,
    in the same order; other sessions' moments as they are."""
    squeeze = np.minimum(1.0, SCRIPT_RUN / np.maximum(end - start, 1))
    return np.where(scripted, end - np.ceil((end - t) * squeeze).astype(np.int64), t)


def _fill_up(params: Params, block: Block, projects: Projects, project: np.ndarray, draws: AccountDraws) -> np.ndarray:
    """Which offered tasks (grouped by project, in time order) are created: a project fills up.

    Each project has its own capacity, tasks_per_project.max x tasks.project_soft_cap_share x U(0.7, 1);
    its r-th offered task is created with probability 1 / (1 + (r / capacity)^FILL_EDGE), so a busy
    project slows down around its capacity instead of stopping at a cap, and the few that get there
    end at different counts. tasks_per_project.max stays a hard bound (rarely reached)."""
    tpp, n_acc = params.tasks_per_project, len(block)
    capacity = (
        tpp.max * params.tasks.project_soft_cap_share * (0.7 + 0.3 * draws.random(_per_account(projects.acct, n_acc)))
    )
    rank = group_rank(project)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(capacity[project] > 0, rank / np.maximum(capacity[project], 1e-9), np.inf)
    offered = draws.random(_per_account(projects.acct[project], n_acc))
    keep = offered * (1.0 + np.minimum(ratio, 1e6) ** FILL_EDGE) < 1.0
    created_before = np.cumsum(keep) - keep  # kept rows before this one, all projects
    first = np.r_[True, project[1:] != project[:-1]] if len(project) else np.zeros(0, bool)
    kept_rank = created_before - np.maximum.accumulate(np.where(first, created_before, 0))
    return keep & (kept_rank < tpp.max)


def _per_account(acct: np.ndarray, n_acc: int) -> np.ndarray:
    """Rows per account of the block (rows grouped by account): the counts of per-row draws."""
    return np.bincount(acct, minlength=n_acc)


def _top_up(
    params: Params, block: Block, ses: Sessions, projects: Projects, kept_project: np.ndarray, draws: AccountDraws
):
    """(session, time, project) of the tasks that bring projects below tasks_per_project.min up to
    min plus a few (Poisson(2), so counts do not pile up at exactly min), in random sessions of the
    account from the project's creation on."""
    tpp, n_acc = params.tasks_per_project, len(block)
    have = np.bincount(kept_project, minlength=len(projects))
    target = np.minimum(tpp.min + draws.poisson(2.0, np.bincount(projects.acct, minlength=n_acc)), tpp.max)
    need = np.where(have < tpp.min, np.maximum(target - have, 0), 0)
    project = np.repeat(np.arange(len(projects)), need)
    acct = projects.acct[project]
    counts = np.bincount(acct, minlength=n_acc)
    p_created = projects.created[project]
    lo = np.searchsorted(ses.sorted_key, ses.start_key(acct, p_created), side="right")
    j = np.floor(draws.random(counts) * (ses.account_hi[acct] - lo + 1)).astype(np.int64)
    session = np.where(j == 0, projects.session[project], lo + j - 1)
    start, end = np.maximum(ses.start_sorted[session], p_created + 1), ses.end_sorted[session]
    t = np.minimum(
        start + np.floor(draws.random(counts) * np.maximum(end - start, 0)).astype(np.int64), np.maximum(end - 1, start)
    )
    return session, t, project


# --------------------------------------------------------------------------- what each task would do
@dataclass(frozen=True)
class Intentions:
    """Each task's draws turned into what it would do if every step were reached (durations in us of
    working time, see generate.worktime)."""

    priority: np.ndarray  # index into schema.PRIORITIES
    title: np.ndarray  # index into TITLE_POOL
    due: np.ndarray  # NONE without a due date
    assigned: np.ndarray
    self_assigned: np.ndarray
    reassigned: np.ndarray  # reassigned to another colleague before work starts
    never_started: np.ndarray
    blockers: np.ndarray  # 0, 1 or 2
    handoff_prob: np.ndarray  # the chance of a first hand-off, for a holder who hands work off
    cancelled: np.ndarray
    backlog_cancel: np.ndarray
    assign_delay: np.ndarray
    to_start: np.ndarray
    cycle: np.ndarray  # nominal work time
    parked: np.ndarray  # extra wait of a parked (stalled) task before it is finished; 0 if not parked
    blocker_lengths: np.ndarray  # (n, 2)
    backlog_wait: np.ndarray


def intentions(
    params: Params,
    block: Block,
    acct: np.ndarray,
    created: np.ndarray,
    adopted_at: np.ndarray,
    u: DrawColumns,
    z: DrawColumns,
) -> Intentions:
    """What each task would do; `adopted_at` is when each account adopted the launched feature."""
    p = params.tasks

    def lognormal(name: str, median: float, sigma: float) -> np.ndarray:
        return median * np.exp(sigma * z[name])

    priority = choice_from_u(u.priority, [getattr(p.priority_weights, x) for x in PRIORITIES])
    due = ((created + to_us(lognormal("due_in", p.due_in_days.median, p.due_in_days.sigma) * DAY)) // DAY + 1) * DAY
    blockers = np.where(u.blocked < p.blocker_prob, np.where(u.blocked_twice < p.second_blocker_prob, 2, 1), 0)
    cycle = lognormal("cycle", p.cycle_time_days.median * DAY, p.cycle_time_days.sigma)
    cycle = cycle * np.array(vocab.PRIORITY_CYCLE_FACTOR)[priority]  # urgent work moves faster
    to_start = lognormal("to_start", p.time_to_start_hours.median * HOUR, p.time_to_start_hours.sigma)
    blocked_for = p.blocker_duration_hours
    lengths = np.stack([lognormal(f"blocker{i}", blocked_for.median * HOUR, blocked_for.sigma) for i in (1, 2)], axis=1)
    parked = np.where(
        u.parked < p.parked_share, lognormal("parked_for", p.parked_days.median * DAY, p.parked_days.sigma), 0
    )
    speed = np.where(block.internal[acct] | block.scripted[acct], INTERNAL_SPEED, 1.0)  # scripts: minutes, not days
    return Intentions(
        priority=priority,
        title=np.floor(u.title * len(TITLE_POOL)).astype(np.int64),
        due=np.where(u.has_due < p.due_date_share, due, NONE),
        assigned=u.assigned < p.assigned_share,
        self_assigned=u.self_assigned < p.self_assigned_share,
        reassigned=u.reassigned < p.reassigned_share,
        never_started=u.never_started < p.never_started_share,
        blockers=blockers,
        handoff_prob=scenarios.handoff_probability(params, adopted_at[acct], created),
        cancelled=u.cancelled < p.cancelled_share,
        backlog_cancel=u.backlog_cancel < p.backlog_cancelled_share,
        assign_delay=_assign_delay(p, u, z, speed),
        to_start=to_start * speed,
        cycle=cycle * speed,
        parked=parked * speed,
        blocker_lengths=lengths * speed[:, None],
        backlog_wait=lognormal("backlog_wait", 14.0 * DAY, 1.0),
    )


def _assign_delay(p, u: DrawColumns, z: DrawColumns, speed: np.ndarray) -> np.ndarray:
    """Creation -> assignment: most tasks are assigned within minutes of being written (lognormal
    tasks.assign_delay_minutes); tasks.assign_later_share wait for a later triage, hours to days later
    (lognormal tasks.assign_later_hours, of working time). The same normal draw serves both, so the
    share moves tasks between the two without changing anyone's rank."""
    now, later = p.assign_delay_minutes, p.assign_later_hours
    soon = now.median * MINUTE * np.exp(now.sigma * z.assign_delay)
    triage = later.median * HOUR * np.exp(later.sigma * z.assign_delay)
    return to_us(np.where(u.assign_later < p.assign_later_share, triage, soon) * speed)


# --------------------------------------------------------------------------- the walk
class _Walk:
    """The steps of the tasks of a block, each at its actor's next session (block-local users)."""

    def __init__(self, ses: Sessions, acct: np.ndarray, u: DrawColumns) -> None:
        self.ses, self.acct, self.u, self.n = ses, acct, u, len(acct)

    def step(self, active: np.ndarray, actor: np.ndarray, since: np.ndarray, wait, name: str):
        """(time, reached): where `active`, the actor's first session moment at or after `wait` of
        working time after `since` (anywhere in a session it waits for: draw at_<name>); NONE
        elsewhere, or where no session is left."""
        rows = np.flatnonzero(active)
        wait_us = np.maximum(np.broadcast_to(to_us(wait), (self.n,))[rows], 1)  # each step after the one before
        nominal = advance(since[rows], wait_us)
        t = np.full(self.n, NONE, dtype=np.int64)
        t[rows] = self.ses.snap(actor[rows], nominal, where=self.u["at_" + name][rows])
        return t, t >= 0

    def colleague(self, active: np.ndarray, after: np.ndarray, exclude: np.ndarray, name: str) -> np.ndarray:
        """Where `active`: another user of the account who is around in the week after `after`."""
        rows = np.flatnonzero(active)
        out = np.full(self.n, NONE, dtype=np.int64)
        out[rows] = self.ses.other_user_near(
            after[rows], exclude[rows], 7 * DAY, account=self.acct[rows], u=self.u["colleague_" + name][rows]
        )
        return out


@dataclass
class _Progress:
    """Where each started task is: still going, who holds it, when its last step happened."""

    go: np.ndarray
    holder: np.ndarray
    last: np.ndarray


@dataclass(frozen=True)
class Blocker:
    added: np.ndarray
    resolved: np.ndarray
    by: np.ndarray  # who held the task (and so added and resolved it); NONE if never added


@dataclass(frozen=True)
class Handoff:
    at: np.ndarray
    giver: np.ndarray
    receiver: np.ndarray


def _blocker(walk: _Walk, progress: _Progress, want: np.ndarray, offset, duration, which: int) -> Blocker:
    """Blocked by the holder after `offset`, resolved after `duration`; a step not reached stalls the task."""
    added, reached = walk.step(want, progress.holder, progress.last, offset, f"blocker{which}_added")
    progress.go &= ~want | reached
    progress.last = np.where(reached, added, progress.last)
    resolved, unblocked = walk.step(reached, progress.holder, progress.last, duration, f"blocker{which}_resolved")
    progress.go &= ~reached | unblocked
    progress.last = np.where(unblocked, resolved, progress.last)
    return Blocker(added, resolved, np.where(reached, progress.holder, NONE))


def _handoff(walk: _Walk, progress: _Progress, want: np.ndarray, offset, k: int) -> Handoff:
    """The holder passes the task to a colleague who is around in the next week; the receiver holds it."""
    at, reached = walk.step(progress.go & want, progress.holder, progress.last, offset, f"handoff{k}")
    receiver = walk.colleague(reached, at, progress.holder, f"handoff{k}")
    done = reached & (receiver >= 0)
    handoff = Handoff(np.where(done, at, NONE), np.where(done, progress.holder, NONE), np.where(done, receiver, NONE))
    progress.holder = np.where(done, receiver, progress.holder)
    progress.last = np.where(done, at, progress.last)
    return handoff


# --------------------------------------------------------------------------- the timeline
@dataclass(frozen=True)
class Timeline:
    """Every task of a block and when each step happened (NONE: never). Users are block-local."""

    task_id: np.ndarray
    project: np.ndarray  # index into the block's projects
    acct: np.ndarray
    created: np.ndarray
    creator: np.ndarray
    title: np.ndarray
    priority: np.ndarray
    due: np.ndarray
    assignee: np.ndarray  # the first assignee
    assigned_at: np.ndarray
    reassigned_at: np.ndarray  # reassigned (by the creator) before work started
    reassignee: np.ndarray  # the second assignee, NONE if not reassigned
    starter: np.ndarray  # the assignee when work started (the reassignee, else the first assignee)
    holder: np.ndarray  # who holds it at the end (after hand-offs), NONE if never assigned
    started_at: np.ndarray
    blocker1: Blocker
    handoffs: tuple[Handoff, ...]  # the first, second and third hand-off (MAX_HANDOFFS), in time order
    blocker2: Blocker
    done_at: np.ndarray
    finisher: np.ndarray
    cancelled_at: np.ndarray
    cancelled_from: np.ndarray  # status code
    cancelled_by: np.ndarray
    status: np.ndarray  # status code at the end of the window
    original_done_at: np.ndarray  # before a long-cycle outlier was planted
    planted_long_cycle: np.ndarray
    original_due: np.ndarray  # before a far-due outlier was planted
    planted_far_due: np.ndarray

    @property
    def closed(self) -> np.ndarray:
        return (self.status == DONE) | (self.status == CANCELLED)

    @property
    def closed_at(self) -> np.ndarray:
        return np.maximum(self.done_at, self.cancelled_at)


def simulate_tasks(
    params: Params, plan: AccountPlan, block: Block, ses: Sessions, projects: Projects, create_rate: np.ndarray
) -> Timeline:
    """Create the block's tasks from activity, then walk each through its steps."""
    draws = block.draws(params, "tasks")
    made = task_creations(params, block, ses, projects, create_rate, draws)
    acct = projects.acct[made.project]
    counts = np.bincount(acct, minlength=len(block))
    if counts.max(initial=0) >= TASK_ID_STRIDE:
        a = block.accounts[np.argmax(counts)]
        raise ValueError(f"account {a + 1} has {counts.max()} tasks; at most {TASK_ID_STRIDE - 1} fit its id range")
    task_id = (block.accounts[acct] + 1) * TASK_ID_STRIDE + 1 + group_rank(acct)
    u = DrawColumns(draws.random(counts, cols=len(UNIFORMS)), UNIFORMS)
    z = DrawColumns(draws.normal(0.0, 1.0, counts, cols=len(NORMALS)), NORMALS)
    hands_off = draws.random(block.n_users) < params.tasks.handoff_user_share  # per user: ever hands work off
    adopted_at = scenarios.feature_adoption(params, plan.tier[block.accounts], draws.random(np.ones(len(block))))
    intent = intentions(params, block, acct, made.created, adopted_at, u, z)
    walked = _walk_steps(params, _Walk(ses, acct, u), made, intent, hands_off)
    return _timeline(params, block, ses, task_id, acct, made, intent, walked)


@dataclass(frozen=True)
class _Walked:
    """When each step of each task happened (NONE: never) and who held it at the end."""

    assignee: np.ndarray
    assigned_at: np.ndarray
    reassigned_at: np.ndarray
    reassignee: np.ndarray
    starter: np.ndarray
    started_at: np.ndarray
    blocker1: Blocker
    handoffs: tuple[Handoff, ...]
    blocker2: Blocker
    holder: np.ndarray
    done_at: np.ndarray
    cancelled_at: np.ndarray


def _walk_steps(params: Params, walk: _Walk, made: Creations, intent: Intentions, hands_off: np.ndarray) -> _Walked:
    """Assignment (by the creator, to themself or a colleague who is around), sometimes a reassignment
    before work starts (by the creator, to another colleague), start (by the assignee then), a blocker,
    hand-offs (a first; a second and rarely a third after the second blocker), the finish (done or
    cancelled, after a long wait if the task is parked); backlog nobody starts is sometimes cancelled
    by its creator weeks later."""
    other = walk.colleague(intent.assigned & ~intent.self_assigned, made.created, made.creator, "assign")
    first = np.where(intent.assigned, np.where(other < 0, made.creator, other), NONE)
    assigned_at, _ = walk.step(intent.assigned, made.creator, made.created, intent.assign_delay, "assigned")
    first = np.where(assigned_at >= 0, first, NONE)
    moved_at, moved = walk.step(
        (first >= 0) & intent.reassigned, made.creator, assigned_at, 0.5 * intent.to_start, "reassigned"
    )
    second = walk.colleague(moved, moved_at, first, "reassign")
    moved &= second >= 0
    assignee = np.where(moved, second, first)
    go = (assignee >= 0) & ~intent.never_started
    since, wait = np.where(moved, moved_at, assigned_at), np.where(moved, 0.5, 1.0) * intent.to_start
    started_at, reached = walk.step(go, assignee, since, wait, "started")
    progress = _Progress(go & reached, assignee.copy(), np.where(go & reached, started_at, NONE))
    lengths = intent.blocker_lengths
    blocker1 = _blocker(walk, progress, progress.go & (intent.blockers >= 1), 0.25 * intent.cycle, lengths[:, 0], 1)
    first_prob = intent.handoff_prob * _trait(hands_off, progress.holder)
    handoffs = [_handoff(walk, progress, walk.u.handoff1 < first_prob, 0.25 * intent.cycle, 1)]
    blocker2 = _blocker(walk, progress, progress.go & (intent.blockers >= 2), 0.2 * intent.cycle, lengths[:, 1], 2)
    for k in range(2, MAX_HANDOFFS + 1):  # the receiver passes it on again
        prob = params.tasks.repeat_handoff_prob * _trait(hands_off, progress.holder)
        again = (handoffs[-1].at >= 0) & (walk.u[f"handoff{k}"] < prob)
        handoffs.append(_handoff(walk, progress, again, 0.15 * intent.cycle, k))
    finished_at, reached = walk.step(
        progress.go, progress.holder, progress.last, 0.3 * intent.cycle + intent.parked, "finished"
    )
    backlog = (started_at < 0) & intent.backlog_cancel  # weeks after it was last (re)assigned, or created
    last_touch = np.maximum(np.maximum(made.created, assigned_at), np.where(moved, moved_at, NONE))
    dropped_at, dropped = walk.step(backlog, made.creator, last_touch, intent.backlog_wait, "backlog_cancelled")
    cancelled_at = np.where(dropped, dropped_at, np.where(reached & intent.cancelled, finished_at, NONE))
    done_at = np.where(reached & ~intent.cancelled, finished_at, NONE)
    return _Walked(
        assignee=first,
        assigned_at=assigned_at,
        reassigned_at=np.where(moved, moved_at, NONE),
        reassignee=np.where(moved, second, NONE),
        starter=np.where(started_at >= 0, assignee, NONE),
        started_at=started_at,
        blocker1=blocker1,
        handoffs=tuple(handoffs),
        blocker2=blocker2,
        holder=progress.holder,
        done_at=done_at,
        cancelled_at=cancelled_at,
    )


def _trait(flag: np.ndarray, user: np.ndarray) -> np.ndarray:
    """A per-user flag at block-local users (False for NONE)."""
    return (user >= 0) & flag[np.maximum(user, 0)] if len(flag) else np.zeros(len(user), bool)


def _timeline(
    params: Params,
    block: Block,
    ses: Sessions,
    task_id: np.ndarray,
    acct: np.ndarray,
    made: Creations,
    intent: Intentions,
    walked: _Walked,
) -> Timeline:
    """Plant the outliers (each kind from its own stream: changing one rate never moves the other's
    rows: a few done tasks drag on past the threshold, a few get far-future due dates), then say how
    each task ends the window."""
    w = walked
    long_cycle = plant_long_cycles(params, block, acct, ses, w.holder, w.started_at, w.done_at)
    far_due = plant_far_due_dates(params, block, acct, made.created, intent.due)
    done_at = np.where(long_cycle >= 0, long_cycle, w.done_at)
    cancelled, started = w.cancelled_at >= 0, w.started_at >= 0
    return Timeline(
        task_id=task_id,
        project=made.project,
        acct=acct,
        created=made.created,
        creator=made.creator,
        title=intent.title,
        priority=intent.priority,
        due=np.where(far_due >= 0, far_due, intent.due),
        assignee=w.assignee,
        assigned_at=w.assigned_at,
        reassigned_at=w.reassigned_at,
        reassignee=w.reassignee,
        starter=w.starter,
        holder=np.where(w.assignee >= 0, w.holder, NONE),
        started_at=w.started_at,
        blocker1=w.blocker1,
        handoffs=w.handoffs,
        blocker2=w.blocker2,
        done_at=done_at,
        finisher=np.where(done_at >= 0, w.holder, NONE),
        cancelled_at=w.cancelled_at,
        cancelled_from=np.where(cancelled, np.where(started, IN_PROGRESS, TODO), NONE),
        cancelled_by=np.where(cancelled, np.where(started, w.holder, made.creator), NONE),
        status=_status(w, done_at),
        original_done_at=w.done_at,
        planted_long_cycle=long_cycle >= 0,
        original_due=intent.due,
        planted_far_due=far_due >= 0,
    )


def _status(w: _Walked, done_at: np.ndarray) -> np.ndarray:
    """The status each task ends the window in: the last step it reached decides."""
    status = np.full(len(done_at), TODO, dtype=np.int64)
    status = np.where(w.started_at >= 0, IN_PROGRESS, status)
    status = np.where((w.blocker1.added >= 0) & (w.blocker1.resolved < 0), BLOCKED, status)
    status = np.where((w.blocker2.added >= 0) & (w.blocker2.resolved < 0), BLOCKED, status)
    status = np.where(done_at >= 0, DONE, status)
    return np.where(w.cancelled_at >= 0, CANCELLED, status)
