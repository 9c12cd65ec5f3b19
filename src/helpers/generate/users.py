"""Users of a block of accounts: invitation, activation, role, time zone, engagement, churn, name and
e-mail, and the working sessions they spend in the product.

Every user draws one row of uniforms and one of standard normals (two calls per account, one named
column per decision), so adding a decision never shifts another's numbers within a row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import scenarios
from ..params import Params
from ..schema import PLAN_TIERS, ROLES
from ..streams import DrawColumns, truncated_exponential_from_u
from ..units import DAY, HOUR, MAX_DAYS, MINUTE, MONTH_DAYS, NEVER, US, moment_us, to_us
from . import calendar, names, vocab
from .accounts import AccountPlan, Block
from .sessions import DayPlan, Sessions, SessionShape, build_sessions, utc_offsets, weekend_mask

NONE = -1  # no activation / no churn time
ADMIN, MEMBER, GUEST = ROLES.index("admin"), ROLES.index("member"), ROLES.index("guest")
# Internal/test workspaces behave like scripts: in the product on a quarter of all days, any hour.
INTERNAL_ACTIVE_PROB = 0.25

UNIFORMS = (
    "invite_lag",
    "invite_day",
    "invite_hour",
    "sign_in_day",
    "sign_in_hour",
    "leave_early",
    "dormant",
    "dormant_start",
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
NORMALS = ("activation_lag", "engagement", "start_hour", "fade_days", "dormant_weeks")

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


@dataclass(frozen=True)
class Users:
    """The users of a block, one row each (block order: grouped by account). Times in us."""

    user_id: np.ndarray
    created: np.ndarray  # invitation
    activated: np.ndarray  # first sign-in, NONE if never
    churn: np.ndarray  # NONE (never activated), NEVER (stays past the window) or the churn time
    role: np.ndarray  # index into schema.ROLES
    tz: np.ndarray  # index into vocab.TIMEZONES
    engagement: np.ndarray  # lognormal multiplier of activity
    active_prob: np.ndarray  # chance of a session on a workday
    start_hour: np.ndarray  # local hour the working day starts
    early: np.ndarray  # an early churner ("tourist")
    internal: np.ndarray  # of an internal/test workspace
    full_name: np.ndarray
    email: np.ndarray
    fade: np.ndarray  # us: activity fades over this span before churn
    dormant_from: np.ndarray  # a quiet spell (NONE: none)
    dormant_to: np.ndarray
    scripted: np.ndarray | None = None  # of a sandbox driven by a script (generate.sandboxes); None: nobody
    deactivated: np.ndarray | None = None  # the seat removed by an admin (NONE: held); None: nobody's

    def __post_init__(self) -> None:
        if self.scripted is None:
            object.__setattr__(self, "scripted", np.zeros(len(self.user_id), dtype=bool))
        if self.deactivated is None:
            object.__setattr__(self, "deactivated", np.full(len(self.user_id), NONE, dtype=np.int64))


def simulate_users(params: Params, plan: AccountPlan, block: Block, w1: int) -> Users:
    """Every user of the block's accounts; the first user of an account is its founder (admin, signs
    in at signup)."""
    draws = block.draws(params, "users")
    u = DrawColumns(draws.random(block.n_users, cols=len(UNIFORMS)), UNIFORMS)
    z = DrawColumns(draws.normal(0.0, 1.0, block.n_users, cols=len(NORMALS)), NORMALS)
    country = plan.country[block.accounts][block.user_acct]
    tier = plan.tier[block.accounts][block.user_acct]
    sandbox = block.sandbox[block.user_acct]
    second = sandbox & ~block.first_user  # the owner again, on a second address
    tz = _time_zones(params, country, u)
    tz = np.where(second, tz[_founder(block)], tz)
    created, activated = _invite_and_activate(params, plan, block, tz, w1, u, z)
    role = np.where(block.first_user, ADMIN, _roles(params, tier, u.role))  # the founder administers it
    role = np.where(second, MEMBER, role)  # to see the product as a member sees it
    engagement, active_prob, start_hour = _engagement(params, block, role, tier, u, z)
    early, churn = _churn(params, plan, block, activated, w1, u)
    deactivated = _deactivations(params, plan, block, churn, w1)
    full_name, email = _names_and_emails(params, plan, block, country, u)
    user_id = (
        plan.user_offset[block.accounts[0]] + 1 + np.arange(len(created), dtype=np.int64)
        if len(created)
        else np.zeros(0, np.int64)
    )
    fade, dormant_from, dormant_to = _quiet_spells(params, activated, churn, early, u, z)
    return Users(
        user_id,
        created,
        activated,
        churn,
        role,
        tz,
        engagement,
        active_prob,
        start_hour,
        early,
        block.internal[block.user_acct],
        full_name,
        email,
        fade,
        dormant_from,
        dormant_to,
        block.scripted[block.user_acct],
        deactivated,
    )


def _deactivations(params: Params, plan: AccountPlan, block: Block, churn: np.ndarray, w1: int) -> np.ndarray:
    """When an admin removes a leaver's seat (NONE: never): users.deactivation.share of the users who left, a
    lognormal lag after they left, while their account still exists and before the window's end. From a stream
    of its own (one draw pair per user), so the share changes no other draw."""
    d = params.users.deactivation
    if d.share == 0:
        return np.full(len(churn), NONE, dtype=np.int64)
    draws = block.draws(params, "deactivation")
    removes = draws.random(block.n_users) < d.share
    lag = np.maximum(to_us(draws.lognormal(d.lag_days.median, d.lag_days.sigma, block.n_users) * DAY), MINUTE)
    left = (churn != NONE) & (churn != NEVER)
    at = np.where(left, churn, 0) + lag
    account_ends = np.minimum(plan.churn_at[block.accounts][block.user_acct], w1)
    return np.where(left & removes & (at < account_ends), at, NONE)


def _founder(block: Block) -> np.ndarray:
    """Per user: the block-local index of its account's first user."""
    starts = np.r_[0, np.cumsum(block.n_users)[:-1]].astype(np.int64)
    return starts[block.user_acct]


