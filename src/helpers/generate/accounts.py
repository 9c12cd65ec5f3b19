"""Accounts (drawn in one piece) and the per-account plan that fixes ids before any block runs.

`plan_accounts` draws the accounts table, every account's plan periods (the account_plans table)
and, for every account, how many users and projects it will have, each project's nominal creation
time, and the account's churn time.
Because those counts are known here, user and project ids are dense prefix sums (1..N) that do not
depend on how blocks are later scheduled. Task and event counts come out of each account's
simulation, so their ids are scoped by account (see simulate.TASK_ID_STRIDE, events.EVENT_ID_STRIDE).
Everything is vectorised over accounts and projects.

The model, in the order it is drawn: the company's country and signup (a local working hour of the
country's main time zone), its size (employee band, then headcount), the plan tier it settles on
(conditional on its size), its team size (from that tier and its headcount), the path of plans it
takes (a trial, upgrades, a downgrade: `_plan_periods`), its churn (a hazard by the plan of the
moment), the plan it has at the window's end (`accounts.plan_tier`, `AccountPlan.tier`), the seat
limit of the free plan, and its projects (they grow with the team).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ..params import Params
from ..schema import ACCOUNT_PLANS, ACCOUNTS, COMPANY_SIZES, PLAN_TIERS
from ..streams import AccountDraws, DrawColumns, choice_from_u, stream
from ..units import DAY, HOUR, MONTH_DAYS, NEVER, to_us, window_us
from . import names, sandboxes, vocab
from .sessions import utc_offsets, weekend_mask

FREE = PLAN_TIERS.index("free")
TEAM = PLAN_TIERS.index("team")
BUSINESS = PLAN_TIERS.index("business")
ENTERPRISE = PLAN_TIERS.index("enterprise")
# Plan periods an account can go through: signup plan, trial end, free -> team, -> business, -> enterprise,
# team -> free (at most five of them happen to one account).
MAX_PERIODS = 6
NO_TIER = -1  # the tier of an unused plan-period slot
PERIOD_ID_STRIDE = 100  # account_plan_id = account_id * 100 + n (n = 1, 2, ... in time order)
MIN_STEP = HOUR  # the shortest plan period (a plan change is at least this long after the previous one)
# Each country's main (first) time zone: where a company's signup hour is local.
MAIN_ZONE = np.array([vocab.TIMEZONES.index(zones[0][0]) for *_, zones in vocab.COUNTRIES], dtype=np.int64)

# One row of uniforms and one of normals per account, drawn first (named columns: a new decision never
# shifts another's numbers); then one row per project (PROJECT_*).
ACCOUNT_UNIFORMS = (
    "country",
    "launch",
    "signup_day",
    "evening",
    "evening_hour",
    "company_size",
    "employees",
    "settles_on",
    "industry",
    "sales_led",
    "trial",
    "trial_conversion",
    "downgrade",
    "churn",
    "tld",
)
ACCOUNT_NORMALS = (
    "signup_hour",
    "team_size",
    "crossing",
    "upgrade_team",
    "upgrade_business",
    "upgrade_enterprise",
    "downgrade_lag",
    "projects",
)
PROJECT_UNIFORMS = ("with_team", "lag")


class EmptyExtract(ValueError):
    """No account signed up since the launch is still a customer in the window."""


@dataclass
class AccountPlan:
    """Accounts table plus the per-account and per-project plan (numpy columns, index = account_id-1).

    Plan periods are (accounts x MAX_PERIODS) arrays in time order, unused slots last (period_from NEVER):
    the account is on period_tier[a, k] (a trial when period_trial[a, k]) from period_from[a, k] until the
    next slot's period_from. `tier` is the plan at the window's end (= the last period's tier)."""

    accounts: pa.Table | None
    created_at: np.ndarray  # us
    churn_at: np.ndarray  # us, NEVER if the account outlives the window
    tier: np.ndarray  # index into PLAN_TIERS: the plan at the window's end (accounts.plan_tier)
    country: np.ndarray  # index into vocab.COUNTRIES
    domain: np.ndarray  # e-mail domain (object)
    n_users: np.ndarray
    n_team: np.ndarray  # the team invited around signup: an account's first n_team users; the rest are newcomers
    user_offset: np.ndarray  # first user_id - 1
    n_projects: np.ndarray
    project_offset: np.ndarray
    # per project (index = project_id - 1)
    project_account: np.ndarray
    project_nominal_at: np.ndarray
    internal: np.ndarray  # bool per account: the vendor's own QA/demo workspace
    employees: np.ndarray  # the company's headcount (its band is accounts.company_size)
    period_from: np.ndarray  # (accounts, MAX_PERIODS) us, NEVER for unused slots
    period_tier: np.ndarray  # (accounts, MAX_PERIODS) index into PLAN_TIERS, NO_TIER for unused slots
    period_trial: np.ndarray  # (accounts, MAX_PERIODS) bool
    # unflagged test workspaces (generate.sandboxes): per account
    sandbox: np.ndarray  # bool: someone's own sandbox, is_internal = false
    scripted: np.ndarray  # bool: a sandbox driven by an import or API script
    lookalike: np.ndarray  # bool: a real customer that shares a sandbox's hints
    owner_name: np.ndarray  # the first user's name and e-mail local part ("": the users draw their own)
    owner_local: np.ndarray
    partner_name: np.ndarray  # the second user's ("" likewise)
    partner_local: np.ndarray
    account_plans: pa.Table | None = None  # the published account_plans table

    @property
    def n_accounts(self) -> int:
        return len(self.created_at)

    @property
    def total_users(self) -> int:
        return int(self.n_users.sum())

    def period_at(self, accounts: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Per element: the slot of the plan period account `accounts` (index) is in at time `t` (us); times
        before the account's signup get its first period."""
        k = np.sum(self.period_from[accounts] <= np.asarray(t)[..., None], axis=-1) - 1
        return np.maximum(k, 0)

    def tier_at(self, accounts: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Per element: the plan tier (index into PLAN_TIERS) of account `accounts` at time `t` (us)."""
        return self.period_tier[accounts, self.period_at(accounts, t)]

    def trial_at(self, accounts: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Per element: whether account `accounts` is on a trial at time `t` (us)."""
        return self.period_trial[accounts, self.period_at(accounts, t)]


def plan_accounts(params: Params) -> AccountPlan:
    """Draw accounts and the per-account plan; the same params always give the same plan. One stream
    ("accounts", 0), drawn in this order: a row of ACCOUNT_UNIFORMS and one of ACCOUNT_NORMALS per
    account (rows then ordered by signup time: account i takes the i-th signup's rows), a row of
    PROJECT_UNIFORMS per project; company names from the names stream;
    internal workspaces from a stream of their own, and test workspaces (generate.sandboxes) from theirs."""
    rng = stream(params.seed, "accounts", 0)
    _, w1 = window_us(params.span)
    created, country, u, z = _signups(params, rng)
    n = len(created)
    size_band, employees = _company_sizes(params, u)
    settles_on = _settles_on(params, u, size_band)
    industry = choice_from_u(u.industry, [w for _, w in vocab.INDUSTRIES])
    internal = internal_accounts(params, n)
    # the vendor's own workspaces: enterprise, in its own country (US) and industry, never cancelled
    settles_on = np.where(internal, ENTERPRISE, settles_on)
    country = np.where(internal, 0, country)
    industry = np.where(internal, [i for i, _ in vocab.INDUSTRIES].index("Software"), industry)
    n_users = _team_sizes(params, z, settles_on, employees, internal)
    chosen = sandboxes.choose(params, internal, n_users, size_band, created >= window_us(params.window)[0])
    settles_on = np.where(chosen.sandbox, FREE, settles_on)  # a sandbox stays free (or its trial lapses)
    periods = _plan_periods(params, u, z, settles_on, n_users, created, w1, internal)
    churn_at = np.where(internal, NEVER, _churn_times(params, u, created, periods, w1))
    churn_at = sandboxes.abandoned_at(params, chosen, created, churn_at, w1)
    periods = periods.until(np.minimum(churn_at, w1))
    tier = periods.last_tier()
    n_team = _seat_limit(params, n_users, tier)
    # solo and duo teams stay as they are (and so sandboxes, lookalikes: choosing them moves no id), as do scripts
    eligible = ~internal & (tier != FREE) & (n_team > 2)
    n_users = n_team + _newcomers(params, n_team, employees, created, churn_at, w1, eligible)
    n_projects = _project_counts(params, z, n_team)
    pu = rng.random((int(n_projects.sum()), len(PROJECT_UNIFORMS)))
    project_account, nominal = _project_plan(
        params, DrawColumns(pu, PROJECT_UNIFORMS), created, churn_at, n_projects, w1
    )
    industry_names = np.array([i for i, _ in vocab.INDUSTRIES], dtype=object)[industry]
    account_name, domain = _names_and_domains(params, u, country, industry_names, internal)
    looks = sandboxes.label(params, chosen, internal, account_name, domain, country, industry, n_users)
    account_name, domain, country = looks.account_name, looks.domain, looks.country
    industry_names = np.array([i for i, _ in vocab.INDUSTRIES], dtype=object)[looks.industry]
    return AccountPlan(
        accounts=_accounts_table(account_name, industry_names, country, tier, size_band, created, internal),
        created_at=created,
        churn_at=churn_at,
        tier=tier,
        country=country,
        domain=domain,
        n_users=n_users,
        n_team=n_team,
        user_offset=(np.cumsum(n_users) - n_users).astype(np.int64),
        n_projects=n_projects,
        project_offset=(np.cumsum(n_projects) - n_projects).astype(np.int64),
        project_account=project_account,
        project_nominal_at=nominal,
        internal=internal,
        employees=employees,
        period_from=periods.start,
        period_tier=periods.tier,
        period_trial=periods.trial,
        sandbox=chosen.sandbox,
        scripted=chosen.scripted,
        lookalike=chosen.lookalike,
        owner_name=looks.people.owner_name,
        owner_local=looks.people.owner_local,
        partner_name=looks.people.partner_name,
        partner_local=looks.people.partner_local,
        account_plans=periods.table(),
    )


def _signups(params: Params, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, DrawColumns, DrawColumns]:
    """(created, country, uniforms, normals) of the accounts in the extract, in signup order: every signup since
    the launch draws its rows, and those that left before the window are dropped (EmptyExtract if none is left)."""
    n = params.accounts.count
    u = rng.random((n, len(ACCOUNT_UNIFORMS)))
    z = rng.normal(0.0, 1.0, (n, len(ACCOUNT_NORMALS)))
    country = choice_from_u(u[:, ACCOUNT_UNIFORMS.index("country")], [c[1] for c in vocab.COUNTRIES])
    signup = _signup_times(params, DrawColumns(u, ACCOUNT_UNIFORMS), DrawColumns(z, ACCOUNT_NORMALS), country)
    order = np.argsort(signup, kind="stable")
    created, country = signup[order], country[order]
    u, z = DrawColumns(u[order], ACCOUNT_UNIFORMS), DrawColumns(z[order], ACCOUNT_NORMALS)
    keep = np.nonzero(_in_window(params, u, z, created))[0]  # the installed base and the window's signups
    if n and not len(keep):
        raise EmptyExtract(
            f"history.launch = {params.history.launch}: every one of the {n} accounts that signed up since the "
            f"launch left before the window ({params.window.start}), so the extract would be empty; raise "
            "accounts.count, lower accounts.monthly_churn, or move history.launch closer to the window"
        )
    if len(keep) == n:
        return created, country, u, z
    return created[keep], country[keep], u.rows(keep), z.rows(keep)


def _in_window(params: Params, u: DrawColumns, z: DrawColumns, created: np.ndarray) -> np.ndarray:
    """Per signup since the launch: whether the account is still a customer at the window's start (it
    signed up inside the window, or its churn, drawn as for any customer account, comes later). The
    accounts that left before are not in the extract."""
    w0, w1 = window_us(params.window)
    before = created < w0
    if not before.any():
        return np.ones(len(created), dtype=bool)
    size_band, employees = _company_sizes(params, u)
    settles_on = _settles_on(params, u, size_band)
    ordinary = np.zeros(len(created), dtype=bool)
    n_users = _team_sizes(params, z, settles_on, employees, ordinary)
    periods = _plan_periods(params, u, z, settles_on, n_users, created, w1, ordinary)
    return ~before | (_churn_times(params, u, created, periods, w1) >= w0)


def _accounts_table(account_name, industry_names, country, tier, size_band, created, internal) -> pa.Table:
    """The accounts table (ids 1..n in signup order) from the plan's per-account columns."""
    return pa.table(
        {
            "account_id": pa.array(np.arange(1, len(created) + 1, dtype=np.int64), pa.int64()),
            "account_name": pa.array(account_name, pa.string()),
            "industry": pa.array(industry_names, pa.string()),
            "country_code": pa.array(np.array([c[0] for c in vocab.COUNTRIES], dtype=object)[country], pa.string()),
            "plan_tier": pa.array(np.array(PLAN_TIERS, dtype=object)[tier], pa.string()),
            "company_size": pa.array(np.array(COMPANY_SIZES, dtype=object)[size_band], pa.string()),
            "created_at": pa.array(created, pa.timestamp("us")),
            "is_internal": pa.array(internal, pa.bool_()),
        },
        schema=ACCOUNTS.arrow_schema,
    )


def _or_flat(weights: np.ndarray) -> np.ndarray:
    """The weights, or equal weights where they are all 0 (e.g. a weekend-only window without weekend signups)."""
    return weights if weights.sum() > 0 else np.ones_like(weights)


def _signup_times(params: Params, u: DrawColumns, z: DrawColumns, country: np.ndarray) -> np.ndarray:
    """Signup instants (unsorted): a launch cohort in the first weeks, then growth; on a local day
    (Saturdays and Sundays lighter) at a local working hour of the country's main time zone, a few in
    the evening. A local moment that falls outside the window in UTC (the first or last hours) is moved
    by whole days into it, keeping its local hour."""
    w0, w1 = window_us(params.span)
    s = params.accounts.signup
    days = params.span.days
    day_idx = np.arange(days)
    day_weight = np.where(weekend_mask(params.span.start, days)[1:-1], s.weekend_factor, 1.0)
    growth = _or_flat(np.exp(s.growth_per_year * day_idx / 365.0) * day_weight)
    launch = _or_flat(np.where(day_idx < min(s.launch_days, days), day_weight, 0.0))
    day = np.where(u.launch < s.launch_share, choice_from_u(u.signup_day, launch), choice_from_u(u.signup_day, growth))
    working = np.mod(s.local_hour.mean + s.local_hour.sd * z.signup_hour, 24.0)  # wraps (no pile-up at a clip)
    hour = np.where(u.evening < s.evening_share, 18.0 + 5.0 * u.evening_hour, working)
    offset = utc_offsets(params.span.start, days)[MAIN_ZONE[country], day + 1]
    utc = w0 + day * DAY + np.floor(hour * HOUR).astype(np.int64) - offset
    return w0 + np.mod(utc - w0, w1 - w0)


def _company_sizes(params: Params, u: DrawColumns) -> tuple[np.ndarray, np.ndarray]:
    """(employee band, headcount): the band by its weight, the headcount log-uniform inside it (1001+ up
    to accounts.largest_company)."""
    band = choice_from_u(u.company_size, params.accounts.company_size_weights)
    lower = np.array(vocab.COMPANY_SIZE_LOWER, dtype=float)
    upper = np.r_[lower[1:] - 1, max(params.accounts.largest_company, lower[-1])]
    lo, hi = lower[band], upper[band]
    employees = np.floor(np.exp(np.log(lo) + u.employees * (np.log(hi + 1) - np.log(lo))))
    return band, np.clip(employees, lo, hi).astype(np.int64)


def _settles_on(params: Params, u: DrawColumns, band: np.ndarray) -> np.ndarray:
    """The plan tier each company settles on, by the weights of its size band (the plan it reaches if it
    stays long enough: the path there is `_plan_periods`)."""
    weights = np.array([getattr(params.accounts.plan_by_company_size, t) for t in PLAN_TIERS], dtype=float).T
    cdf = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    cdf[:, -1] = 1.0
    return np.sum(cdf[band] <= u.settles_on[:, None], axis=1).astype(np.int64)


def _soft_cap(x: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """x bounded smoothly by cap: about x well below it, approaching (never reaching) it above, so
    bounded counts do not pile up at the bound."""
    cap = np.maximum(np.asarray(cap, dtype=float), 1e-9)
    return x / np.cbrt(1.0 + (x / cap) ** 3)


def _team_sizes(
    params: Params, z: DrawColumns, settles_on: np.ndarray, employees: np.ndarray, internal: np.ndarray
) -> np.ndarray:
    """Users per account: lognormal by the tier the company settles on, larger for larger companies on
    the same tier, bounded softly by a share of the company's employees (a team is well below its
    company) and by users_per_account.max, and by the free seat limit for companies that stay free; an
    internal workspace has a few staff and bots (at most 12)."""
    ts, upa = params.accounts.team_size, params.users_per_account
    median = (
        np.array([getattr(ts.median, t) for t in PLAN_TIERS])[settles_on] * (employees / 50.0) ** ts.size_elasticity
    )
    cap = np.minimum(ts.employee_share * employees, upa.max)
    cap = np.where(settles_on == FREE, np.minimum(cap, params.accounts.free_seat_limit), cap)
    n_users = np.clip(np.rint(_soft_cap(median * np.exp(ts.sigma * z.team_size), cap)), upa.min, upa.max)
    n_users = np.where(internal, np.clip(n_users, upa.min, max(upa.min, 12)), n_users)
    return n_users.astype(np.int64)


def _newcomers(
    params: Params,
    n_team: np.ndarray,
    employees: np.ndarray,
    created: np.ndarray,
    churn_at: np.ndarray,
    w1: int,
    eligible: np.ndarray,
) -> np.ndarray:
    """People who join the account after its first team (hires, new collaborators, replacements): Poisson,
    users.newcomers.per_member_year x the team x the years from after_days past signup to its churn or the
    window's end. Not on a free plan (its seat limit), nor in teams of one or two, nor in internal
    workspaces. Everyone an account ever invites is bounded softly by its company's employees and by
    users_per_account.max (no pile-up at the bound). Each account draws from its own stream, so the rate changes
    no other draw and no other account's count."""
    p = params.users.newcomers
    from_t = created + to_us(p.after_days * DAY)
    years = np.maximum(np.minimum(churn_at, w1) - from_t, 0) / (365.0 * DAY)
    expected = np.where(eligible, p.per_member_year * n_team * years, 0.0)
    accounts = np.arange(1, len(n_team) + 1)  # each account's own stream: its count moves no other's
    drawn = AccountDraws(params.seed, "newcomers", accounts).poisson(expected, np.ones(len(n_team))).astype(np.int64)
    bound = np.minimum(employees, params.users_per_account.max)  # the soft cap stays below it: no clip needed
    everyone = np.maximum(np.rint(_soft_cap(n_team + drawn, bound)), n_team).astype(np.int64)
    return everyone - n_team


def _seat_limit(params: Params, n_users: np.ndarray, tier: np.ndarray) -> np.ndarray:
    """An account on the free plan at the end has at most accounts.free_seat_limit users (never fewer than
    users_per_account.min): a team that outgrows the limit upgrades (`_plan_periods`), so one still free
    never grew past it."""
    limit = max(params.accounts.free_seat_limit, params.users_per_account.min)
    return np.where(tier == FREE, np.minimum(n_users, limit), n_users).astype(np.int64)


def internal_accounts(params: Params, n: int) -> np.ndarray:
    """The vendor's internal/test workspaces (an imperfection planted here), from their own stream, so
    the share changes nothing about the other accounts: a prefix of one fixed permutation, so a larger
    share adds accounts and never swaps them."""
    internal = np.zeros(n, dtype=bool)
    k = round(params.imperfections.internal.account_share * n)
    if k:
        internal[stream(params.seed, "internal", 0).permutation(n)[:k]] = True
    return internal


@dataclass
class Periods:
    """Plan periods, (accounts x MAX_PERIODS): start, tier and trial flag, in time order within each
    account; unused slots come last (start NEVER, tier NO_TIER, no trial)."""

    start: np.ndarray
    tier: np.ndarray
    trial: np.ndarray

    def until(self, end: np.ndarray) -> Periods:
        """Only the periods that start before `end` (per account: its churn or the window's end)."""
        keep = self.start < end[:, None]
        return Periods(np.where(keep, self.start, NEVER), np.where(keep, self.tier, NO_TIER), self.trial & keep)

    def used(self) -> np.ndarray:
        return self.start != NEVER

    def last_tier(self) -> np.ndarray:
        """Per account: the tier of its last period (the plan at the window's end)."""
        last = self.used().sum(axis=1) - 1
        return self.tier[np.arange(len(self.start)), last].astype(np.int64)

    def table(self) -> pa.Table:
        """The account_plans table: one row per used period, by account then time; valid_to is the next
        period's start (NULL for the last)."""
        used = self.used()
        account, slot = np.nonzero(used)
        nxt = np.c_[self.start[:, 1:], np.full(len(self.start), NEVER)]
        valid_to = nxt[account, slot]
        return pa.table(
            {
                "account_plan_id": pa.array((account + 1) * PERIOD_ID_STRIDE + slot + 1, pa.int64()),
                "account_id": pa.array(account + 1, pa.int64()),
                "plan_tier": pa.array(np.array(PLAN_TIERS, dtype=object)[self.tier[account, slot]], pa.string()),
                "is_trial": pa.array(self.trial[account, slot], pa.bool_()),
                "valid_from": pa.array(self.start[account, slot], pa.timestamp("us")),
                "valid_to": pa.array(valid_to, pa.timestamp("us"), mask=valid_to == NEVER),
            },
            schema=ACCOUNT_PLANS.arrow_schema,
        )


def _lag(z: np.ndarray, days) -> np.ndarray:
    """A lognormal lag (params LogNormal in days) at standard normals z, in us, at least MIN_STEP."""
    return np.maximum(to_us(days.median * DAY * np.exp(days.sigma * z)), MIN_STEP)


def _crossing_lag(params: Params, n_users: np.ndarray, created: np.ndarray, w1: int, z: np.ndarray) -> np.ndarray:
    """Per account: about when its team passes the free seat limit (us after signup; inf when it never
    does): invitations are spread like users.invite_lag_days_mean's truncated exponential up to the
    window's end, so the limit-th of n - 1 invitees arrives near that distribution's limit / n quantile
    (a little noise around it)."""
    limit = params.accounts.free_seat_limit
    mean = params.users.invite_lag_days_mean * DAY
    q = limit / np.maximum(n_users, 1)
    span = -np.expm1(-np.maximum(w1 - created, 1) / mean)
    with np.errstate(divide="ignore"):  # q * span = 1 only where the team never passes the limit (q >= 1)
        lag = -mean * np.log1p(-np.minimum(q, 1.0) * span) * np.exp(0.25 * z)
    return np.where(n_users > limit, np.maximum(lag, MIN_STEP), np.inf)


def _plan_periods(
    params: Params,
    u: DrawColumns,
    z: DrawColumns,
    settles_on: np.ndarray,
    n_users: np.ndarray,
    created: np.ndarray,
    w1: int,
    internal: np.ndarray,
) -> Periods:
    """Each account's path to the tier it settles on, before its churn and the window cut it short:
    - sales-led companies (plan_changes.sales_led_share of those headed for a tier) start on it;
    - the others start free, or (plan_changes.trial_share) on a team trial that converts to team at
      its end (trial_conversion of companies headed for a paid tier; always when the team already grew
      past the free seat limit) or lapses to free;
    - from free, a company headed for a paid tier moves to team after upgrade_days.team, and no later
      than its team passes the free seat limit; then to business after upgrade_days.business and to
      enterprise after upgrade_days.enterprise, as far as the tier it settles on;
    - a team account small enough for the free plan goes back to free (downgrade_share) after
      downgrade_days.
    Internal workspaces are on enterprise from signup. Every change is at least MIN_STEP after the
    previous one, so periods follow each other strictly."""
    pc = params.accounts.plan_changes
    n, limit = len(created), params.accounts.free_seat_limit
    sales = (settles_on > FREE) & (
        u.sales_led < np.array([getattr(pc.sales_led_share, t) for t in PLAN_TIERS])[settles_on]
    )
    sales = sales | internal
    trial = ~sales & (u.trial < pc.trial_share)
    trial_end = created + max(to_us(pc.trial_days * DAY), MIN_STEP)
    cross = _crossing_lag(params, n_users, created, w1, z.crossing)
    grown = created + np.minimum(cross, 1e17).astype(np.int64)  # when the team passes the seat limit
    paid = settles_on > FREE
    converted = trial & paid & ((u.trial_conversion < pc.trial_conversion) | (grown <= trial_end))
    free_from = np.where(trial, trial_end, created)
    to_team = paid & ~sales & ~converted
    team_at = np.maximum(
        np.minimum(free_from + _lag(z.upgrade_team, pc.upgrade_days.team), grown), free_from + MIN_STEP
    )
    team_from = np.where(sales, created, np.where(converted, trial_end, team_at))
    to_business = (settles_on >= BUSINESS) & ~sales
    business_at = team_from + _lag(z.upgrade_business, pc.upgrade_days.business)
    to_enterprise = (settles_on == ENTERPRISE) & ~sales
    enterprise_at = business_at + _lag(z.upgrade_enterprise, pc.upgrade_days.enterprise)
    downgrade = (settles_on == TEAM) & (n_users <= limit) & (u.downgrade < pc.downgrade_share) & ~internal
    downgrade_at = team_from + _lag(z.downgrade_lag, pc.downgrade_days)
    never = np.full(n, NEVER, dtype=np.int64)
    start = np.stack(
        [
            created,
            np.where(trial, trial_end, never),
            np.where(to_team, team_at, never),
            np.where(to_business, business_at, never),
            np.where(to_enterprise, enterprise_at, never),
            np.where(downgrade, downgrade_at, never),
        ],
        axis=1,
    )
    first_tier = np.where(sales, settles_on, np.where(trial, TEAM, FREE))
    tier = np.stack(
        [
            first_tier,
            np.where(converted, TEAM, FREE),
            np.full(n, TEAM),
            np.full(n, BUSINESS),
            np.full(n, ENTERPRISE),
            np.full(n, FREE),
        ],
        axis=1,
    )
    is_trial = np.zeros((n, MAX_PERIODS), dtype=bool)
    is_trial[:, 0] = trial
    # the slots are in time order where present; unused ones move to the end
    order = np.argsort(start, axis=1, kind="stable")
    take = (np.arange(n)[:, None], order)
    return Periods(start[take], tier[take].astype(np.int64), is_trial[take]).until(np.full(n, NEVER))


def _churn_times(params: Params, u: DrawColumns, created: np.ndarray, periods: Periods, w1: int) -> np.ndarray:
    """Account churn: the hazard of the plan of the moment (accounts.monthly_churn per month; a trial
    counts as free) over the account's plan periods, at least a day after signup (the founder gets to
    look around); NEVER when it ends past the window."""
    monthly = np.array([getattr(params.accounts.monthly_churn, t) for t in PLAN_TIERS])
    rate = monthly[np.where(periods.trial, FREE, periods.tier)] / MONTH_DAYS  # per day
    used = periods.used()
    rel = np.where(used, (periods.start - created[:, None]) / DAY, np.inf)
    until = np.c_[rel[:, 1:], np.full(len(created), np.inf)]
    with np.errstate(invalid="ignore"):
        hazard = np.where(used & (rate > 0), rate * (until - rel), 0.0)  # inf for the open last period
    total = np.cumsum(hazard, axis=1)
    before = np.c_[np.zeros(len(created)), total[:, :-1]]  # hazard accumulated before each period (finite)
    need = np.maximum(-np.log1p(-u.churn), 1e-300)  # an Exp(1) draw: churn when the hazard reaches it
    hit = total >= need[:, None]
    rows, k = np.arange(len(created)), np.argmax(hit, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        life = rel[rows, k] + (need - before[rows, k]) / rate[rows, k]
    life = np.where(hit.any(axis=1), np.clip(np.nan_to_num(life, nan=1e5), 1.0, 1e5), 1e5)
    candidate = created + np.floor(life * DAY).astype(np.int64)
    return np.where(candidate < w1, candidate, NEVER).astype(np.int64)


def _project_counts(params: Params, z: DrawColumns, n_users: np.ndarray) -> np.ndarray:
    """Projects per account grow with the team: lognormal around 1 + per_member x (users - 1) ^
    team_exponent, bounded softly by projects_per_account.max (no pile-up at it) and within min..max."""
    p, ppa = params.projects, params.projects_per_account
    median = 1.0 + p.per_member * np.power(np.maximum(n_users - 1, 0), p.team_exponent)
    x = _soft_cap(median * np.exp(p.count_sigma * z.projects), ppa.max)
    return np.clip(np.rint(x), ppa.min, ppa.max).astype(np.int64)


def _project_plan(
    params: Params,
    u: DrawColumns,
    created: np.ndarray,
    churn_at: np.ndarray,
    n_projects: np.ndarray,
    w1: int,
):
    """(account, nominal creation time) per project, in creation order within each account (so project
    ids follow it): the first at signup (so it is made in the founder's first session: creating a first
    project is the first onboarding step, and the session's first tasks go into it); each later one
    either as the team grows (at a time drawn like a colleague's invitation: projects.with_team_share)
    or any time in the account's life; all before it ends."""
    project_account = np.repeat(np.arange(len(created)), n_projects)
    live = (np.minimum(churn_at, w1) - created)[project_account]
    first_of_account = (
        np.r_[True, project_account[1:] != project_account[:-1]] if len(project_account) else np.array([], bool)
    )
    mean = params.users.invite_lag_days_mean * DAY
    limit = np.maximum(live.astype(float), 1.0)
    with_team = np.floor(-mean * np.log1p(-u.lag * -np.expm1(-limit / mean)))
    lag = np.where(u.with_team < params.projects.with_team_share, with_team, np.floor(u.lag * limit))
    lag = np.where(first_of_account, 0, lag.astype(np.int64))
    nominal = np.minimum(created[project_account] + lag, created[project_account] + live - 1)
    order = np.lexsort((nominal, project_account))
    return project_account, nominal[order]


def _names_and_domains(
    params: Params, u: DrawColumns, country: np.ndarray, industry_names: np.ndarray, internal: np.ndarray
):
    """Company names from the Faker pool of each country's locale and unique e-mail domains on reserved
    names (example.com/.net/.org); internal workspaces give themselves away: a telling name and the
    vendor's reserved .test domain."""
    n = len(country)
    locales = np.array([c[2] for c in vocab.COUNTRIES], dtype=object)[country]
    account_name = np.empty(n, dtype=object)
    for loc in sorted(set(locales)):
        idx = np.nonzero(locales == loc)[0]
        account_name[idx] = names.company_names(loc, params.seed, len(idx))
    slugs = np.array([names.slug(x) for x in account_name], dtype=object)
    _, first_pos, inverse = np.unique(slugs, return_index=True, return_inverse=True)
    repeated = (first_pos[inverse] != np.arange(n)) | np.isin(slugs, vocab.WEBMAIL_LABELS)  # no company on webmail
    slugs = np.where(repeated, slugs + "-" + np.arange(1, n + 1).astype(str).astype(object), slugs)
    tld = np.where(industry_names == "Non-profit", "example.org", np.where(u.tld < 0.12, "example.net", "example.com"))
    domain = slugs + "." + tld.astype(object)
    for j, a in enumerate(np.nonzero(internal)[0]):
        label, rnd = vocab.INTERNAL_WORKSPACES[j % len(vocab.INTERNAL_WORKSPACES)], j // len(vocab.INTERNAL_WORKSPACES)
        account_name[a] = f"{label} {rnd + 1}" if rnd else label
        domain[a] = f"{names.slug(account_name[a])}.{vocab.VENDOR_TEST_DOMAIN}"
    return account_name, domain


@dataclass
class Block:
    """A run of consecutive accounts simulated together; `*_acct` give each row's block-local account."""

    accounts: np.ndarray  # account indices (account_id - 1)
    n_users: np.ndarray  # per account
    user_acct: np.ndarray  # per user
    first_user: np.ndarray  # per user: the account's founder
    newcomer: np.ndarray  # per user: joined after the first team (plan.n_team)
    internal: np.ndarray  # per account
    sandbox: np.ndarray  # per account: an unflagged test workspace
    scripted: np.ndarray  # per account: a sandbox driven by a script

    @classmethod
    def of(cls, plan: AccountPlan, accounts: range) -> Block:
        a = np.arange(accounts.start, accounts.stop)
        n_users = plan.n_users[a]
        user_acct = np.repeat(np.arange(len(a)), n_users)
        starts = np.r_[0, np.cumsum(n_users)[:-1]]
        first = np.zeros(len(user_acct), bool)
        first[starts[n_users > 0]] = True
        newcomer = np.arange(len(user_acct)) - starts[user_acct] >= plan.n_team[a][user_acct]
        return cls(a, n_users, user_acct, first, newcomer, plan.internal[a], plan.sandbox[a], plan.scripted[a])

    def draws(self, params: Params, name: str) -> AccountDraws:
        """The block's accounts' generators of one stream (one per account)."""
        return AccountDraws(params.seed, name, self.accounts + 1)

    def __len__(self) -> int:
        return len(self.accounts)


PLAN_ACCOUNT_COLUMNS = (
    "created_at",
    "churn_at",
    "tier",
    "country",
    "domain",
    "n_users",
    "n_team",
    "user_offset",
    "n_projects",
    "project_offset",
    "internal",
    "employees",
    "sandbox",
    "scripted",
    "lookalike",
    "owner_name",
    "owner_local",
    "partner_name",
    "partner_local",
)
PLAN_PERIOD_COLUMNS = ("period_from", "period_tier", "period_trial")  # one column per slot: period_from_0, ...
PLAN_PROJECT_COLUMNS = ("project_account", "project_nominal_at")


def plan_tables(plan: AccountPlan) -> tuple[pa.Table, pa.Table]:
    """The plan as two Arrow tables (per account, with a column per plan-period slot; per project), so
    block workers can load it."""
    cols = {c: pa.array(getattr(plan, c)) for c in PLAN_ACCOUNT_COLUMNS}
    for c in PLAN_PERIOD_COLUMNS:
        cols.update({f"{c}_{k}": pa.array(getattr(plan, c)[:, k]) for k in range(MAX_PERIODS)})
    proj = pa.table({c: pa.array(getattr(plan, c)) for c in PLAN_PROJECT_COLUMNS})
    return pa.table(cols), proj


def plan_from_tables(acc: pa.Table, proj: pa.Table, accounts: pa.Table | None = None) -> AccountPlan:
    cols = {c: acc.column(c).to_numpy(zero_copy_only=False) for c in PLAN_ACCOUNT_COLUMNS}
    for c in ("domain", "owner_name", "owner_local", "partner_name", "partner_local"):
        cols[c] = cols[c].astype(object)
    for c in PLAN_PERIOD_COLUMNS:
        slots = [acc.column(f"{c}_{k}").to_numpy(zero_copy_only=False) for k in range(MAX_PERIODS)]
        cols[c] = np.stack(slots, axis=1) if len(acc) else np.zeros((0, MAX_PERIODS), slots[0].dtype)
    cols.update({c: proj.column(c).to_numpy() for c in PLAN_PROJECT_COLUMNS})
    return AccountPlan(accounts=accounts, **cols)
