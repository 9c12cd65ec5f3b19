"""One account's lifecycle: its users, their sessions, its projects and every task's timeline.

`simulate_account` is a pure function of (params, plan, account index): it draws only from streams
keyed by the account, so any block schedule gives the same rows. Tables are derived from the
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

from . import names, vocab
from .entities import (DAY, HOUR, MAX_DAYS, MINUTE, MONTH_DAYS, NEVER, US, AccountPlan, to_us,
                       truncated_exponential)
from .params import Params, window_bounds_us
from .schema import STATUSES
from .sessions import Sessions, build_sessions, moment
from .streams import choice_index, lognormal, stream

NONE = -1  # "not reached" / "no user" in timeline columns
TASK_ID_STRIDE = 10_000_000  # task_id = account_id * 1e7 + n: ids do not depend on block scheduling
# Internal/test workspaces behave like scripts: bursts of tasks closed within minutes, at any hour.
INTERNAL_ACTIVE_PROB = 0.25
INTERNAL_TASK_BURST = 3.0  # x tasks.created_per_session
INTERNAL_SPEED = 0.02  # x every nominal task duration

TITLE_POOL = np.array([f"{v} {o}" for v in vocab.TASK_VERBS for o in vocab.TASK_OBJECTS], dtype=object)
PROJECT_NAME_POOL = np.array([f"{a} {k}" for a in vocab.PROJECT_AREAS for k in vocab.PROJECT_KINDS], dtype=object)

# status codes used in the timeline (indices into schema.STATUSES)
TODO, IN_PROGRESS, BLOCKED, DONE, CANCELLED = range(5)


@dataclass
class AccountSim:
    """Everything simulated for one account, as numpy columns (local user indices resolved to ids)."""

    users: dict
    user_latent: dict
    sessions: dict
    projects: dict
    tasks: dict
    timeline: dict


def _users(params: Params, plan: AccountPlan, a: int, rng: np.random.Generator, w1: int):
    n = int(plan.n_users[a])
    created_acct = int(plan.created_at[a])
    live_until = min(int(plan.churn_at[a]), w1)
    p = params.users

    # invitations: the founder at signup, the others spread over the account's life (front-loaded)
    lag = np.zeros(n, dtype=np.int64)
    if n > 1:
        lag[1:] = truncated_exponential(rng, p.invite_lag_days_mean * DAY,
                                        np.full(n - 1, live_until - created_acct, dtype=np.int64))
    created = created_acct + lag
    created[1:] = np.maximum(created[1:], created_acct + US)  # invited after the account exists

    act_lag = to_us(lognormal(rng, p.activation_lag_hours.median * HOUR, p.activation_lag_hours.sigma, n))
    act_lag[0] = to_us(lognormal(rng, 3 * MINUTE, 0.5, 1))[0]  # the founder signs in at once
    activated = created + act_lag
    never = rng.random(n) < p.never_activated_share
    never[0] = False
    activated[0] = min(activated[0], live_until - US, w1 - US)
    activated = np.where(never | (activated >= live_until), NONE, activated)

    rw = p.role_weights
    role = choice_index(rng, [rw.admin, rw.member, rw.guest], n)
    role[0] = 0  # the founder administers the account

    country = vocab.COUNTRIES[int(plan.country[a])]
    tz_names = [z for z, _ in country[3]]
    tz_home = np.array([vocab.TIMEZONES.index(z) for z in tz_names])[choice_index(rng, [w for _, w in country[3]], n)]
    tz_remote = np.floor(rng.random(n) * len(vocab.TIMEZONES)).astype(np.int64)
    tz = np.where(rng.random(n) < p.remote_share, tz_remote, tz_home)

    engagement = np.clip(rng.lognormal(0.0, p.engagement_sigma, n), 1e-3, 1e3)
    engagement = engagement * np.where(role == 2, p.guest_engagement_factor, 1.0)
    active_prob = np.clip(p.workday_active_prob * engagement, 0.0, 0.97)
    start_hour = np.clip(rng.normal(params.activity.workday_start_hour.mean,
                                    params.activity.workday_start_hour.sd, n), 5.0, 13.0)
    internal = bool(plan.internal[a])
    bot = np.zeros(n, dtype=bool)
    if internal:  # scripted test traffic: any hour, any day, in bursts; half the users are bots
        start_hour = rng.uniform(0.0, 23.0, n)
        active_prob = np.full(n, INTERNAL_ACTIVE_PROB)
        bot = (np.arange(n) > 0) & (rng.random(n) < 0.5)

    early = rng.random(n) < p.churn.early_share
    early_days = rng.exponential(p.churn.early_mean_days, n)
    late_mean = MONTH_DAYS / p.churn.late_monthly_rate if p.churn.late_monthly_rate > 0 else np.inf
    late_days = rng.exponential(1.0, n) * late_mean
    # lifetimes past ~27 years are "never" (all integer arithmetic from here: no float -> int overflow)
    life_days = np.minimum(np.where(early, early_days, late_days), MAX_DAYS)
    own_churn = np.full(n, NEVER, dtype=np.int64)
    finite = life_days < MAX_DAYS
    own_churn[finite] = activated[finite] + np.floor(life_days[finite] * DAY).astype(np.int64)
    churn = np.where(activated == NONE, NONE, np.minimum(own_churn, plan.churn_at[a]))
    churn = np.where((churn != NONE) & (churn >= w1), NEVER, churn)
    # a user churns strictly after activating (the activation session always exists)
    churn = np.where((churn != NONE) & (churn <= activated), activated + MINUTE, churn)

    pool = names.person_pool(country[2], params.seed)
    fi = np.floor(rng.random(n) * len(pool.first)).astype(np.int64)
    li = np.floor(rng.random(n) * len(pool.last)).astype(np.int64)
    full_name = pool.first[fi] + " " + pool.last[li]
    local = pool.first_ascii[fi] + "." + pool.last_ascii[li]
    # unique within the account: the second "ana.silva" becomes "ana.silva2"
    order = np.argsort(local, kind="stable")
    sorted_local = local[order]
    run_start = np.r_[True, sorted_local[1:] != sorted_local[:-1]]
    run_id = np.cumsum(run_start) - 1
    first_in_run = np.nonzero(run_start)[0]
    rank = np.arange(n) - first_in_run[run_id]
    suffix = np.empty(n, dtype=object)
    suffix[order] = np.where(rank == 0, "", (rank + 1).astype(str).astype(object))
    bot_no = np.cumsum(bot)
    full_name = np.where(bot, "QA Bot " + bot_no.astype(str).astype(object), full_name)
    local = np.where(bot, "qa-bot-" + bot_no.astype(str).astype(object), local)
    suffix = np.where(bot, "", suffix)
    email = local + suffix + "@" + plan.domain[a]

    user_id = plan.user_offset[a] + 1 + np.arange(n, dtype=np.int64)
    return dict(
        user_id=user_id, created=created, activated=activated, role=role, tz=tz,
        full_name=full_name, email=email, active_prob=active_prob, start_hour=start_hour,
        churn=churn, engagement=engagement, early=early, internal=internal,
    )


def _projects(plan: AccountPlan, a: int, ses: Sessions, rng: np.random.Generator):
    """Projects are created in the first session (of any user) starting at or after their nominal time."""
    first, count = int(plan.project_offset[a]), int(plan.n_projects[a])
    nominal = plan.project_nominal_at[first:first + count]
    k = np.minimum(np.searchsorted(ses.start_sorted, nominal, side="left"), len(ses) - 1)
    s, e = ses.start_sorted[k], ses.end_sorted[k]
    offset = np.minimum(rng.exponential(15.0 * MINUTE, count), (e - s) * 0.3).astype(np.int64)
    created = s + offset
    owner = ses.user_sorted[k]
    name_idx = np.floor(rng.random(count) * len(PROJECT_NAME_POOL)).astype(np.int64)
    project_name = PROJECT_NAME_POOL[name_idx]
    # the same name twice in one account gets " 2", " 3", ...
    dup_rank = np.zeros(count, dtype=np.int64)
    for_sort = np.argsort(name_idx, kind="stable")
    sorted_idx = name_idx[for_sort]
    run_start = np.r_[True, sorted_idx[1:] != sorted_idx[:-1]] if count else np.zeros(0, bool)
    if count:
        run_id = np.cumsum(run_start) - 1
        dup_rank[for_sort] = np.arange(count) - np.nonzero(run_start)[0][run_id]
    project_name = np.where(dup_rank == 0, project_name, project_name + " " + (dup_rank + 1).astype(str).astype(object))
    project_id = plan.project_offset[a] + 1 + np.arange(count, dtype=np.int64)
    return dict(project_id=project_id, created=created, owner=owner, session=k, name=project_name)


def _task_creations(params: Params, plan: AccountPlan, a: int, ses: Sessions, proj: dict,
                    create_rate: np.ndarray, rng: np.random.Generator):
    """When, by whom and in which project tasks are created.

    Work follows activity: each session creates Poisson(tasks.created_per_session x the user's
    creation factor) tasks at random moments of the session, each into a project that already exists
    (the newest project half the time, else any live one). A project keeps at most
    tasks_per_project.max tasks (first come, first kept) and gets at least tasks_per_project.min:
    missing ones are created in random sessions from the project's creation on.
    """
    tpp = params.tasks_per_project
    n_p = len(proj["project_id"])
    n_s = len(ses)
    # --- activity-driven creations
    per_session = rng.poisson(params.tasks.created_per_session * create_rate[ses.user_sorted]) if n_s else np.zeros(0, np.int64)
    k = np.repeat(np.arange(n_s), per_session)
    t = moment(rng, ses.start_sorted[k], ses.end_sorted[k])
    p_order = np.argsort(proj["created"], kind="stable")
    p_created_sorted = proj["created"][p_order]
    live = np.searchsorted(p_created_sorted, t, side="left")  # projects created strictly before t
    newest = rng.random(len(k)) < 0.5
    pick = np.where(newest, live - 1, np.floor(rng.random(len(k)) * np.maximum(live, 1)).astype(np.int64))
    ok = live > 0
    k, t, pj = k[ok], t[ok], p_order[np.maximum(pick[ok], 0)]
    # --- cap: a project keeps its first tasks_per_project.max tasks
    capacity = np.full(n_p, tpp.max, dtype=np.int64)
    order = np.lexsort((t, pj))
    k, t, pj = k[order], t[order], pj[order]
    run_start = np.r_[True, pj[1:] != pj[:-1]] if len(pj) else np.zeros(0, bool)
    rank = np.arange(len(pj)) - np.maximum.accumulate(np.where(run_start, np.arange(len(pj)), 0)) if len(pj) else pj
    keep = rank < capacity[pj]
    k, t, pj = k[keep], t[keep], pj[keep]
    # --- floor: top up projects below tasks_per_project.min (to min plus a few, so counts do not
    # pile up at exactly min)
    have = np.bincount(pj, minlength=n_p)
    target = np.minimum(tpp.min + rng.poisson(2.0, n_p), capacity)
    need = np.where(have < tpp.min, np.maximum(target - have, 0), 0)
    tp = np.repeat(np.arange(n_p), need)
    p_created = proj["created"][tp]
    lo = np.searchsorted(ses.start_sorted, p_created, side="right")
    choices = n_s - lo + 1
    j = np.floor(rng.random(len(tp)) * choices).astype(np.int64)
    kk = np.where(j == 0, proj["session"][tp], lo + j - 1)
    s0 = np.maximum(ses.start_sorted[kk], p_created + 1)
    e0 = ses.end_sorted[kk]
    tt = np.minimum(s0 + np.floor(rng.random(len(tp)) * np.maximum(e0 - s0, 0)).astype(np.int64), np.maximum(e0 - 1, s0))
    k, t, pj = np.concatenate([k, kk]), np.concatenate([t, tt]), np.concatenate([pj, tp])
    # tasks in order of creation (ties by project): task ids follow time
    order = np.lexsort((pj, t))
    return t[order], ses.user_sorted[k[order]], pj[order]


def _task_lifecycle(params: Params, plan: AccountPlan, a: int, ses: Sessions, proj: dict,
                    create_rate: np.ndarray, rng: np.random.Generator, w1: int) -> dict:
    """Create tasks from activity, then walk each through its stages."""
    p = params.tasks
    created, creator, pj = _task_creations(params, plan, a, ses, proj, create_rate, rng)
    n = len(created)
    if n >= TASK_ID_STRIDE:
        raise ValueError(f"account {a + 1} has {n} tasks; at most {TASK_ID_STRIDE - 1} fit its id range")
    task_id = (a + 1) * TASK_ID_STRIDE + 1 + np.arange(n, dtype=np.int64)

    priority = choice_index(rng, [getattr(p.priority_weights, x) for x in vocab.PRIORITIES], n)
    title = TITLE_POOL[np.floor(rng.random(n) * len(TITLE_POOL)).astype(np.int64)]
    has_due = rng.random(n) < p.due_date_share
    due_days = lognormal(rng, p.due_in_days.median, p.due_in_days.sigma, n)
    due = ((created + to_us(due_days * DAY)) // DAY + 1) * DAY
    due = np.where(has_due, due, NONE)

    # --- draws for every stage (drawn for all tasks, so counts never depend on earlier outcomes)
    assigned = rng.random(n) < p.assigned_share
    self_assigned = rng.random(n) < p.self_assigned_share
    never_started = rng.random(n) < p.never_started_share
    blockers = np.where(rng.random(n) < p.blocker_prob, np.where(rng.random(n) < p.second_blocker_prob, 2, 1), 0)
    handoff = rng.random(n) < p.handoff_prob
    cancelled = rng.random(n) < p.cancelled_share
    backlog_cancel = rng.random(n) < p.backlog_cancelled_share
    cycle = lognormal(rng, p.cycle_time_days.median * DAY, p.cycle_time_days.sigma, n)
    cycle = cycle * np.array(vocab.PRIORITY_CYCLE_FACTOR)[priority]
    to_start = lognormal(rng, p.time_to_start_hours.median * HOUR, p.time_to_start_hours.sigma, n)
    block_len = lognormal(rng, p.blocker_duration_hours.median * HOUR, p.blocker_duration_hours.sigma, (n, 2))
    backlog_wait = lognormal(rng, 14.0 * DAY, 1.0, n)
    if plan.internal[a]:  # scripted test traffic: tasks are picked up and closed within minutes
        cycle, to_start, block_len = cycle * INTERNAL_SPEED, to_start * INTERNAL_SPEED, block_len * INTERNAL_SPEED
    assign_delay = np.floor(rng.uniform(5.0, 240.0, n) * US).astype(np.int64)

    ns = to_us

    # --- assignment (by the creator, moments after creation)
    other = ses.other_user_near(created, creator, 7 * DAY, rng)
    assignee = np.where(assigned, np.where(self_assigned | (other < 0), creator, other), NONE)
    t_assigned = np.where(assigned, ses.snap(creator, created + assign_delay, rng), NONE)
    t_assigned = np.where(assigned & (t_assigned >= 0), t_assigned, NONE)
    assignee = np.where(t_assigned >= 0, assignee, NONE)

    # --- start (by the assignee)
    go = (assignee >= 0) & ~never_started
    t_started = np.where(go, ses.snap(assignee, t_assigned + ns(to_start), rng), NONE)
    go &= t_started >= 0
    t_started = np.where(go, t_started, NONE)
    holder = assignee.copy()
    last = np.where(go, t_started, NONE)

    def stage(active, actor, nominal):
        t = np.where(active, ses.snap(np.where(active, actor, 0), nominal, rng), NONE)
        reached = active & (t >= 0)
        return np.where(reached, t, NONE), reached

    def blocker(want, offset, duration):
        """Blocked by the holder after `offset`, resolved after `duration`; a step not reached stalls the task."""
        nonlocal go, last
        added, r = stage(want, holder, last + ns(offset))
        go &= ~want | r
        last = np.where(r, added, last)
        resolved, r2 = stage(r, holder, last + ns(duration))
        go &= ~r | r2
        last = np.where(r2, resolved, last)
        return added, resolved

    # --- first blocker: added after ~25% of the cycle, resolved after its duration
    t_b1_added, t_b1_resolved = blocker(go & (blockers >= 1), 0.25 * cycle, block_len[:, 0])

    # --- hand-off: the holder passes the task to a colleague who is around in the next week
    want = go & handoff
    t_handoff, r = stage(want, holder, last + ns(0.25 * cycle))
    receiver = np.where(r, ses.other_user_near(np.where(r, t_handoff, 0), holder, 7 * DAY, rng), NONE)
    r &= receiver >= 0
    t_handoff = np.where(r, t_handoff, NONE)
    handoff_from = np.where(r, holder, NONE)
    handoff_to = np.where(r, receiver, NONE)
    # the receiver picks it up in their next session
    holder = np.where(r, receiver, holder)
    last = np.where(r, t_handoff, last)

    # --- second blocker, with whoever holds the task now
    t_b2_added, t_b2_resolved = blocker(go & (blockers >= 2), 0.2 * cycle, block_len[:, 1])

    # --- finish: done, or cancelled by the holder
    t_finished, r = stage(go, holder, last + ns(0.3 * cycle))
    t_done = np.where(r & ~cancelled, t_finished, NONE)
    t_cancel = np.where(r & cancelled, t_finished, NONE)

    # --- backlog that nobody starts: some of it is cancelled by its creator weeks later
    backlog = t_started < 0
    t_bl, r = stage(backlog & backlog_cancel, creator, created + ns(backlog_wait))
    t_cancel = np.where(r, t_bl, t_cancel)

    # --- outliers, planted: a few done tasks drag on past the threshold, a few get far-future due dates
    # (each kind of outlier has its own stream: changing one rate never moves the other's rows)
    out = params.imperfections.outliers
    original_done, original_due = t_done.copy(), due.copy()
    long_cycle = _plant_long_cycles(out, ses, holder, t_started, t_done, stream(params.seed, "outliers", 2 * (a + 1)))
    t_done = np.where(long_cycle >= 0, long_cycle, t_done)
    far_due = _plant_far_due_dates(out, created, due, stream(params.seed, "outliers", 2 * (a + 1) + 1))
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
        planted_long_cycle=long_cycle >= 0, original_done_at=original_done,
        planted_far_due=far_due >= 0, original_due_at=original_due,
        task_id=task_id, project_index=pj, created=created, creator=creator, title=title,
        priority=priority, due=due, assignee=assignee, holder=np.where(assignee >= 0, holder, NONE),
        t_assigned=t_assigned, t_started=t_started, t_b1_added=t_b1_added, t_b1_resolved=t_b1_resolved,
        t_handoff=t_handoff, handoff_from=handoff_from, handoff_to=handoff_to,
        t_b2_added=t_b2_added, t_b2_resolved=t_b2_resolved, t_done=t_done, finisher=finisher,
        t_cancel=t_cancel, cancel_from=cancel_from, cancel_by=cancel_by, status=status,
    )


def _stochastic_round(x: float, rng: np.random.Generator) -> int:
    """floor(x) or floor(x) + 1 with the right odds: per-account counts add up to the target share."""
    if x <= 0:
        return 0
    return int(np.floor(x)) + int(rng.random() < x - np.floor(x))


def _plant_long_cycles(out, ses: Sessions, holder, t_started, t_done, rng) -> np.ndarray:
    """New completion times (or -1) for done tasks chosen to take longer than the threshold.

    The share is of done tasks, natural long ones included. A chosen task is completed by its
    holder in their first session after started + threshold x U(1.05, 2.5); a task whose holder has
    no session left then keeps its normal completion, and the next candidate is taken instead.
    """
    threshold = out.long_cycle_threshold_days * DAY
    done = t_done >= 0
    natural = done & (t_done - t_started > threshold)
    k = _stochastic_round(out.long_cycle_share * done.sum() - natural.sum(), rng)
    new = np.full(len(t_done), NONE, dtype=np.int64)
    cand = np.nonzero(done & ~natural)[0]
    if k == 0 or len(cand) == 0:
        return new
    cand = cand[rng.permutation(len(cand))]
    nominal = t_started[cand] + to_us(threshold * rng.uniform(1.05, 2.5, len(cand)))
    t = ses.snap(holder[cand], nominal, rng)
    ok = np.nonzero(t >= 0)[0][:k]
    new[cand[ok]] = t[ok]
    return new


def _plant_far_due_dates(out, created, due, rng) -> np.ndarray:
    """New due dates (or -1): tasks with a due date that get one far past the threshold (placeholders)."""
    threshold = out.far_due_threshold_days * DAY
    natural = (due >= 0) & (due - created > threshold)
    k = _stochastic_round(out.far_due_share * len(due) - natural.sum(), rng)
    new = np.full(len(due), NONE, dtype=np.int64)
    cand = np.nonzero((due >= 0) & ~natural)[0]
    if k == 0 or len(cand) == 0:
        return new
    pick = cand[rng.permutation(len(cand))[:k]]
    new[pick] = ((created[pick] + to_us(threshold * rng.uniform(1.05, 4.0, len(pick)))) // DAY + 1) * DAY
    return new


def simulate_account(params: Params, plan: AccountPlan, a: int) -> AccountSim:
    """Simulate account index a (account_id a + 1)."""
    w0, w1 = window_bounds_us(params)
    account_id = a + 1
    users = _users(params, plan, a, stream(params.seed, "users", account_id), w1)

    act = users["activated"] >= 0
    act_idx = np.nonzero(act)[0]
    ses_local = build_sessions(
        rng=stream(params.seed, "sessions", account_id),
        start_date=params.window.start, days=params.window.days, w0=w0, w1=w1,
        tz=users["tz"][act_idx], activated_at=users["activated"][act_idx], churn_at=users["churn"][act_idx],
        active_prob=users["active_prob"][act_idx], start_hour=users["start_hour"][act_idx],
        weekend_factor=1.0 if users["internal"] else params.activity.weekend_factor,
        workday_hours=params.activity.workday_hours,
        weekend_hours_factor=params.activity.weekend_hours_factor,
    )
    # session users index activated users; map back to the account's user index
    ses = Sessions(act_idx[ses_local.user], ses_local.start, ses_local.end, w0)

    proj = _projects(plan, a, ses, stream(params.seed, "projects", account_id))
    create_rate = np.where(users["role"] == 2, params.users.guest_engagement_factor, 1.0) * np.sqrt(users["engagement"])
    if users["internal"]:
        create_rate = np.full(len(create_rate), INTERNAL_TASK_BURST)
    tl = _task_lifecycle(params, plan, a, ses, proj, create_rate, stream(params.seed, "tasks", account_id), w1)

    uid = users["user_id"]

    def to_id(local):
        return np.where(local >= 0, uid[np.maximum(local, 0)], NONE)

    n_users = len(uid)
    role_names = np.array(vocab.ROLES, dtype=object)
    users_cols = dict(
        user_id=uid, account_id=np.full(n_users, account_id, np.int64), full_name=users["full_name"],
        email=users["email"], role=role_names[users["role"]],
        timezone=np.array(vocab.TIMEZONES, dtype=object)[users["tz"]], created_at=users["created"],
        activated_at=users["activated"], is_internal=np.full(n_users, users["internal"]),
    )
    user_latent = dict(
        user_id=uid, account_id=users_cols["account_id"], engagement=users["engagement"],
        workday_active_prob=users["active_prob"], early_churner=users["early"],
        churn_at=np.where(users["churn"] == NEVER, NONE, users["churn"]),  # -1: never activated or stays
    )
    sessions = dict(
        account_id=np.full(len(ses), account_id, np.int64), user_id=uid[ses.user],
        session_start=ses.start, session_end=ses.end,
    )
    projects = dict(
        project_id=proj["project_id"], account_id=np.full(len(proj["project_id"]), account_id, np.int64),
        owner_user_id=uid[proj["owner"]], project_name=proj["name"], created_at=proj["created"],
    )
    # a project is archived, sometimes, a while after its last task closed (only if all are closed)
    prj_rng = stream(params.seed, "archive", account_id)
    n_p = len(proj["project_id"])
    closed = (tl["status"] == DONE) | (tl["status"] == CANCELLED)
    last_close = np.maximum(tl["t_done"], tl["t_cancel"])
    open_per_project = np.bincount(tl["project_index"], weights=~closed, minlength=n_p)
    last_per_project = np.full(n_p, -1, dtype=np.int64)
    np.maximum.at(last_per_project, tl["project_index"], last_close)
    has_tasks = np.bincount(tl["project_index"], minlength=n_p) > 0
    lag = to_us(lognormal(prj_rng, params.projects.archive_lag_days.median * DAY,
                          params.projects.archive_lag_days.sigma, n_p))
    archive_at = last_per_project + lag
    archived = has_tasks & (open_per_project == 0) & (prj_rng.random(n_p) < params.projects.archive_share) \
        & (archive_at < w1)
    projects["archived_at"] = np.where(archived, archive_at, NONE)

    tasks = dict(
        task_id=tl["task_id"], account_id=np.full(len(tl["task_id"]), account_id, np.int64),
        project_id=proj["project_id"][tl["project_index"]], created_by_user_id=uid[tl["creator"]],
        assignee_user_id=to_id(tl["holder"]), title=tl["title"],
        priority=np.array(vocab.PRIORITIES, dtype=object)[tl["priority"]],
        status=np.array(STATUSES, dtype=object)[tl["status"]],
        created_at=tl["created"], first_started_at=tl["t_started"], completed_at=tl["t_done"], due_at=tl["due"],
    )
    timeline = dict(
        task_id=tl["task_id"], account_id=tasks["account_id"], project_id=tasks["project_id"],
        created_at=tl["created"], creator_id=tasks["created_by_user_id"],
        assigned_at=tl["t_assigned"], assignee_id=to_id(tl["assignee"]),
        started_at=tl["t_started"],
        blocker1_added_at=tl["t_b1_added"], blocker1_resolved_at=tl["t_b1_resolved"],
        handoff_at=tl["t_handoff"], handoff_from_id=to_id(tl["handoff_from"]), handoff_to_id=to_id(tl["handoff_to"]),
        blocker2_added_at=tl["t_b2_added"], blocker2_resolved_at=tl["t_b2_resolved"],
        done_at=tl["t_done"], done_by_id=to_id(tl["finisher"]),
        cancelled_at=tl["t_cancel"], cancelled_from=tl["cancel_from"], cancelled_by_id=to_id(tl["cancel_by"]),
        planted_long_cycle=tl["planted_long_cycle"], original_done_at=tl["original_done_at"],
        planted_far_due=tl["planted_far_due"], original_due_at=tl["original_due_at"],
    )
    return AccountSim(users_cols, user_latent, sessions, projects, tasks, timeline)

