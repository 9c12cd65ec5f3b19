"""Accounts' lifecycles: their users, sessions, projects and every task's timeline.

`simulate_block` is a pure function of (params, plan, accounts), vectorised over the accounts of the
block; every account draws only from its own streams (streams.AccountDraws), so any block size or
schedule gives the same rows. Tables are derived from the
simulated timeline, so the lifecycle rules hold by construction:
- users are invited after the account exists and act only inside their sessions (after activation,
  before churn); projects and tasks are created inside a session of an activated user of the account;
- a task moves todo -> in_progress -> (blocked <-> in_progress) -> done | cancelled, each step by the
  user holding it, at that user's next session after the step's nominal time; a step with no session
  left (the user churned, the window ended) never happens and the task keeps its last status.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .. import scenarios
from ..params import Params
from ..schema import PRIORITIES, ROLES, STATUSES
from ..streams import AccountDraws, choice_from_u, truncated_exponential_from_u
from ..units import DAY, HOUR, MAX_DAYS, MINUTE, MONTH_DAYS, NEVER, US, to_us, window_us
from . import names, vocab
from .accounts import AccountPlan
from .arrays import chunk_ranges, group_rank, order_by
from .sessions import Sessions, build_sessions, intraday_from_u, moment

NONE = -1  # "not reached" / "no user" in timeline columns
TASK_ID_STRIDE = 10_000_000  # task_id = account_id * 1e7 + n: ids do not depend on block scheduling
# Internal/test workspaces behave like scripts: bursts of tasks closed within minutes, at any hour.
INTERNAL_ACTIVE_PROB = 0.25
INTERNAL_TASK_BURST = 3.0  # x tasks.created_per_session
INTERNAL_SPEED = 0.02  # x every nominal task duration

TITLE_POOL = np.array([f"{v} {o}" for v in vocab.TASK_VERBS for o in vocab.TASK_OBJECTS], dtype=object)
# text columns of many rows are built in Arrow from codes (no Python string objects per task)
TITLE_TEXT = pa.array(TITLE_POOL, pa.string())
PRIORITY_TEXT = pa.array(PRIORITIES, pa.string())
STATUS_TEXT = pa.array(STATUSES, pa.string())
PROJECT_NAME_POOL = np.array([f"{a} {k}" for a in vocab.PROJECT_AREAS for k in vocab.PROJECT_KINDS], dtype=object)

# each country's home time zones: cumulative weights (as streams.choice_index computes them), padded
HOME_ZONE_CDF = np.full((len(vocab.COUNTRIES), max(len(c[3]) for c in vocab.COUNTRIES)), 2.0)
HOME_ZONE = np.zeros(HOME_ZONE_CDF.shape, dtype=np.int64)
for _i, (_, _, _, _zones) in enumerate(vocab.COUNTRIES):
    _w = np.array([w for _, w in _zones], dtype=float)
    _cdf = np.cumsum(_w / _w.sum())
    _cdf[-1] = 1.0
    HOME_ZONE_CDF[_i, : len(_zones)] = _cdf
    HOME_ZONE[_i, : len(_zones)] = [vocab.TIMEZONES.index(z) for z, _ in _zones]
LOCALES = sorted({c[2] for c in vocab.COUNTRIES})
LOCALE_OF_COUNTRY = np.array([LOCALES.index(c[2]) for c in vocab.COUNTRIES])
# users simulated together at most (session arrays are users x days; keys must fit in int64)
CHUNK_USERS = 4096

# the columns of a user's uniform and normal draws (one row per user)
USER_U = {
    name: i
    for i, name in enumerate(
        (
            "invite_lag",
            "never_activated",
            "role",
            "home_zone",
            "remote_zone",
            "remote",
            "internal_start_hour",
            "bot",
            "early_churner",
            "early_days",
            "late_days",
            "first_name",
            "last_name",
        )
    )
}
USER_Z = {name: i for i, name in enumerate(("activation_lag", "engagement", "start_hour"))}
# the columns of a task's uniform and normal draws (one row per task)
TASK_U = {
    name: i
    for i, name in enumerate(
        (
            "priority",
            "title",
            "has_due",
            "assigned",
            "self_assigned",
            "never_started",
            "blocked",
            "blocked_twice",
            "handoff",
            "cancelled",
            "backlog_cancel",
            "assign_delay",
            "colleague_assign",
            "colleague_handoff",
            "at_assigned",
            "at_started",
            "at_blocker1_added",
            "at_blocker1_resolved",
            "at_handoff",
            "at_blocker2_added",
            "at_blocker2_resolved",
            "at_finished",
            "at_backlog_cancelled",
        )
    )
}
TASK_Z = {name: i for i, name in enumerate(("due_in", "cycle", "to_start", "blocker1", "blocker2", "backlog_wait"))}


# status codes used in the timeline (indices into schema.STATUSES)
TODO, IN_PROGRESS, BLOCKED, DONE, CANCELLED = range(5)


@dataclass
class AccountSim:
    """Everything simulated for a block of accounts, as numpy columns in account order (user indices
    resolved to ids)."""

    users: dict
    user_latent: dict
    sessions: dict
    projects: dict
    tasks: dict
    timeline: dict


@dataclass
class Block:
    """A run of consecutive accounts simulated together; `*_acct` give each row's block-local account."""

    accounts: np.ndarray  # account indices (account_id - 1)
    n_users: np.ndarray  # per account
    user_acct: np.ndarray  # per user
    first_user: np.ndarray  # per user: the account's founder
    internal: np.ndarray  # per account

    @classmethod
    def of(cls, plan: AccountPlan, accounts: range) -> Block:
        a = np.arange(accounts.start, accounts.stop)
        n_users = plan.n_users[a]
        user_acct = np.repeat(np.arange(len(a)), n_users)
        starts = np.r_[0, np.cumsum(n_users)[:-1]]
        first = np.zeros(len(user_acct), bool)
        first[starts[n_users > 0]] = True
        return cls(a, n_users, user_acct, first, plan.internal[a])

    def draws(self, params: Params, name: str) -> AccountDraws:
        return AccountDraws(params.seed, name, self.accounts + 1)

    def __len__(self) -> int:
        return len(self.accounts)


