"""Accounts (drawn in one piece) and the per-account plan that fixes ids before any block runs.

`plan_accounts` draws the accounts table and, for every account, how many users and projects it
will have, each project's nominal creation time, and the account's churn time.
Because those counts are known here, user and project ids are dense prefix sums (1..N) that do not
depend on how blocks are later scheduled. Task and event counts come out of each account's
simulation, so their ids are scoped by account (see simulate.TASK_ID_STRIDE, events.EVENT_ID_STRIDE).
Everything is vectorised over accounts and projects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ..params import Params
from ..schema import ACCOUNTS, COMPANY_SIZES, PLAN_TIERS
from ..streams import AccountDraws, choice_index, log_scale_count, lognormal, stream, truncated_exponential
from ..units import DAY, HOUR, MONTH_DAYS, NEVER, to_us, window_us
from . import names, vocab


@dataclass
class AccountPlan:
    """Accounts table plus the per-account and per-project plan (numpy columns, index = account_id-1)."""

    accounts: pa.Table
    created_at: np.ndarray  # us
    churn_at: np.ndarray  # us, NEVER if the account outlives the window
    tier: np.ndarray  # index into PLAN_TIERS
    country: np.ndarray  # index into vocab.COUNTRIES
    domain: np.ndarray  # e-mail domain (object)
    n_users: np.ndarray
    user_offset: np.ndarray  # first user_id - 1
    n_projects: np.ndarray
    project_offset: np.ndarray
    # per project (index = project_id - 1)
    project_account: np.ndarray
    project_nominal_at: np.ndarray
    internal: np.ndarray  # bool per account: the vendor's own QA/demo workspace

    @property
    def n_accounts(self) -> int:
        return len(self.created_at)

    @property
    def total_users(self) -> int:
        return int(self.n_users.sum())


def _signup_times(params: Params, rng: np.random.Generator, n: int) -> np.ndarray:
    """Signup instants: a launch cohort in the first weeks, then growth; fewer on weekends."""
    w0, _ = window_us(params.window)
    days = params.window.days
    day_idx = np.arange(days)
    weekday = (np.datetime64(params.window.start) + day_idx).astype("datetime64[D]").view("int64")
    weekend = ((weekday + 3) % 7) >= 5  # 1970-01-01 was a Thursday
    day_weight = np.where(weekend, 0.35, 1.0)
    s = params.accounts.signup
    growth = np.exp(s.growth_per_year * day_idx / 365.0) * day_weight
    launch = np.where(day_idx < min(s.launch_days, days), day_weight, 0.0)
    in_launch = rng.random(n) < s.launch_share
    day = np.where(in_launch, choice_index(rng, launch, n), choice_index(rng, growth, n))
    # business-hours-ish signup time, centred on 15:00 UTC (Europe afternoon, US morning)
    hour = np.mod(rng.normal(15.0, 3.5, n), 24.0)  # wraps around midnight (no pile-up at a clip)
    return w0 + day * DAY + np.floor(hour * HOUR).astype(np.int64)


def plan_accounts(params: Params) -> AccountPlan:
    """Draw accounts and the per-account plan; the same params always give the same plan (one stream,
    drawn in this order: signups, tiers, countries, industries, churn, headcounts, sizes, projects,
    domains; internal workspaces from a stream of their own)."""
    rng = stream(params.seed, "accounts", 0)
    n = params.accounts.count
    _, w1 = window_us(params.window)
    created = np.sort(_signup_times(params, rng, n))
    tier = choice_index(rng, [getattr(params.accounts.plan_tier_weights, t) for t in PLAN_TIERS], n)
    country = choice_index(rng, [c[1] for c in vocab.COUNTRIES], n)
    industry = choice_index(rng, [w for _, w in vocab.INDUSTRIES], n)
    churn_at = _churn_times(params, rng, created, tier, w1)
    internal = internal_accounts(params, n)
    # the vendor's own workspaces: enterprise, in its own country (US) and industry, never cancelled
    tier = np.where(internal, PLAN_TIERS.index("enterprise"), tier)
    country = np.where(internal, 0, country)
    industry = np.where(internal, [i for i, _ in vocab.INDUSTRIES].index("Software"), industry)
    churn_at = np.where(internal, NEVER, churn_at)
    n_users, n_projects = _headcounts(params, rng, tier, internal)
    employees = n_users * lognormal(rng, 4.0, 0.9, n) + 1
    size_band = np.searchsorted(np.array(vocab.COMPANY_SIZE_LOWER), employees, side="right") - 1
    project_account, nominal = _project_plan(rng, created, churn_at, n_projects, w1)
    industry_names = np.array([i for i, _ in vocab.INDUSTRIES], dtype=object)[industry]
    account_name, domain = _names_and_domains(params, rng, country, industry_names, internal)
    accounts = pa.table(
        {
            "account_id": pa.array(np.arange(1, n + 1, dtype=np.int64), pa.int64()),
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
    return AccountPlan(
        accounts=accounts,
        created_at=created,
        churn_at=churn_at,
        tier=tier,
        country=country,
        domain=domain,
        n_users=n_users,
        user_offset=np.r_[0, np.cumsum(n_users)[:-1]].astype(np.int64),
        n_projects=n_projects,
        project_offset=np.r_[0, np.cumsum(n_projects)[:-1]].astype(np.int64),
        project_account=project_account,
        project_nominal_at=nominal,
        internal=internal,
    )


def _churn_times(params: Params, rng: np.random.Generator, created: np.ndarray, tier: np.ndarray, w1: int):
    """Account churn: an exponential lifetime by tier's monthly hazard, at least a day (the founder
    gets to look around); NEVER when it ends past the window."""
    monthly = np.array([getattr(params.accounts.monthly_churn, t) for t in PLAN_TIERS])[tier]
    with np.errstate(divide="ignore"):
        mean_days = np.where(monthly > 0, MONTH_DAYS / np.maximum(monthly, 1e-12), np.inf)
    lifetime_days = np.clip(rng.exponential(1.0, len(created)) * mean_days, 1.0, 1e5)
    candidate = created + np.floor(lifetime_days * DAY).astype(np.int64)
    return np.where(candidate < w1, candidate, NEVER).astype(np.int64)


def internal_accounts(params: Params, n: int) -> np.ndarray:
    """The vendor's internal/test workspaces (an imperfection planted here), from their own stream, so
    the share changes nothing about the other accounts: a prefix of one fixed permutation, so a larger
    share adds accounts and never swaps them."""
    internal = np.zeros(n, dtype=bool)
    k = round(params.imperfections.internal.account_share * n)
    if k:
        internal[stream(params.seed, "internal", 0).permutation(n)[:k]] = True
    return internal


def _headcounts(params: Params, rng: np.random.Generator, tier: np.ndarray, internal: np.ndarray):
    """(users, projects) per account: bigger tiers invite more people and run more projects (log-scale,
    so most teams are small); an internal workspace has a few staff and bots."""
    upa, ppa = params.users_per_account, params.projects_per_account
    n_users = log_scale_count(upa.min, upa.max, rng.beta(1.0 + 0.8 * tier, 2.2))
    n_users = np.where(internal, np.clip(n_users, upa.min, max(upa.min, 12)), n_users)
    return n_users, log_scale_count(ppa.min, ppa.max, rng.beta(1.0 + 0.5 * tier, 2.0))


def _project_plan(rng: np.random.Generator, created: np.ndarray, churn_at: np.ndarray, n_projects: np.ndarray, w1: int):
    """(account, nominal creation time) per project: the first hours after signup, the others spread
    over the account's life (front-loaded), all before it ends."""
    project_account = np.repeat(np.arange(len(created)), n_projects)
    live_until = np.minimum(churn_at, w1)[project_account]
    acct_created = created[project_account]
    first_of_account = (
        np.r_[True, project_account[1:] != project_account[:-1]] if len(project_account) else np.array([], bool)
    )
    first_lag = to_us(lognormal(rng, 2.0 * HOUR, 1.0, len(project_account)))
    later_lag = truncated_exponential(rng, 45.0 * DAY, live_until - acct_created)
    nominal = acct_created + np.where(first_of_account, first_lag, later_lag)
    return project_account, np.minimum(nominal, live_until - 1)


