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
from ..schema import ROLES
from ..streams import DrawColumns, choice_from_u, truncated_exponential_from_u
from ..units import DAY, HOUR, MAX_DAYS, MINUTE, MONTH_DAYS, NEVER, US, to_us
from . import calendar, names, vocab
from .accounts import AccountPlan, Block
from .sessions import Sessions, build_sessions

NONE = -1  # no activation / no churn time
ADMIN, GUEST = ROLES.index("admin"), ROLES.index("guest")
# Internal/test workspaces behave like scripts: in the product on a quarter of all days, any hour.
INTERNAL_ACTIVE_PROB = 0.25

UNIFORMS = (
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
NORMALS = ("activation_lag", "engagement", "start_hour")

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


def simulate_users(params: Params, plan: AccountPlan, block: Block, w1: int) -> Users:
    """Every user of the block's accounts; the first user of an account is its founder (admin, signs
    in at signup)."""
    draws = block.draws(params, "users")
    u = DrawColumns(draws.random(block.n_users, cols=len(UNIFORMS)), UNIFORMS)
    z = DrawColumns(draws.normal(0.0, 1.0, block.n_users, cols=len(NORMALS)), NORMALS)
    created, activated = _invite_and_activate(params, plan, block, w1, u, z)
    weights = [getattr(params.users.role_weights, r) for r in ROLES]
    role = np.where(block.first_user, ADMIN, choice_from_u(u.role, weights))  # the founder administers it
    country = plan.country[block.accounts][block.user_acct]
    engagement, active_prob, start_hour = _engagement(params, block, role, u, z)
    early, churn = _churn(params, plan, block, activated, w1, u)
    full_name, email = _names_and_emails(params, plan, block, country, u)
    user_id = (
        plan.user_offset[block.accounts[0]] + 1 + np.arange(len(created), dtype=np.int64)
        if len(created)
        else np.zeros(0, np.int64)
    )
    return Users(
        user_id,
        created,
        activated,
        churn,
        role,
        _time_zones(params, country, u),
        engagement,
        active_prob,
        start_hour,
        early,
        block.internal[block.user_acct],
        full_name,
        email,
    )


def _invite_and_activate(params: Params, plan: AccountPlan, block: Block, w1: int, u: DrawColumns, z: DrawColumns):
    """Invitations: the founder at signup, the others spread over the account's life (front-loaded).
    Activation a lognormal lag later (the founder's within minutes); some never activate, nobody after
    the account's churn or the window."""
    p = params.users
    created_acct = plan.created_at[block.accounts][block.user_acct]
    live_until = np.minimum(plan.churn_at[block.accounts], w1)[block.user_acct]
    first = block.first_user
    lag = truncated_exponential_from_u(u.invite_lag, p.invite_lag_days_mean * DAY, live_until - created_acct)
    created = np.where(first, created_acct, np.maximum(created_acct + lag, created_acct + US))
    act_lag = to_us(
        np.where(
            first,
            3 * MINUTE * np.exp(0.5 * z.activation_lag),  # the founder signs in at once
            p.activation_lag_hours.median * HOUR * np.exp(p.activation_lag_hours.sigma * z.activation_lag),
        )
    )
    activated = created + act_lag
    never = (u.never_activated < p.never_activated_share) & ~first
    activated = np.where(first, np.minimum(np.minimum(activated, live_until - US), w1 - US), activated)
    return created, np.where(never | (activated >= live_until), NONE, activated)


def _time_zones(params: Params, country: np.ndarray, u: DrawColumns) -> np.ndarray:
    """A home zone of the account's country (by its weights), or, for remote users, any zone."""
    home = np.sum(HOME_ZONE_CDF[country] <= u.home_zone[:, None], axis=1)
    remote = np.floor(u.remote_zone * len(vocab.TIMEZONES)).astype(np.int64)
    return np.where(u.remote < params.users.remote_share, remote, HOME_ZONE[country, home])


def _engagement(params: Params, block: Block, role: np.ndarray, u: DrawColumns, z: DrawColumns):
    """(engagement, chance of a session on a workday, local start hour). Guests drop by; internal
    workspaces are scripted: any hour, a fixed chance."""
    p = params.users
    engagement = np.clip(np.exp(p.engagement_sigma * z.engagement), 1e-3, 1e3)
    engagement = engagement * np.where(role == GUEST, p.guest_engagement_factor, 1.0)
    active_prob = np.clip(p.workday_active_prob * engagement, 0.0, 0.97)
    hour = params.activity.workday_start_hour
    start_hour = np.clip(hour.mean + hour.sd * z.start_hour, 5.0, 13.0)
    internal = block.internal[block.user_acct]
    start_hour = np.where(internal, 23.0 * u.internal_start_hour, start_hour)
    active_prob = np.where(internal, INTERNAL_ACTIVE_PROB, active_prob)
    return engagement, active_prob, start_hour


def _churn(params: Params, plan: AccountPlan, block: Block, activated: np.ndarray, w1: int, u: DrawColumns):
    """(early churner, churn time): "tourists" leave within days, the rest at a slow monthly rate, and
    nobody outlives their account; NEVER past the window, NONE for users who never activated."""
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
    churn = np.where(activated == NONE, NONE, np.minimum(own_churn, plan.churn_at[block.accounts][block.user_acct]))
    churn = np.where((churn != NONE) & (churn >= w1), NEVER, churn)
    # a user churns strictly after activating (the activation session always exists)
    return early, np.where((churn != NONE) & (churn <= activated), activated + MINUTE, churn)


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
    return full_name, local + suffix + "@" + plan.domain[block.accounts][block.user_acct]


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
    """The working sessions of the block's activated users (indexed by the block's user index)."""
    act = np.nonzero(users.activated >= 0)[0]
    internal = users.internal[act]
    own = build_sessions(
        rng=block.draws(params, "sessions"),
        start_date=params.window.start,
        days=params.window.days,
        w0=w0,
        w1=w1,
        tz=users.tz[act],
        activated_at=users.activated[act],
        churn_at=users.churn[act],
        active_prob=users.active_prob[act],
        start_hour=users.start_hour[act],
        weekend_factor=np.where(internal, 1.0, params.activity.weekend_factor),
        day_factor=calendar.day_factors(params, params.window.start, params.window.days),
        on_calendar=~internal,  # internal workspaces (scripts) keep no calendar
        workday_hours=params.activity.workday_hours,
        weekend_hours_factor=params.activity.weekend_hours_factor,
        account=block.user_acct[act],
        n_accounts=len(block),
    )
    # session users index the activated users: map them back to the block's user index
    return Sessions(act[own.user], own.start, own.end, w0, own.account, len(block))