def _users(params: Params, plan: AccountPlan, b: Block, w1: int):
    D = b.draws(params, "users")
    ua, first, A = b.user_acct, b.first_user, b.accounts
    n_u, n = b.n_users, len(b.user_acct)
    created_acct = plan.created_at[A][ua]
    live_until = np.minimum(plan.churn_at[A], w1)[ua]
    p = params.users

    # every draw of a user, in two calls per account: uniforms and standard normals, one column each
    U = D.random(n_u, cols=len(USER_U))
    Z = D.normal(0.0, 1.0, n_u, cols=len(USER_Z))

    def u(name):
        return U[:, USER_U[name]]

    def z(name):
        return Z[:, USER_Z[name]]

    # invitations: the founder at signup, the others spread over the account's life (front-loaded)
    lag = truncated_exponential_from_u(u("invite_lag"), p.invite_lag_days_mean * DAY, live_until - created_acct)
    created = np.where(first, created_acct, np.maximum(created_acct + lag, created_acct + US))

    act_lag = to_us(
        np.where(
            first,
            3 * MINUTE * np.exp(0.5 * z("activation_lag")),  # the founder signs in at once
            p.activation_lag_hours.median * HOUR * np.exp(p.activation_lag_hours.sigma * z("activation_lag")),
        )
    )
    activated = created + act_lag
    never = (u("never_activated") < p.never_activated_share) & ~first
    activated = np.where(first, np.minimum(np.minimum(activated, live_until - US), w1 - US), activated)
    activated = np.where(never | (activated >= live_until), NONE, activated)

    rw = p.role_weights
    role = np.where(first, 0, choice_from_u(u("role"), [rw.admin, rw.member, rw.guest]))  # the founder administers it

    country = plan.country[A][ua]
    home = np.sum(HOME_ZONE_CDF[country] <= u("home_zone")[:, None], axis=1)
    tz_home = HOME_ZONE[country, home]
    tz_remote = np.floor(u("remote_zone") * len(vocab.TIMEZONES)).astype(np.int64)
    tz = np.where(u("remote") < p.remote_share, tz_remote, tz_home)

    engagement = np.clip(np.exp(p.engagement_sigma * z("engagement")), 1e-3, 1e3)
    engagement = engagement * np.where(role == 2, p.guest_engagement_factor, 1.0)
    active_prob = np.clip(p.workday_active_prob * engagement, 0.0, 0.97)
    start_hour = np.clip(
        params.activity.workday_start_hour.mean + params.activity.workday_start_hour.sd * z("start_hour"), 5.0, 13.0
    )
    internal = b.internal[ua]
    # scripted test traffic: any hour, any day, in bursts; half the users are bots
    start_hour = np.where(internal, 23.0 * u("internal_start_hour"), start_hour)
    active_prob = np.where(internal, INTERNAL_ACTIVE_PROB, active_prob)
    bot = internal & ~first & (u("bot") < 0.5)

    early = u("early_churner") < scenarios.early_churn_share(params, activated)
    early_days = -np.log1p(-u("early_days")) * p.churn.early_mean_days
    late_mean = MONTH_DAYS / p.churn.late_monthly_rate if p.churn.late_monthly_rate > 0 else np.inf
    with np.errstate(invalid="ignore"):  # inf x 0 when late churn is off and the draw is 0
        late_days = np.nan_to_num(-np.log1p(-u("late_days")) * late_mean, nan=np.inf)
    # lifetimes past ~27 years are "never" (all integer arithmetic from here: no float -> int overflow)
    life_days = np.minimum(np.where(early, early_days, late_days), MAX_DAYS)
    own_churn = np.full(n, NEVER, dtype=np.int64)
    finite = life_days < MAX_DAYS
    own_churn[finite] = activated[finite] + np.floor(life_days[finite] * DAY).astype(np.int64)
    churn = np.where(activated == NONE, NONE, np.minimum(own_churn, plan.churn_at[A][ua]))
    churn = np.where((churn != NONE) & (churn >= w1), NEVER, churn)
    # a user churns strictly after activating (the activation session always exists)
    churn = np.where((churn != NONE) & (churn <= activated), activated + MINUTE, churn)

    # names from the pool of the account's locale (one pool per locale, built once)
    fu, lu = u("first_name"), u("last_name")
    full_name = np.empty(n, dtype=object)
    local = np.empty(n, dtype=object)
    locale = LOCALE_OF_COUNTRY[country]
    for loc in np.unique(locale):
        rows = np.nonzero(locale == loc)[0]
        pool = names.person_pool(LOCALES[loc], params.seed)
        fi = np.floor(fu[rows] * len(pool.first)).astype(np.int64)
        li = np.floor(lu[rows] * len(pool.last)).astype(np.int64)
        full_name[rows] = pool.first[fi] + " " + pool.last[li]
        local[rows] = pool.first_ascii[fi] + "." + pool.last_ascii[li]
    # unique within the account: the second "ana.silva" becomes "ana.silva2"
    order = np.argsort(local, kind="stable")
    order = order[np.argsort(ua[order], kind="stable")]
    same = np.r_[False, (local[order][1:] == local[order][:-1]) & (ua[order][1:] == ua[order][:-1])]
    run = np.cumsum(~same) - 1
    rank = np.arange(n) - np.nonzero(~same)[0][run] if n else np.zeros(0, np.int64)
    suffix = np.empty(n, dtype=object)
    suffix[order] = np.where(rank == 0, "", (rank + 1).astype(str).astype(object))
    bot_cum = np.cumsum(bot)
    starts = np.r_[0, np.cumsum(n_u)[:-1]]
    bot_no = bot_cum - (bot_cum[starts] - bot[starts])[ua] if n else bot_cum
    full_name = np.where(bot, "QA Bot " + bot_no.astype(str).astype(object), full_name)
    local = np.where(bot, "qa-bot-" + bot_no.astype(str).astype(object), local)
    suffix = np.where(bot, "", suffix)
    email = local + suffix + "@" + plan.domain[A][ua]

    user_id = plan.user_offset[A[0]] + 1 + np.arange(n, dtype=np.int64) if n else np.zeros(0, np.int64)
    return dict(
        user_id=user_id,
        created=created,
        activated=activated,
        role=role,
        tz=tz,
        full_name=full_name,
        email=email,
        active_prob=active_prob,
        start_hour=start_hour,
        churn=churn,
        engagement=engagement,
        early=early,
        internal=internal,
    )