def _names_and_domains(
    params: Params, rng: np.random.Generator, country: np.ndarray, industry_names: np.ndarray, internal: np.ndarray
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
    repeated = first_pos[inverse] != np.arange(n)
    slugs = np.where(repeated, slugs + "-" + np.arange(1, n + 1).astype(str).astype(object), slugs)
    tld = np.where(
        industry_names == "Non-profit", "example.org", np.where(rng.random(n) < 0.12, "example.net", "example.com")
    )
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
    "user_offset",
    "n_projects",
    "project_offset",
    "internal",
)
PLAN_PROJECT_COLUMNS = ("project_account", "project_nominal_at")


def plan_tables(plan: AccountPlan) -> tuple[pa.Table, pa.Table]:
    """The plan as two Arrow tables (per account, per project), so block workers can load it."""
    acc = pa.table({c: pa.array(getattr(plan, c)) for c in PLAN_ACCOUNT_COLUMNS})
    proj = pa.table({c: pa.array(getattr(plan, c)) for c in PLAN_PROJECT_COLUMNS})
    return acc, proj


def plan_from_tables(acc: pa.Table, proj: pa.Table, accounts: pa.Table | None = None) -> AccountPlan:
    cols = {c: acc.column(c).to_numpy(zero_copy_only=False) for c in PLAN_ACCOUNT_COLUMNS}
    cols["domain"] = cols["domain"].astype(object)
    cols.update({c: proj.column(c).to_numpy() for c in PLAN_PROJECT_COLUMNS})
    return AccountPlan(accounts=accounts, **cols)
