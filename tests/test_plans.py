"""Plans that differ (issue 13): the plan follows the company's size, free teams stay under the seat limit,
paid accounts are bigger and stay longer, plans change over time (trials, upgrades, a few downgrades), projects
grow with the team, and companies sign up at a local working hour.

Plan-level checks draw the accounts plan alone (no simulation: milliseconds) with many accounts on a few
seeds, so the directions are not sampling noise; the published default dataset is checked with SQL the way
an analyst would.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from helpers import io
from helpers import params as P
from helpers.generate import accounts as A
from helpers.generate import vocab
from helpers.generate.sessions import pinned_zone
from helpers.schema import COMPANY_SIZES, PLAN_TIERS
from helpers.units import DAY, NEVER, window_us

from .conftest import ROOT, dataset, scalar

FREE, TEAM, BUSINESS, ENTERPRISE = range(len(PLAN_TIERS))
SEEDS = (22, 5, 2024)


def _plan(seed: int = 22, count: int = 3000, base: str = "default") -> tuple[P.Params, A.AccountPlan]:
    params = P.load(ROOT / "params" / f"{base}.yaml")
    params = params.model_copy(update={"seed": seed, "accounts": params.accounts.model_copy(update={"count": count})})
    return params, A.plan_accounts(params)


@pytest.fixture(scope="module", params=SEEDS)
def plan(request) -> tuple[P.Params, A.AccountPlan]:
    return _plan(request.param)


def _external(plan: A.AccountPlan) -> np.ndarray:
    return ~plan.internal


def _band(plan: A.AccountPlan) -> np.ndarray:
    return np.array([COMPANY_SIZES.index(b) for b in plan.accounts.column("company_size").to_pylist()])


# --------------------------------------------------------------------------- team size and the seat limit
def test_free_teams_stay_under_the_seat_limit_and_paid_teams_are_bigger(plan):
    params, plan = plan
    ext = _external(plan)
    limit = params.accounts.free_seat_limit
    users = {t: plan.n_users[ext & (plan.tier == t)] for t in range(len(PLAN_TIERS))}
    assert users[FREE].max() <= limit
    means = [users[t].mean() for t in range(len(PLAN_TIERS))]
    assert means == sorted(means) and means[FREE] * 3 < means[TEAM], means  # bigger plans, bigger teams
    assert np.median(users[FREE]) < np.median(np.concatenate([users[TEAM], users[BUSINESS], users[ENTERPRISE]]))
    # most users sit in paid accounts, as in freemium team tools
    assert users[FREE].sum() < 0.25 * plan.n_users[ext].sum()


def test_no_pile_up_just_above_the_seat_limit_in_paid_tiers(plan):
    """Paid teams are drawn on their own scale: the sizes right above the free limit are not crowded."""
    params, plan = plan
    limit = params.accounts.free_seat_limit
    paid = plan.n_users[_external(plan) & (plan.tier != FREE)]
    counts = np.bincount(paid, minlength=limit + 6)
    around = counts[[limit - 1, limit, limit + 2, limit + 3]].mean()
    assert counts[limit + 1] < 2.0 * around + 3, counts[limit - 2 : limit + 6]


def test_teams_are_well_below_their_company(plan):
    """The team invited around signup (newcomers join later, over years of turnover)."""
    _, plan = plan
    ext = _external(plan) & (plan.employees > 10)
    assert np.all(plan.n_team[_external(plan)] <= np.maximum(plan.employees[_external(plan)], 1))
    assert np.median(plan.n_team[ext] / plan.employees[ext]) < 0.3


# --------------------------------------------------------------------------- plan by company size
def test_plan_follows_company_size(plan):
    _, plan = plan
    ext, band = _external(plan), _band(plan)

    def share(b, tiers):
        m = ext & (band == b)
        return np.isin(plan.tier[m], tiers).mean()

    small, big = 0, len(COMPANY_SIZES) - 1
    assert share(small, [FREE]) > 0.6  # 1-10 employees: mostly free
    assert share(big, [BUSINESS, ENTERPRISE]) > 0.5  # 1001+: mostly business or enterprise...
    assert share(big, [ENTERPRISE]) > 0.3 and share(big, [FREE]) < 0.25  # ...often enterprise, rarely free
    assert share(small, [ENTERPRISE]) < 0.02
    paid = [share(b, [TEAM, BUSINESS, ENTERPRISE]) for b in range(len(COMPANY_SIZES))]
    assert paid == sorted(paid), paid  # the bigger the company, the likelier it pays


def test_most_accounts_are_free_at_the_windows_end(plan):
    """Of the window's signups (an installed base from before it is mostly paid: free accounts leave sooner)."""
    params, plan = plan
    w0, _ = window_us(params.window)
    free = (plan.tier[_external(plan) & (plan.created_at >= w0)] == FREE).mean()
    assert 0.5 <= free <= 0.65, free