def _projects(params: Params, plan: AccountPlan, b: Block, ses: Sessions):
    """Projects are created in the first session (of any user) starting at or after their nominal time."""
    D = b.draws(params, "projects")
    A = b.accounts
    counts = plan.n_projects[A]
    first = int(plan.project_offset[A[0]])
    total = int(counts.sum())
    acct = np.repeat(np.arange(len(b)), counts)
    nominal = plan.project_nominal_at[first : first + total]
    k = np.searchsorted(ses.sorted_key, ses.start_key(acct, nominal), side="left")
    k = np.minimum(k, ses.account_hi[acct] - 1)
    s, e = ses.start_sorted[k], ses.end_sorted[k]
    offset = np.minimum(D.exponential(15.0 * MINUTE, counts), (e - s) * 0.3).astype(np.int64)
    created = s + offset
    owner = ses.user_sorted[k]
    name_idx = np.floor(D.random(counts) * len(PROJECT_NAME_POOL)).astype(np.int64)
    project_name = PROJECT_NAME_POOL[name_idx]
    # the same name twice in one account gets " 2", " 3", ...
    for_sort = np.lexsort((name_idx, acct))
    dup_rank = np.zeros(total, dtype=np.int64)
    dup_rank[for_sort] = group_rank(acct[for_sort] * len(PROJECT_NAME_POOL) + name_idx[for_sort])
    project_name = np.where(dup_rank == 0, project_name, project_name + " " + (dup_rank + 1).astype(str).astype(object))
    project_id = first + 1 + np.arange(total, dtype=np.int64)
    return dict(project_id=project_id, created=created, owner=owner, session=k, name=project_name, acct=acct)