def _roles(params: Params, tier: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Invited users' roles; guests (external collaborators) weigh more on paid plans."""
    p = params.users
    guest_factor = np.array([getattr(p.guest_weight_by_plan, t) for t in PLAN_TIERS])[tier]
    weights = np.array([getattr(p.role_weights, r) for r in ROLES], dtype=float)
    w = np.broadcast_to(weights, (len(tier), len(ROLES))).copy()
    w[:, GUEST] *= guest_factor
    cdf = np.cumsum(w, axis=1)
    return np.minimum(np.sum(cdf <= (u * cdf[:, -1])[:, None], axis=1), len(ROLES) - 1)


def _invite_and_activate(
    params: Params, plan: AccountPlan, block: Block, tz: np.ndarray, w1: int, u: DrawColumns, z: DrawColumns
):
    """Invitations: the founder at signup, the first team spread over the account's life (front-loaded),
    newcomers evenly from users.newcomers.after_days on, sent during the working day; activation a lognormal
    lag later, at the invitee's next working moment (the founder's within minutes of signup); some never
    activate, nobody after the account's churn or the window."""
    p = params.users
    created_acct = plan.created_at[block.accounts][block.user_acct]
    live_until = np.minimum(plan.churn_at[block.accounts], w1)[block.user_acct]
    first = block.first_user
    lag = truncated_exponential_from_u(u.invite_lag, p.invite_lag_days_mean * DAY, live_until - created_acct)
    after = to_us(p.newcomers.after_days * DAY)  # a newcomer joins any time from after_days on (uniform)
    later = after + np.floor(u.invite_lag * np.maximum(live_until - created_acct - after, 0)).astype(np.int64)
    lag = np.where(block.newcomer, later, lag)
    invited = working_moment(params, created_acct + lag, tz, u.invite_day, u.invite_hour)
    invited = np.where(invited < live_until, invited, created_acct + lag)  # no working day left: as it came
    created = np.where(first, created_acct, np.maximum(invited, created_acct + US))
    act_lag = to_us(
        np.where(
            first,
            3 * MINUTE * np.exp(0.5 * z.activation_lag),  # the founder signs in at once
            p.activation_lag_hours.median * HOUR * np.exp(p.activation_lag_hours.sigma * z.activation_lag),
        )
    )
    signed_in = working_moment(params, created + act_lag, tz, u.sign_in_day, u.sign_in_hour)
    activated = np.where(first, created + act_lag, np.maximum(signed_in, created + US))
    never = (u.never_activated < p.never_activated_share) & ~first
    activated = np.where(first, np.minimum(np.minimum(activated, live_until - US), w1 - US), activated)
    return created, np.where(never | (activated >= live_until), NONE, activated)


# When people act in the product on purpose (invite, first sign-in): a weekday, 08:00-18:00 local.
WORK_FROM_HOUR, WORK_TO_HOUR = 8.0, 18.0


def working_moment(params: Params, t: np.ndarray, tz: np.ndarray, u_day: np.ndarray, u_hour: np.ndarray) -> np.ndarray:
    """t where it falls on a local weekday between 08:00 and 18:00; else a moment of the next such
    working day (a local hour from activity.local_hour_weights, within those hours). A usual share of
    moments (a fifth, by u_day) is kept as it is: people also act in the evening and at weekends."""
    start = params.span.start
    days = params.span.days
    w0 = moment_us(start)
    offsets = utc_offsets(start, days)
    col = np.clip((t - w0) // DAY + 1, 0, days + 1)
    local = t + offsets[tz, col]
    local_col = (local - w0) // DAY + 1
    hour = (local - w0 - (local_col - 1) * DAY) / HOUR
    day_number = start.toordinal() + local_col - 1  # proleptic ordinal: Monday when % 7 == 1
    weekday = (day_number - 1) % 7 < 5
    at_work = weekday & (hour >= WORK_FROM_HOUR) & (hour < WORK_TO_HOUR)
    # the next working day: today if it is a weekday and the day has not started, else the next weekday
    today = weekday & (hour < WORK_FROM_HOUR)
    step = np.where(today, 0, 1)
    dow = (day_number + step - 1) % 7  # 0 = Monday
    step = step + np.where(dow == 5, 2, np.where(dow == 6, 1, 0))
    new_col = local_col + step
    weights = np.asarray(params.activity.local_hour_weights, dtype=float)[int(WORK_FROM_HOUR) : int(WORK_TO_HOUR)]
    cdf = np.cumsum(weights) / weights.sum()
    u_h = np.mod(u_hour * 7.0, 1.0)  # u_hour picks the hour bin; its fractional part the minute
    h = WORK_FROM_HOUR + np.searchsorted(cdf, u_hour, side="right").clip(0, len(weights) - 1) + u_h
    new_local = w0 + (new_col - 1) * DAY + np.floor(h * HOUR).astype(np.int64)
    moved = new_local - offsets[tz, np.clip(new_col, 0, days + 1)]
    keep = at_work | (u_day < 0.2)
    return np.where(keep, t, np.maximum(moved, t))


def _time_zones(params: Params, country: np.ndarray, u: DrawColumns) -> np.ndarray:
    """A home zone of the account's country (by its weights), or, for remote users, any zone."""
    home = np.sum(HOME_ZONE_CDF[country] <= u.home_zone[:, None], axis=1)
    remote = np.floor(u.remote_zone * len(vocab.TIMEZONES)).astype(np.int64)
    return np.where(u.remote < params.users.remote_share, remote, HOME_ZONE[country, home])


def _engagement(params: Params, block: Block, role: np.ndarray, tier: np.ndarray, u: DrawColumns, z: DrawColumns):
    """(engagement, chance of a session on a workday, local start hour). Engagement is heavy-tailed
    (a small core of power users), higher on paid plans; guests drop by; internal workspaces are
    scripted: any hour, a fixed chance."""
    p = params.users
    plan_factor = np.array([getattr(p.plan_engagement, t) for t in PLAN_TIERS])[tier]
    engagement = np.clip(np.exp(p.engagement_sigma * z.engagement) * plan_factor, 1e-3, 1e3)
    engagement = engagement * np.where(role == GUEST, p.guest_engagement_factor, 1.0)
    active_prob = np.clip(p.workday_active_prob * np.sqrt(engagement), 0.0, 0.95)
    hour = params.activity.workday_start_hour
    start_hour = np.clip(hour.mean + hour.sd * z.start_hour, 5.0, 13.0)
    internal = block.internal[block.user_acct]
    start_hour = np.where(internal, 23.0 * u.internal_start_hour, start_hour)
    active_prob = np.where(internal, INTERNAL_ACTIVE_PROB, active_prob)
    return engagement, active_prob, start_hour


def _churn(params: Params, plan: AccountPlan, block: Block, activated: np.ndarray, w1: int, u: DrawColumns):
    """(early churner, churn time): "tourists" leave within days, the rest at a slow monthly rate, and
    nobody outlives their account: members of a leaving account go one by one in the weeks before it
    (its seats shrink), the founder last. NEVER past the window, NONE for users who never activated."""
    p = params.users.churn
    early = u.early_churner < scenarios.early_churn_share(params, activated)
    early_days = -np.log1p(-u.early_days) * p.early_mean_days
    late_mean = MONTH_DAYS / p.late_monthly_rate if p.late_monthly_rate > 0 else np.inf
    with np.errstate(invalid="ignore"):  # inf x 0 when late churn is off and the draw is 0
        late_days = np.nan_to_num(-np.log1p(-u.late_days) * late_mean, nan=np.inf)
    # lifetimes past ~27 years are "never" (all integer arithmetic from here: no float -> int overflow)
    life_days = np.minimum(np.where(early, early_days, late_days), MAX_DAYS)
    own_churn = np.full(len(activated), NEVER, dtype=np.int64)
    finite = life_days < MAX_DAYS
    own_churn[finite] = activated[finite] + np.floor(life_days[finite] * DAY).astype(np.int64)
    account_churn = plan.churn_at[block.accounts][block.user_acct]
    lead = np.where(block.first_user, 0, np.floor(u.leave_early * p.leave_before_account_days * DAY).astype(np.int64))
    leaves_with_account = np.where(account_churn == NEVER, NEVER, np.maximum(account_churn - lead, activated + MINUTE))
    churn = np.where(activated == NONE, NONE, np.minimum(own_churn, leaves_with_account))
    churn = np.where((churn != NONE) & (churn >= w1), NEVER, churn)
    # a user churns strictly after activating (the activation session always exists)
    return early, np.where((churn != NONE) & (churn <= activated), activated + MINUTE, churn)


def _quiet_spells(params: Params, activated, churn, early, u: DrawColumns, z: DrawColumns):
    """(fade span, dormant from, dormant to): activity fades over `fade` before churn; some users (not
    tourists) go quiet for weeks some time after their first fortnight, and come back."""
    c, d = params.users.churn, params.users.dormancy
    fade = to_us(c.fade_days.median * DAY * np.exp(c.fade_days.sigma * z.fade_days))
    dormant = (u.dormant < d.share) & ~early & (activated != NONE)
    begin = activated + to_us((14.0 + 150.0 * u.dormant_start) * DAY)
    length = to_us(d.weeks.median * 7 * DAY * np.exp(d.weeks.sigma * z.dormant_weeks))
    ok = dormant & ((churn == NEVER) | (begin + length < churn))  # they come back: the spell ends before churn
    return fade, np.where(ok, begin, NONE), np.where(ok, begin + length, NONE)


def _names_and_emails(params: Params, plan: AccountPlan, block: Block, country: np.ndarray, u: DrawColumns):
    """Names from the pool of the account country's locale; e-mails first.last@domain, unique within
    the account ("ana.silva2"); half of an internal workspace's users (not its founder) are QA bots."""
    n = len(country)
    full_name, local = np.empty(n, dtype=object), np.empty(n, dtype=object)
    locale = LOCALE_OF_COUNTRY[country]
    for loc in np.unique(locale):
        rows = np.nonzero(locale == loc)[0]
        pool = names.person_pool(LOCALES[loc], params.seed)
        fi = np.floor(u.first_name[rows] * len(pool.first)).astype(np.int64)
        li = np.floor(u.last_name[rows] * len(pool.last)).astype(np.int64)
        full_name[rows] = pool.first[fi] + " " + pool.last[li]
        local[rows] = pool.first_ascii[fi] + "." + pool.last_ascii[li]
    suffix = _repeat_suffix(local, block.user_acct)
    bot = block.internal[block.user_acct] & ~block.first_user & (u.bot < 0.5)
    bot_no = _rank_in_account(bot, block)
    full_name = np.where(bot, "QA Bot " + bot_no.astype(str).astype(object), full_name)
    local = np.where(bot, "qa-bot-" + bot_no.astype(str).astype(object), local)
    suffix = np.where(bot, "", suffix)
    full_name, local, suffix = _given_people(plan, block, full_name, local, suffix)
    return full_name, local + suffix + "@" + plan.domain[block.accounts][block.user_acct]


def _given_people(plan: AccountPlan, block: Block, full_name, local, suffix):
    """Sandboxes and their lookalikes (generate.sandboxes) have their people from the plan: the first user is
    the owner, the second the owner again on a plus address (a sandbox) or a partner (a lookalike); their
    addresses are unique already."""
    first = block.first_user
    owner_name = plan.owner_name[block.accounts][block.user_acct]
    given = owner_name != ""
    name = np.where(first, owner_name, plan.partner_name[block.accounts][block.user_acct])
    given_local = np.where(
        first, plan.owner_local[block.accounts][block.user_acct], plan.partner_local[block.accounts][block.user_acct]
    )
    return np.where(given, name, full_name), np.where(given, given_local, local), np.where(given, "", suffix)


def _repeat_suffix(local: np.ndarray, account: np.ndarray) -> np.ndarray:
    """ "" for the first of equal local parts in an account, then "2", "3", ... (in user order)."""
    n = len(local)
    order = np.argsort(local, kind="stable")
    order = order[np.argsort(account[order], kind="stable")]
    same = np.r_[False, (local[order][1:] == local[order][:-1]) & (account[order][1:] == account[order][:-1])]
    run = np.cumsum(~same) - 1
    rank = np.arange(n) - np.nonzero(~same)[0][run] if n else np.zeros(0, np.int64)
    suffix = np.empty(n, dtype=object)
    suffix[order] = np.where(rank == 0, "", (rank + 1).astype(str).astype(object))
    return suffix


def _rank_in_account(flag: np.ndarray, block: Block) -> np.ndarray:
    """1, 2, ... over the flagged users of each account (in user order)."""
    cum = np.cumsum(flag)
    if not len(flag):
        return cum
    starts = np.r_[0, np.cumsum(block.n_users)[:-1]]
    return cum - (cum[starts] - flag[starts])[block.user_acct]


def user_sessions(params: Params, block: Block, users: Users, w0: int, w1: int) -> Sessions:
    """The sessions of the block's activated users (indexed by the block's user index)."""
    act = np.nonzero(users.activated >= 0)[0]
    a = params.activity
    shape = SessionShape(
        hour_weights=np.asarray(a.local_hour_weights, dtype=float),
        minutes_median=a.session_minutes.median,
        minutes_sigma=a.session_minutes.sigma,
        desktop_app_share=a.clients.desktop_app_share,
        mobile_user_share=a.clients.mobile_user_share,
        mobile_session_share=a.clients.mobile_session_share,
        ios_share=a.clients.ios_share,
    )
    own = build_sessions(
        rng=block.draws(params, "sessions"),
        start_date=params.span.start,
        days=params.span.days,
        w0=w0,
        w1=w1,
        tz=users.tz[act],
        activated_at=users.activated[act],
        churn_at=users.churn[act],
        start_hour=users.start_hour[act],
        plan=day_plan(params, users, act, w0, w1),
        shape=shape,
        account=block.user_acct[act],
        n_accounts=len(block),
    )
    # session users index the activated users: map them back to the block's user index
    return Sessions(act[own.user], own.start, own.end, w0, own.account, len(block), own.client, own.intensity)


# Internal/test workspaces run scripts: a few long runs (x usual session minutes) on the days they are on.
INTERNAL_EXTRA_SESSIONS = 2.0
INTERNAL_SESSION_LENGTH = 20.0


def day_plan(params: Params, users: Users, act: np.ndarray, w0: int, w1: int) -> DayPlan:
    """Per activated user and local day: the chance of a session (workday chance x weekend x holidays x
    how far the user is in their life: an onboarding burst, a fade before churn, a quiet spell) and the
    work per session (the onboarding burst and the fade again); per user, the extra sessions of an active
    day (heavier users come back more often). Internal workspaces follow their script: no calendar, no life;
    a scripted sandbox's sessions hold equal work (a script's runs are alike; its owner's days still follow
    their life)."""
    days = params.span.days
    start = params.span.start
    internal = users.internal[act]
    col = np.arange(days + 2)[None, :]
    day_start = w0 + (col - 1) * DAY  # UTC midnight of each column: close enough for a life measured in days
    weekend = weekend_mask(start, days)[None, :]
    day_factor = calendar.day_factors(params, start, days)[users.tz[act]]
    base = users.active_prob[act][:, None] * np.where(weekend, params.activity.weekend_factor, 1.0) * day_factor
    life = _life_factors(params, users, act, day_start)
    prob = np.where(internal[:, None], INTERNAL_ACTIVE_PROB, np.clip(base * life.days, 0.0, 0.98))
    scripted = users.scripted[act]
    intensity = np.where((internal | scripted)[:, None], 1.0, life.work)  # a script's runs are alike
    extra = (params.activity.sessions_per_active_day - 1.0) * users.engagement[act] ** 0.6
    extra = np.where(internal, INTERNAL_EXTRA_SESSIONS, np.clip(extra, 0.0, 12.0))
    length = np.where(internal, INTERNAL_SESSION_LENGTH, 1.0)
    return DayPlan(prob, intensity, extra, length, params.users.onboarding.first_session_work)


@dataclass(frozen=True)
class _Life:
    days: np.ndarray  # factor on the chance of a session
    work: np.ndarray  # factor on the work a session holds


def _life_factors(params: Params, users: Users, act: np.ndarray, day_start: np.ndarray) -> _Life:
    """Where each day falls in a user's life: the onboarding burst after activation (more days, more work),
    the fade over the span before churn (fewer days, less work), and a quiet spell."""
    o, c, d = params.users.onboarding, params.users.churn, params.users.dormancy
    activated, churn = users.activated[act][:, None], users.churn[act][:, None]
    age_days = (day_start - activated) / DAY
    onboarding = 1.0 + o.boost * np.exp(-np.maximum(age_days, 0.0) / o.days)
    fade_span = users.fade[act][:, None].astype(float)
    to_churn = np.where(churn == NEVER, np.inf, (churn - day_start).astype(float))
    fade = c.fade_floor + (1.0 - c.fade_floor) * np.clip(to_churn / np.maximum(fade_span, 1.0), 0.0, 1.0)
    quiet_from, quiet_to = users.dormant_from[act][:, None], users.dormant_to[act][:, None]
    quiet = (quiet_from != NONE) & (day_start >= quiet_from) & (day_start < quiet_to)
    return _Life(onboarding * fade * np.where(quiet, d.activity_factor, 1.0), onboarding * fade)