def test_paid_accounts_stay_far_longer(plan):
    """Accounts that signed up in the first half of the window: far more of those ending free churned."""
    params, plan = plan
    w0, w1 = window_us(params.window)
    early = _external(plan) & (plan.created_at < (w0 + w1) // 2)
    churned = plan.churn_at != NEVER
    free = churned[early & (plan.tier == FREE)].mean()
    paid = churned[early & (plan.tier != FREE)].mean()
    assert free > 2 * paid, (free, paid)


# --------------------------------------------------------------------------- plan changes
def _transitions(plan: A.AccountPlan) -> dict[tuple[str, str], int]:
    """(from, to) -> count over all plan changes; a trial reads "team trial"."""
    t = plan.account_plans.to_pandas().sort_values(["account_id", "valid_from"])
    label = t.plan_tier.where(~t.is_trial, t.plan_tier + " trial")
    prev = label.groupby(t.account_id).shift()
    pairs = list(zip(prev[prev.notna()], label[prev.notna()], strict=True))
    return {p: pairs.count(p) for p in set(pairs)}


def test_plans_change_trials_upgrades_and_a_few_downgrades(plan):
    _, plan = plan
    moves = _transitions(plan)
    trials = moves.get(("team trial", "team"), 0) + moves.get(("team trial", "free"), 0)
    assert trials > 0.15 * plan.n_accounts
    converted = moves[("team trial", "team")] / trials
    assert 0.1 < converted < 0.5, converted  # most trials lapse, as no-card trials do
    assert moves[("free", "team")] > 0.1 * plan.n_accounts
    assert moves[("team", "business")] > 0.02 * plan.n_accounts
    assert moves[("business", "enterprise")] > 0
    downgrades = moves[("team", "free")]
    upgrades = sum(n for (a, b), n in moves.items() if PLAN_TIERS.index(b) > PLAN_TIERS.index(a.split()[0]))
    assert 0 < downgrades < 0.2 * upgrades
    # nothing else: no free trial of business, no jump from free straight to enterprise
    assert set(moves) <= {
        ("team trial", "team"),
        ("team trial", "free"),
        ("free", "team"),
        ("team", "business"),
        ("business", "enterprise"),
        ("team", "free"),
    }, moves
    # the free -> team upgrade comes weeks after the signup, team -> business months after
    t = plan.account_plans.to_pandas().sort_values(["account_id", "valid_from"])
    t["days"] = (t.valid_from - t.groupby("account_id").valid_from.shift()).dt.total_seconds() / 86400
    t["prev"] = t.groupby("account_id").plan_tier.shift()
    to_team = t[(t.prev == "free") & (t.plan_tier == "team")].days.median()
    to_business = t[(t.prev == "team") & (t.plan_tier == "business")].days.median()
    assert 7 < to_team < 60 and 30 < to_business < 200 and to_team < to_business, (to_team, to_business)


def test_periods_are_the_account_history(plan):
    """Contiguous from created_at, changes before the account ends, the last tier is AccountPlan.tier and
    tier_at reads the periods."""
    params, plan = plan
    _, w1 = window_us(params.window)
    t = io.to_numpy_columns(plan.account_plans)  # rows by account, then time; times in us
    ids, frm, to = t["account_id"] - 1, t["valid_from"], t["valid_to"]
    tier = np.array([PLAN_TIERS.index(x) for x in t["plan_tier"]])
    first = np.r_[True, ids[1:] != ids[:-1]]
    last = np.r_[ids[1:] != ids[:-1], True]
    assert np.array_equal(ids[first], np.arange(plan.n_accounts))
    assert np.array_equal(frm[first], plan.created_at)
    assert np.array_equal(to[~last], frm[1:][~last[:-1]]) and np.all(to[last] == -1)  # contiguous, last open
    assert np.all(frm < np.minimum(plan.churn_at, w1)[ids])
    assert np.array_equal(tier[last], plan.tier)
    a = np.arange(plan.n_accounts)
    assert np.array_equal(plan.tier_at(a, np.full(plan.n_accounts, w1 - 1)), plan.tier)
    assert np.array_equal(plan.tier_at(ids, frm), tier)
    assert np.array_equal(plan.trial_at(ids, frm), t["is_trial"])
    unused = plan.period_from == NEVER
    assert np.all(unused == (plan.period_tier == A.NO_TIER)) and not plan.period_trial[unused].any()
    assert not np.any(unused[:, :-1] & ~unused[:, 1:])  # unused slots last
    assert np.all(np.diff(plan.period_from, axis=1)[~unused[:, 1:]] > 0)  # the others strictly in time order
    assert np.all(plan.tier[plan.internal] == ENTERPRISE) and np.all(plan.churn_at[plan.internal] == NEVER)


def test_the_plan_survives_its_tables_and_is_deterministic():
    params, plan = _plan(7, 500)
    again = A.plan_from_tables(*A.plan_tables(plan))
    for name in ("period_from", "period_tier", "period_trial", "tier", "n_users", "employees", "churn_at"):
        assert np.array_equal(getattr(again, name), getattr(plan, name)), name
    assert A.plan_accounts(params).account_plans.equals(plan.account_plans)


# --------------------------------------------------------------------------- projects grow with the team
def test_projects_grow_with_the_team(plan):
    params, plan = plan
    n, p = plan.n_users, plan.n_projects
    assert np.corrcoef(n, p)[0, 1] > 0.7
    assert np.median(p[n >= 50]) >= 8 and np.median(p[n <= 2]) <= 2
    assert not np.any((n >= 30) & (p == 1))
    assert p.max() <= params.projects_per_account.max


def test_projects_are_created_as_the_team_grows():
    """Later projects come over the account's life (not all in the first days), ids in creation order."""
    _, plan = _plan(22, 1500)
    first = plan.project_offset[plan.project_account] == np.arange(len(plan.project_account))
    lag_days = (plan.project_nominal_at - plan.created_at[plan.project_account]) / DAY
    assert np.median(lag_days[first]) < 0.5
    later = lag_days[~first]
    assert np.median(later) > 7 and np.quantile(later, 0.9) > 60
    order = np.lexsort((plan.project_nominal_at, plan.project_account))
    assert np.array_equal(order, np.arange(len(order)))


# --------------------------------------------------------------------------- signups at a local working hour
def _local(plan: A.AccountPlan, params: P.Params):
    """(local hour, local weekday 0=Monday) of each external account's signup in its country's main zone."""
    hours, weekdays = [], []
    for a in np.nonzero(_external(plan))[0]:
        zone = pinned_zone(vocab.COUNTRIES[plan.country[a]][3][0][0])
        t = (dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=int(plan.created_at[a]))).replace(tzinfo=dt.UTC)
        local = t.astimezone(zone)
        hours.append(local.hour + local.minute / 60)
        weekdays.append(local.weekday())
    return np.array(hours), np.array(weekdays)