def _task_creations(params: Params, b: Block, ses: Sessions, proj: dict, create_rate: np.ndarray, D: AccountDraws):
    """When, by whom and in which project tasks are created.

    Work follows activity: each session creates Poisson(tasks.created_per_session x the user's
    creation factor) tasks at random moments of the session, each into a project of the account that
    already exists (the newest project half the time, else any live one). A project keeps at most
    tasks_per_project.max tasks (first come, first kept) and gets at least tasks_per_project.min:
    missing ones are created in random sessions from the project's creation on.
    """
    tpp = params.tasks_per_project
    n_acc = len(b)
    n_p = len(proj["project_id"])
    n_s_acct = ses.account_hi - ses.account_lo
    # --- activity-driven creations
    per_session = D.poisson(params.tasks.created_per_session * create_rate[ses.user_sorted], n_s_acct)
    k = np.repeat(np.arange(len(ses)), per_session)
    ka = ses.account_sorted[k]
    counts = np.bincount(ka, minlength=n_acc)
    s, e = ses.start_sorted[k], ses.end_sorted[k]
    t = moment(D, s, e, counts)
    p_order = order_by(proj["acct"], proj["created"], ses.origin)
    p_key = ses.start_key(proj["acct"][p_order], proj["created"][p_order])
    p_lo = np.searchsorted(proj["acct"][p_order], np.arange(n_acc), side="left")
    live = np.searchsorted(p_key, ses.start_key(ka, t), side="left") - p_lo[ka]  # projects created strictly before t
    newest = D.random(counts) < 0.5
    pick = np.where(newest, live - 1, np.floor(D.random(counts) * np.maximum(live, 1)).astype(np.int64))
    ok = live > 0
    k, t, pj = k[ok], t[ok], p_order[np.minimum(p_lo[ka[ok]] + np.maximum(pick[ok], 0), max(n_p - 1, 0))]
    # --- cap: a project keeps its first tasks_per_project.max tasks
    order = order_by(pj, t, ses.origin)
    k, t, pj = k[order], t[order], pj[order]
    keep = group_rank(pj) < tpp.max
    k, t, pj = k[keep], t[keep], pj[keep]
    # --- floor: top up projects below tasks_per_project.min (to min plus a few, so counts do not
    # pile up at exactly min)
    have = np.bincount(pj, minlength=n_p)
    target = np.minimum(tpp.min + D.poisson(2.0, np.bincount(proj["acct"], minlength=n_acc)), tpp.max)
    need = np.where(have < tpp.min, np.maximum(target - have, 0), 0)
    tp = np.repeat(np.arange(n_p), need)
    tpa = proj["acct"][tp]
    tp_counts = np.bincount(tpa, minlength=n_acc)
    p_created = proj["created"][tp]
    lo = np.searchsorted(ses.sorted_key, ses.start_key(tpa, p_created), side="right")
    choices = ses.account_hi[tpa] - lo + 1
    j = np.floor(D.random(tp_counts) * choices).astype(np.int64)
    kk = np.where(j == 0, proj["session"][tp], lo + j - 1)
    s0 = np.maximum(ses.start_sorted[kk], p_created + 1)
    e0 = ses.end_sorted[kk]
    tt = np.minimum(
        s0 + np.floor(D.random(tp_counts) * np.maximum(e0 - s0, 0)).astype(np.int64), np.maximum(e0 - 1, s0)
    )
    k, t, pj = np.concatenate([k, kk]), np.concatenate([t, tt]), np.concatenate([pj, tp])
    # tasks in order of creation (ties by project) within each account: task ids follow time
    by_project = np.argsort(pj, kind="stable")
    order = by_project[order_by(proj["acct"][pj[by_project]], t[by_project], ses.origin)]
    return t[order], ses.user_sorted[k[order]], pj[order]