def test_signups_at_a_local_working_hour():
    params, plan = _plan(22, 1200)
    hours, weekdays = _local(plan, params)
    assert 0.75 < np.mean((hours >= 8) & (hours < 18)) < 0.95
    assert 0.03 < np.mean(hours >= 18) < 0.2  # a few evening signups
    weekend = np.mean(weekdays >= 5)
    assert weekend < 0.5 * 2 / 7  # weekend days get well under a weekday's share
    # no cluster at one UTC hour: each region signs up in its own office hours
    utc = (plan.created_at[_external(plan)] % DAY) / 3.6e9
    codes = np.array([vocab.COUNTRIES[c][0] for c in plan.country[_external(plan)]])
    europe = np.isin(codes, ["GB", "DE", "FR", "NL", "ES", "SE", "PL", "IE"])
    asia = np.isin(codes, ["JP", "SG", "IN", "AU"])
    us = codes == "US"
    assert np.median(utc[us]) - np.median(utc[europe]) > 3
    assert np.median(utc[asia]) < 9
    assert max(np.histogram(utc, bins=24, range=(0, 24))[0]) < 0.12 * len(utc)


# --------------------------------------------------------------------------- the published default dataset
@pytest.mark.xdist_group("default")
def test_default_dataset_behaves_like_a_freemium_product(default_data):
    """What an analyst measures on the default dataset (external accounts, an installed base) with SQL."""
    con = dataset(default_data)
    con.execute("CREATE TEMP VIEW ext AS SELECT * FROM raw.accounts WHERE NOT is_internal")
    teams = (
        con.execute("""
        SELECT plan_tier, count(*) AS accounts, median(n) AS p50, max(n) AS top
        FROM (SELECT a.plan_tier, count(u.user_id) AS n FROM ext a LEFT JOIN raw.users u USING (account_id)
              GROUP BY a.account_id, a.plan_tier)
        GROUP BY plan_tier""")
        .df()
        .set_index("plan_tier")
    )
    params = P.load(ROOT / "params/default.yaml")
    assert teams.loc["free", "top"] <= params.accounts.free_seat_limit
    assert teams.loc["free", "p50"] < teams.loc["team", "p50"] < teams.loc["business", "p50"]
    # most of the window's signups are free; the installed base is mostly paid (free workspaces churn more, so
    # fewer of the older ones are still there)
    free = dict(
        con.execute(f"""SELECT created_at >= DATE '{params.window.start}', avg((plan_tier = 'free')::INT)
                        FROM ext GROUP BY 1""").fetchall()
    )
    assert free[True] > 0.5 and free[False] < free[True], free
    big = con.execute("""
        SELECT avg((plan_tier IN ('business', 'enterprise'))::INT), avg((plan_tier = 'free')::INT)
        FROM ext WHERE company_size = '1001+'""").fetchall()[0]
    assert big[0] > 0.5 and big[1] < 0.25, big
    corr = scalar(
        con,
        """SELECT corr(np, nu) FROM (
               SELECT a.account_id, (SELECT count(*) FROM raw.users u WHERE u.account_id = a.account_id) AS nu,
                      (SELECT count(*) FROM raw.projects p WHERE p.account_id = a.account_id) AS np
               FROM ext a)""",
    )
    assert corr > 0.5, corr
    changed = con.execute("""
        SELECT count(DISTINCT account_id) FILTER (WHERE is_trial),
               count(*) FILTER (WHERE prev = 'free' AND plan_tier = 'team'),
               count(*) FILTER (WHERE prev = 'team' AND plan_tier = 'free'),
               count(*) FILTER (WHERE prev = 'team' AND plan_tier = 'business')
        FROM (SELECT *, lag(plan_tier) OVER (PARTITION BY account_id ORDER BY valid_from) AS prev
              FROM raw.account_plans)""").fetchall()[0]
    assert all(c > 0 for c in changed), changed