def _task_lifecycle(
    params: Params, plan: AccountPlan, b: Block, ses: Sessions, proj: dict, create_rate: np.ndarray, w1: int
) -> dict:
    """Create tasks from activity, then walk each through its stages."""
    p = params.tasks
    D = b.draws(params, "tasks")
    created, creator, pj = _task_creations(params, b, ses, proj, create_rate, D)
    acct = proj["acct"][pj]
    counts = np.bincount(acct, minlength=len(b))
    n = len(created)
    if counts.max(initial=0) >= TASK_ID_STRIDE:
        a = b.accounts[np.argmax(counts)]
        raise ValueError(f"account {a + 1} has {counts.max()} tasks; at most {TASK_ID_STRIDE - 1} fit its id range")
    task_id = (b.accounts[acct] + 1) * TASK_ID_STRIDE + 1 + group_rank(acct)

    # every draw of a task, in two calls per account: uniforms and standard normals, one column each
    U = D.random(counts, cols=len(TASK_U))
    Z = D.normal(0.0, 1.0, counts, cols=len(TASK_Z))

    def u(name):
        return U[:, TASK_U[name]]

    def lognormal(name, median, sigma):
        return median * np.exp(sigma * Z[:, TASK_Z[name]])

    priority = choice_from_u(u("priority"), [getattr(p.priority_weights, x) for x in PRIORITIES])
    title = np.floor(u("title") * len(TITLE_POOL)).astype(np.int64)  # index into TITLE_POOL
    has_due = u("has_due") < p.due_date_share
    due_days = lognormal("due_in", p.due_in_days.median, p.due_in_days.sigma)
    due = ((created + to_us(due_days * DAY)) // DAY + 1) * DAY
    due = np.where(has_due, due, NONE)

    # --- draws for every stage (drawn for all tasks, so counts never depend on earlier outcomes)
    assigned = u("assigned") < p.assigned_share
    self_assigned = u("self_assigned") < p.self_assigned_share
    never_started = u("never_started") < p.never_started_share
    blockers = np.where(u("blocked") < p.blocker_prob, np.where(u("blocked_twice") < p.second_blocker_prob, 2, 1), 0)
    handoff = u("handoff") < scenarios.handoff_probability(params, plan.tier[b.accounts][acct], created)
    cancelled = u("cancelled") < p.cancelled_share
    backlog_cancel = u("backlog_cancel") < p.backlog_cancelled_share
    cycle = lognormal("cycle", p.cycle_time_days.median * DAY, p.cycle_time_days.sigma)
    cycle = cycle * np.array(vocab.PRIORITY_CYCLE_FACTOR)[priority]
    to_start = lognormal("to_start", p.time_to_start_hours.median * HOUR, p.time_to_start_hours.sigma)
    block_len = np.stack(
        [
            lognormal(f"blocker{i}", p.blocker_duration_hours.median * HOUR, p.blocker_duration_hours.sigma)
            for i in (1, 2)
        ],
        axis=1,
    )
    backlog_wait = lognormal("backlog_wait", 14.0 * DAY, 1.0)
    internal = b.internal[acct]  # scripted test traffic: tasks are picked up and closed within minutes
    cycle = np.where(internal, cycle * INTERNAL_SPEED, cycle)
    to_start = np.where(internal, to_start * INTERNAL_SPEED, to_start)
    block_len = np.where(internal[:, None], block_len * INTERNAL_SPEED, block_len)
    assign_delay = np.floor((5.0 + 235.0 * u("assign_delay")) * US).astype(np.int64)

    ns = to_us

    def stage(active, actor, nominal, step):
        """The step's time where `active` (its actor's next session moment), -1 elsewhere or if never reached."""
        rows = np.flatnonzero(active)
        t = np.full(n, NONE, dtype=np.int64)
        t[rows] = ses.snap(actor[rows], nominal[rows], where=intraday_from_u(U[rows, TASK_U["at_" + step]]))
        return t, t >= 0

    def colleague(active, after, exclude, step):
        """Where `active`: another user of the account who is around in the week after `after`; -1 elsewhere."""
        rows = np.flatnonzero(active)
        out = np.full(n, NONE, dtype=np.int64)
        out[rows] = ses.other_user_near(
            after[rows], exclude[rows], 7 * DAY, account=acct[rows], u=U[rows, TASK_U["colleague_" + step]]
        )
        return out

    # --- assignment (by the creator, moments after creation)
    other = colleague(assigned & ~self_assigned, created, creator, "assign")
    assignee = np.where(assigned, np.where(other < 0, creator, other), NONE)
    t_assigned, _ = stage(assigned, creator, created + assign_delay, "assigned")
    assignee = np.where(t_assigned >= 0, assignee, NONE)

    # --- start (by the assignee)
    go = (assignee >= 0) & ~never_started
    t_started, r = stage(go, assignee, t_assigned + ns(to_start), "started")
    go &= r
    holder = assignee.copy()
    last = np.where(go, t_started, NONE)

    def blocker(want, offset, duration, which):
        """Blocked by the holder after `offset`, resolved after `duration`; a step not reached stalls the task."""
        nonlocal go, last
        added, r = stage(want, holder, last + ns(offset), f"blocker{which}_added")
        go &= ~want | r
        last = np.where(r, added, last)
        resolved, r2 = stage(r, holder, last + ns(duration), f"blocker{which}_resolved")
        go &= ~r | r2
        last = np.where(r2, resolved, last)
        return added, resolved

    # --- first blocker: added after ~25% of the cycle, resolved after its duration
    t_b1_added, t_b1_resolved = blocker(go & (blockers >= 1), 0.25 * cycle, block_len[:, 0], 1)

    # --- hand-off: the holder passes the task to a colleague who is around in the next week
    want = go & handoff
    t_handoff, r = stage(want, holder, last + ns(0.25 * cycle), "handoff")
    receiver = colleague(r, t_handoff, holder, "handoff")
    r &= receiver >= 0
    t_handoff = np.where(r, t_handoff, NONE)
    handoff_from = np.where(r, holder, NONE)
    handoff_to = np.where(r, receiver, NONE)
    # the receiver picks it up in their next session
    holder = np.where(r, receiver, holder)
    last = np.where(r, t_handoff, last)

    # --- second blocker, with whoever holds the task now
    t_b2_added, t_b2_resolved = blocker(go & (blockers >= 2), 0.2 * cycle, block_len[:, 1], 2)

    # --- finish: done, or cancelled by the holder
    t_finished, r = stage(go, holder, last + ns(0.3 * cycle), "finished")
    t_done = np.where(r & ~cancelled, t_finished, NONE)
    t_cancel = np.where(r & cancelled, t_finished, NONE)

    # --- backlog that nobody starts: some of it is cancelled by its creator weeks later
    backlog = t_started < 0
    t_bl, r = stage(backlog & backlog_cancel, creator, created + ns(backlog_wait), "backlog_cancelled")
    t_cancel = np.where(r, t_bl, t_cancel)

    # --- outliers, planted: a few done tasks drag on past the threshold, a few get far-future due dates
    # (each kind of outlier has its own stream: changing one rate never moves the other's rows)
    out = params.imperfections.outliers
    original_done, original_due = t_done.copy(), due.copy()
    long_cycle = _plant_long_cycles(params, b, acct, ses, holder, t_started, t_done)
    t_done = np.where(long_cycle >= 0, long_cycle, t_done)
    far_due = _plant_far_due_dates(params, b, acct, created, due)
    due = np.where(far_due >= 0, far_due, due)

    # --- final status
    status = np.full(n, TODO, dtype=np.int64)
    status = np.where(t_started >= 0, IN_PROGRESS, status)
    status = np.where((t_b1_added >= 0) & (t_b1_resolved < 0), BLOCKED, status)
    status = np.where((t_b2_added >= 0) & (t_b2_resolved < 0), BLOCKED, status)
    status = np.where(t_done >= 0, DONE, status)
    status = np.where(t_cancel >= 0, CANCELLED, status)
    cancel_from = np.where(t_cancel >= 0, np.where(t_started >= 0, IN_PROGRESS, TODO), NONE)
    cancel_by = np.where(t_cancel >= 0, np.where(t_started >= 0, holder, creator), NONE)
    finisher = np.where(t_done >= 0, holder, NONE)

    return dict(
        planted_long_cycle=long_cycle >= 0,
        original_done_at=original_done,
        planted_far_due=far_due >= 0,
        original_due_at=original_due,
        task_id=task_id,
        project_index=pj,
        acct=acct,
        created=created,
        creator=creator,
        title=title,
        priority=priority,
        due=due,
        assignee=assignee,
        holder=np.where(assignee >= 0, holder, NONE),
        t_assigned=t_assigned,
        t_started=t_started,
        t_b1_added=t_b1_added,
        t_b1_resolved=t_b1_resolved,
        t_handoff=t_handoff,
        handoff_from=handoff_from,
        handoff_to=handoff_to,
        t_b2_added=t_b2_added,
        t_b2_resolved=t_b2_resolved,
        t_done=t_done,
        finisher=finisher,
        t_cancel=t_cancel,
        cancel_from=cancel_from,
        cancel_by=cancel_by,
        status=status,
    )


def _quota(share: float, of: np.ndarray, natural: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per account: how many rows to plant so that planted + natural = share x of, rounded up or
    down at random (odds by the fraction), so counts add up to the share across accounts."""
    x = share * of - natural
    base = np.floor(np.maximum(x, 0.0))
    return np.where(x > 0, base + (u < x - base), 0).astype(np.int64)


def _plant_long_cycles(
    params: Params, b: Block, acct: np.ndarray, ses: Sessions, holder, t_started, t_done
) -> np.ndarray:
    """New completion times (or -1) for done tasks chosen to take longer than the threshold.

    The share is of done tasks of each account, natural long ones included. Candidates are taken
    in a random order: each is completed by its holder in their first session after started +
    threshold x U(1.05, 2.5); one whose holder has no session left then keeps its normal
    completion, and the next candidate is taken instead.
    """
    out = params.imperfections.outliers
    threshold = out.long_cycle_threshold_days * DAY
    n_acc = len(b)
    D = AccountDraws(params.seed, "outliers", 2 * (b.accounts + 1))
    done = t_done >= 0
    natural = done & (t_done - t_started > threshold)
    quota = _quota(
        out.long_cycle_share,
        np.bincount(acct[done], minlength=n_acc),
        np.bincount(acct[natural], minlength=n_acc),
        D.random(np.ones(n_acc, np.int64)),
    )
    new = np.full(len(t_done), NONE, dtype=np.int64)
    cand = np.flatnonzero(done & ~natural)
    c_acct = acct[cand]
    c_counts = np.bincount(c_acct, minlength=n_acc)
    key = D.random(c_counts)  # candidates are taken in the order of this key
    stretch = D.uniform(1.05, 2.5, c_counts)
    got = np.zeros(n_acc, dtype=np.int64)
    lo = np.zeros(n_acc)
    for round_ in range(64):  # each round takes the next slice of keys, twice as wide as needed (and growing)
        need = quota - got
        width = np.where(need > 0, (2 * need + 4) / np.maximum(c_counts, 1) * 2.0**round_, 0.0)
        hi = np.where(need > 0, np.minimum(lo + width, 1.0), lo)
        rows = np.flatnonzero((key >= lo[c_acct]) & (key < hi[c_acct]))
        if not (hi > lo).any():
            break
        rows = rows[np.lexsort((key[rows], c_acct[rows]))]
        nominal = t_started[cand[rows]] + to_us(threshold * stretch[rows])
        t = ses.snap(holder[cand[rows]], nominal, D, np.bincount(c_acct[rows], minlength=n_acc))
        ok = rows[t >= 0]
        t = t[t >= 0]
        keep = group_rank(c_acct[ok]) < need[c_acct[ok]]  # successes in key order, per account
        new[cand[ok[keep]]] = t[keep]
        got += np.bincount(c_acct[ok[keep]], minlength=n_acc)
        lo = hi
    return new


def _plant_far_due_dates(params: Params, b: Block, acct: np.ndarray, created, due) -> np.ndarray:
    """New due dates (or -1): tasks with a due date that get one far past the threshold (placeholders)."""
    out = params.imperfections.outliers
    threshold = out.far_due_threshold_days * DAY
    n_acc = len(b)
    D = AccountDraws(params.seed, "outliers", 2 * (b.accounts + 1) + 1)
    natural = (due >= 0) & (due - created > threshold)
    quota = _quota(
        out.far_due_share,
        np.bincount(acct, minlength=n_acc),
        np.bincount(acct[natural], minlength=n_acc),
        D.random(np.ones(n_acc, np.int64)),
    )
    cand = np.flatnonzero((due >= 0) & ~natural)
    c_acct = acct[cand]
    c_counts = np.bincount(c_acct, minlength=n_acc)
    key = D.random(c_counts)  # the quota's candidates: those with the smallest keys in their account
    few = key < np.minimum(1.0, (4 * quota + 8) / np.maximum(c_counts, 1))[c_acct]
    if (np.bincount(c_acct[few], minlength=n_acc) < quota).any():  # rare: the slice was too narrow
        few[:] = True
    rows = np.flatnonzero(few)
    rows = rows[np.lexsort((key[rows], c_acct[rows]))]
    pick = cand[rows][group_rank(c_acct[rows]) < quota[c_acct[rows]]]
    stretch = D.uniform(1.05, 4.0, np.bincount(acct[pick], minlength=n_acc))
    new = np.full(len(due), NONE, dtype=np.int64)
    new[pick] = ((created[pick] + to_us(threshold * stretch)) // DAY + 1) * DAY
    return new


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
    return AccountSim(
        *(
            _concat([getattr(p, f) for p in pieces])
            for f in ("users", "user_latent", "sessions", "projects", "tasks", "timeline")
        )
    )


def simulate_account(params: Params, plan: AccountPlan, a: int) -> AccountSim:
    """Simulate account index a (account_id a + 1) alone."""
    return simulate_block(params, plan, range(a, a + 1))


def _concat(dicts: list[dict]) -> dict:
    return {
        k: pa.concat_arrays([d[k] for d in dicts])
        if isinstance(dicts[0][k], pa.Array)
        else np.concatenate([d[k] for d in dicts])
        for k in dicts[0]
    }


def _simulate_chunk(params: Params, plan: AccountPlan, accounts: range) -> AccountSim:
    w0, w1 = window_us(params.window)
    b = Block.of(plan, accounts)
    users = _users(params, plan, b, w1)
    ua = b.user_acct

    act_idx = np.nonzero(users["activated"] >= 0)[0]
    ses_local = build_sessions(
        rng=b.draws(params, "sessions"),
        start_date=params.window.start,
        days=params.window.days,
        w0=w0,
        w1=w1,
        tz=users["tz"][act_idx],
        activated_at=users["activated"][act_idx],
        churn_at=users["churn"][act_idx],
        active_prob=users["active_prob"][act_idx],
        start_hour=users["start_hour"][act_idx],
        weekend_factor=np.where(users["internal"][act_idx], 1.0, params.activity.weekend_factor),
        holiday=scenarios.holiday_days(params, params.window.start, params.window.days),
        holiday_factor=np.where(users["internal"][act_idx], 1.0, params.scenarios.holidays.activity_factor),
        workday_hours=params.activity.workday_hours,
        weekend_hours_factor=params.activity.weekend_hours_factor,
        account=ua[act_idx],
        n_accounts=len(b),
    )
    # session users index activated users; map back to the block's user index
    ses = Sessions(act_idx[ses_local.user], ses_local.start, ses_local.end, w0, ses_local.account, len(b))

    proj = _projects(params, plan, b, ses)
    create_rate = np.where(users["role"] == 2, params.users.guest_engagement_factor, 1.0) * np.sqrt(users["engagement"])
    create_rate = np.where(users["internal"], INTERNAL_TASK_BURST, create_rate)
    tl = _task_lifecycle(params, plan, b, ses, proj, create_rate, w1)

    uid = users["user_id"]

    def to_id(local):
        return np.where(local >= 0, uid[np.maximum(local, 0)], NONE)

    account_id = b.accounts + 1
    n_users = len(uid)
    role_names = np.array(ROLES, dtype=object)
    users_cols = dict(
        user_id=uid,
        account_id=account_id[ua],
        full_name=users["full_name"],
        email=users["email"],
        role=role_names[users["role"]],
        timezone=np.array(vocab.TIMEZONES, dtype=object)[users["tz"]],
        created_at=users["created"],
        activated_at=users["activated"],
        is_internal=users["internal"].copy(),
    )
    user_latent = dict(
        user_id=uid,
        account_id=users_cols["account_id"],
        engagement=users["engagement"],
        workday_active_prob=users["active_prob"],
        early_churner=users["early"],
        churn_at=np.where(users["churn"] == NEVER, NONE, users["churn"]),  # -1: never activated or stays
    )
    sessions = dict(
        account_id=account_id[ses.account],
        user_id=uid[ses.user],
        session_start=ses.start,
        session_end=ses.end,
    )
    projects = dict(
        project_id=proj["project_id"],
        account_id=account_id[proj["acct"]],
        owner_user_id=uid[proj["owner"]],
        project_name=proj["name"],
        created_at=proj["created"],
    )
    # a project is archived, sometimes, a while after its last task closed (only if all are closed)
    n_p = len(proj["project_id"])
    p_counts = np.bincount(proj["acct"], minlength=len(b))
    D = b.draws(params, "archive")
    closed = (tl["status"] == DONE) | (tl["status"] == CANCELLED)
    last_close = np.maximum(tl["t_done"], tl["t_cancel"])
    open_per_project = np.bincount(tl["project_index"], weights=~closed, minlength=n_p)
    last_per_project = np.full(n_p, -1, dtype=np.int64)
    np.maximum.at(last_per_project, tl["project_index"], last_close)
    has_tasks = np.bincount(tl["project_index"], minlength=n_p) > 0
    lag = to_us(
        D.lognormal(params.projects.archive_lag_days.median * DAY, params.projects.archive_lag_days.sigma, p_counts)
    )
    archive_at = last_per_project + lag
    archived = (
        has_tasks & (open_per_project == 0) & (D.random(p_counts) < params.projects.archive_share) & (archive_at < w1)
    )
    projects["archived_at"] = np.where(archived, archive_at, NONE)

    task_account = account_id[tl["acct"]]
    tasks = dict(
        task_id=tl["task_id"],
        account_id=task_account,
        project_id=proj["project_id"][tl["project_index"]],
        created_by_user_id=uid[tl["creator"]],
        assignee_user_id=to_id(tl["holder"]),
        title=TITLE_TEXT.take(pa.array(tl["title"])),
        priority=PRIORITY_TEXT.take(pa.array(tl["priority"])),
        status=STATUS_TEXT.take(pa.array(tl["status"])),
        created_at=tl["created"],
        first_started_at=tl["t_started"],
        completed_at=tl["t_done"],
        due_at=tl["due"],
    )
    timeline = dict(
        task_id=tl["task_id"],
        account_id=task_account,
        project_id=tasks["project_id"],
        created_at=tl["created"],
        creator_id=tasks["created_by_user_id"],
        assigned_at=tl["t_assigned"],
        assignee_id=to_id(tl["assignee"]),
        started_at=tl["t_started"],
        blocker1_added_at=tl["t_b1_added"],
        blocker1_resolved_at=tl["t_b1_resolved"],
        handoff_at=tl["t_handoff"],
        handoff_from_id=to_id(tl["handoff_from"]),
        handoff_to_id=to_id(tl["handoff_to"]),
        blocker2_added_at=tl["t_b2_added"],
        blocker2_resolved_at=tl["t_b2_resolved"],
        done_at=tl["t_done"],
        done_by_id=to_id(tl["finisher"]),
        cancelled_at=tl["t_cancel"],
        cancelled_from=tl["cancel_from"],
        cancelled_by_id=to_id(tl["cancel_by"]),
        planted_long_cycle=tl["planted_long_cycle"],
        original_done_at=tl["original_done_at"],
        planted_far_due=tl["planted_far_due"],
        original_due_at=tl["original_due_at"],
    )
    return AccountSim(users_cols, user_latent, sessions, projects, tasks, timeline)
