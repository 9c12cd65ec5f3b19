"""The "Does it behave like a product?" section of 04_qa_profile: every chart draws on tiny and default data,
the numbers its sentence quotes agree with an independent computation (pandas over the tiny dataset's
Parquet), and every realism measure is computed."""

from __future__ import annotations

import datetime as dt
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from helpers import io, plotting
from helpers.plotting import behaviour
from helpers.quality import realism
from helpers.schema import KEY_EVENTS

from .conftest import dataset

CHARTS = (
    behaviour.retention_by_plan,
    behaviour.fade_before_silence,
    behaviour.events_per_user_week,
    behaviour.sessions,
    behaviour.local_hour_weekday,
    behaviour.holidays_by_country,
    behaviour.plans,
    behaviour.funnel,
)


# --------------------------------------------------------------------------- independent pandas reads
def read(data_dir, name: str) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(f) for f in io.parts(io.table_dir(data_dir, name))], ignore_index=True)


@pytest.fixture(scope="module")
def tiny(tiny_data):
    """The tiny dataset in pandas: customers' accounts and users, and customers' events counted once (the
    first delivery of each event_id), with the window's exclusive end."""
    accounts = read(tiny_data, "accounts")
    accounts = accounts[~accounts.is_internal]
    users = read(tiny_data, "users")
    users = users[users.account_id.isin(accounts.account_id)]
    events = read(tiny_data, "events").sort_values("ingested_at_utc").drop_duplicates("event_id")
    events = events[events.account_id.isin(accounts.account_id)]
    params = io.load_params(tiny_data)
    end = pd.Timestamp(params.window.end) + pd.Timedelta(days=1)
    return dict(accounts=accounts, users=users, events=events, end=end, start=pd.Timestamp(params.window.start))


@pytest.fixture(scope="module")
def tiny_con(tiny_data):
    return dataset(tiny_data)


def monday(ts: pd.Series) -> pd.Series:
    return ts.dt.normalize() - pd.to_timedelta(ts.dt.day_of_week, unit="D")


def close(chart) -> None:
    plt.close(chart.figure)


# --------------------------------------------------------------------------- every chart draws
@pytest.mark.parametrize("chart", CHARTS, ids=lambda f: f.__name__)
def test_every_chart_draws_on_tiny(tiny_con, chart):
    """A figure and a sentence, also where tiny is too thin for the chart (it says "too few" then)."""
    c = chart(tiny_con)
    assert isinstance(c.figure, plt.Figure) and c.sentence
    assert c._repr_mimebundle_()["text/markdown"] == c.sentence
    if not c.numbers:
        assert c.sentence.startswith("Too few") or "nothing is marked" in c.sentence, c.sentence
    close(c)


@pytest.mark.xdist_group("default")
def test_every_chart_draws_on_default(default_data):
    """On default every chart has data enough to quote its numbers (holidays: when truth/scenarios names
    countries), and the quoted numbers point the way the realism measures do."""
    con = dataset(default_data)
    for chart in CHARTS:
        c = chart(con)
        assert isinstance(c.figure, plt.Figure), chart.__name__
        assert c.numbers or chart is behaviour.holidays_by_country, (chart.__name__, c.sentence)
        assert not c.sentence.startswith("Too few"), (chart.__name__, c.sentence)
        close(c)
    measures = realism.measures(con).set_index("measure").value
    c = behaviour.events_per_user_week(con)
    # the same share by a different rule for ties (percent_rank): within a point
    assert c.numbers["top10_share"] == pytest.approx(measures["top_decile_user_week_share"], abs=0.01)
    close(c)


# --------------------------------------------------------------------------- the sentences' numbers
def test_retention_by_plan_numbers(tiny_con, tiny):
    """Week-k retention: of users activated in an ISO week whose week 12 ends inside the window, the share
    with a key event in the k-th ISO week after, per plan and over all customers."""
    c = behaviour.retention_by_plan(tiny_con)
    close(c)
    users = tiny["users"].dropna(subset=["activated_at"]).merge(tiny["accounts"][["account_id", "plan_tier"]])
    users = users.assign(cw=monday(users.activated_at))
    cohort = users[users.cw + pd.Timedelta(days=91) <= tiny["end"]]
    key = tiny["events"][tiny["events"].event_name.isin(KEY_EVENTS)].merge(cohort[["user_id", "cw"]])
    key = key.assign(k=(monday(key.event_at_utc) - key.cw).dt.days // 7)

    def kept(k: int, who: pd.DataFrame) -> float:
        return key[(key.k == k) & key.user_id.isin(who.user_id)].user_id.nunique() / len(who)

    assert c.numbers["week1_all"] == pytest.approx(kept(1, cohort))
    assert c.numbers["week12_all"] == pytest.approx(kept(12, cohort))
    plans = [p for p, g in cohort.groupby("plan_tier") if len(g) >= behaviour.MIN_COHORT_USERS]
    assert plans and {f"week12_{p}" for p in plans} | {"week1_all", "week12_all"} == set(c.numbers)
    for plan in plans:
        assert c.numbers[f"week12_{plan}"] == pytest.approx(kept(12, cohort[cohort.plan_tier == plan]))
        assert f"{plan} {100 * c.numbers[f'week12_{plan}']:.0f}%" in c.sentence


def test_fade_before_silence_numbers(tiny_con, tiny):
    """Silent users (last event before the window's last 8 weeks, first active week 12+ weeks before the
    last): mean active days and key events per user-week in weeks -12..-9 and -4..-1."""
    c = behaviour.fade_before_silence(tiny_con, min_users=2)
    close(c)
    ev = tiny["events"].assign(d=tiny["events"].event_at_utc.dt.normalize())
    span = ev.groupby("user_id").d.agg(["min", "max"])
    first_w, last_w = monday(span["min"]), monday(span["max"])
    silent = span.index[
        (span["max"] < tiny["end"] - pd.Timedelta(days=56)) & (first_w <= last_w - pd.Timedelta(days=84))
    ]
    assert len(silent) >= 2 and c.numbers["users"] == len(silent)
    ev = ev[ev.user_id.isin(silent)]
    ev = ev.assign(w=(monday(ev.d) - ev.user_id.map(last_w)).dt.days // 7)
    days = ev[["user_id", "d", "w"]].drop_duplicates().groupby("w").size()
    keys = ev[ev.event_name.isin(KEY_EVENTS)].groupby("w").size()

    def mean(series, weeks):
        return series.reindex(weeks, fill_value=0).sum() / len(weeks) / len(silent)

    assert c.numbers["days_early"] == pytest.approx(mean(days, range(-12, -8)))
    assert c.numbers["days_late"] == pytest.approx(mean(days, range(-4, 0)))
    assert c.numbers["key_early"] == pytest.approx(mean(keys, range(-12, -8)))
    assert c.numbers["key_late"] == pytest.approx(mean(keys, range(-4, 0)))
    with pytest.raises(ValueError):
        behaviour.fade_before_silence(tiny_con, weeks=4)


def test_events_per_user_week_numbers(tiny_con, tiny):
    """The busiest 10% of active user-weeks (rounded up) and the share of events they hold; the median and
    99th-percentile user-week (the lowest value reaching that share of user-weeks)."""
    c = behaviour.events_per_user_week(tiny_con)
    close(c)
    ev = tiny["events"]
    n = np.sort(ev.groupby([ev.user_id, monday(ev.event_at_utc)]).size().to_numpy())[::-1]
    top = math.ceil(0.1 * len(n))
    assert c.numbers["user_weeks"] == len(n)
    assert c.numbers["top10_share"] == pytest.approx(n[:top].sum() / n.sum())
    ascending = n[::-1]
    assert c.numbers["median"] == ascending[math.ceil(0.5 * len(n)) - 1]
    assert c.numbers["p99"] == ascending[math.ceil(0.99 * len(n)) - 1]
    assert f"hold {100 * c.numbers['top10_share']:.0f}% of events" in c.sentence


def test_top_share_counts_ties_once():
    """Ties at the boundary: only as many of the tied user-weeks as the busiest 10% has room for."""
    dist = pd.DataFrame({"n": [1, 5, 10], "weeks": [15, 4, 1]})  # 20 user-weeks: the busiest 2 are 10 and 5
    assert behaviour.top_share(dist) == (pytest.approx(15 / 45), 5)


def test_sessions_numbers(tiny_con, tiny):
    """Minutes between consecutive events of one session (same-moment events left out): median and 90th
    percentile to the second; sessions per active user-day (UTC day)."""
    c = behaviour.sessions(tiny_con)
    close(c)
    ev = tiny["events"].sort_values(["session_id", "event_at_utc", "event_id"])
    gaps = ev.groupby("session_id").event_at_utc.diff().dt.total_seconds() / 60
    gaps = gaps[gaps > 0]
    assert c.numbers["gap_median_minutes"] == pytest.approx(gaps.median(), abs=1 / 60)
    assert c.numbers["gap_p90_minutes"] == pytest.approx(gaps.quantile(0.9), abs=1 / 60)
    per_day = ev.groupby([ev.user_id, ev.event_at_utc.dt.normalize()]).session_id.nunique()
    assert c.numbers["sessions_per_user_day"] == pytest.approx(per_day.mean())


def test_binned_quantile_within_one_bin():
    """Counts per unit bin give every quantile to within one bin of the exact value."""
    values = np.random.default_rng(5).lognormal(4, 1.5, 20_000)
    counts = pd.Series(values.astype(int)).value_counts().sort_index()
    for q in (0.01, 0.5, 0.9, 0.99):
        assert abs(behaviour.binned_quantile(counts, q) - np.quantile(values, q)) <= 1
    one_bin = pd.Series([4], index=[7])  # four values in [7, 8): the median lies halfway through
    assert behaviour.binned_quantile(one_bin, 0.5) == 7.5


def local_times(tiny) -> pd.Series:
    """Each customer event's local time in its user's time zone (users with one)."""
    ev = tiny["events"].merge(tiny["users"][["user_id", "timezone"]]).dropna(subset=["timezone"])
    return (
        pd.concat(
            [
                g.event_at_utc.dt.tz_localize("UTC").dt.tz_convert(tz).dt.tz_localize(None).rename("t")
                for tz, g in ev.groupby("timezone")
            ]
        )
        .to_frame()
        .join(ev[["account_id"]].join(tiny["accounts"].set_index("account_id").country_code, on="account_id"))
    )


def test_local_hour_weekday_numbers(tiny_con, tiny):
    """Local hour 12 against the mean of 10, 11, 14 and 15; the share after 18:00; Friday's events per Friday
    of the window against Tuesday's and Wednesday's; the weekend's share."""
    c = behaviour.local_hour_weekday(tiny_con)
    close(c)
    t = local_times(tiny).t
    hours = t.dt.hour.value_counts()
    assert c.numbers["lunch_dip"] == pytest.approx(hours[12] / hours[[10, 11, 14, 15]].mean())
    assert c.numbers["evening_share"] == pytest.approx((t.dt.hour >= 18).mean())
    dates = pd.Series(pd.date_range(tiny["start"], tiny["end"] - pd.Timedelta(days=1)).day_of_week).value_counts()
    per_date = t.dt.day_of_week.value_counts() / dates
    assert c.numbers["friday_ratio"] == pytest.approx(per_date[4] / per_date[[1, 2]].mean())
    assert c.numbers["weekend_share"] == pytest.approx((t.dt.day_of_week >= 5).mean())


def test_holiday_countries_reads_the_segment():
    """Country codes from the segment of a holidays row; a day off everywhere is None; none named: empty."""
    assert behaviour.holiday_countries("external users in US, GB, DE (local calendar)") == {"US", "GB", "DE"}
    assert behaviour.holiday_countries("external users in CA (America/Toronto), US (local calendar)") == {"CA", "US"}
    assert behaviour.holiday_countries("external users in every country (local calendar)") is None
    assert behaviour.holiday_countries("all external accounts (local calendar)") == set()


def test_holidays_by_country_numbers(tiny_data, tiny):
    """With holidays naming countries in truth/scenarios: each country's holiday weekdays (its own, and the
    days off everywhere) marked, and the median over them of the day's local events / the median of the same
    weekday 1-3 weeks either side (days before the country's first or after its last active day left out)."""
    con = dataset(tiny_data)
    days = {
        dt.date(2025, 7, 4): "external users in US (local calendar)",  # a Friday
        dt.date(2025, 5, 26): "external users in US, GB (local calendar)",  # a Monday
        dt.date(2025, 10, 3): "external users in DE (local calendar)",  # a Friday
        dt.date(2025, 11, 11): "external users in every country (local calendar)",  # a Tuesday
        dt.date(2025, 11, 15): "external users in US, GB, DE (local calendar)",  # a Saturday: not charted
    }
    rows = ", ".join(f"('holidays', true, TIMESTAMP '{d} 00:00:00', '{s}')" for d, s in days.items())
    columns = "scenario, enabled, starts_at, segment"
    con.execute(f"CREATE OR REPLACE VIEW truth.scenarios AS SELECT * FROM (VALUES {rows}) t({columns})")
    c = behaviour.holidays_by_country(con)
    close(c)
    local = local_times(tiny)
    assert c.numbers and set(c.numbers) <= {f"{code}_holiday_ratio" for code in ("US", "GB", "DE")}, c.sentence
    for code in ("US", "GB", "DE"):
        counts = local[local.country_code == code].t.dt.normalize().value_counts()
        expected = holiday_ratio(counts, days, code)
        if np.isnan(expected):  # every holiday's same weekdays around were idle: nothing to say
            assert f"{code}_holiday_ratio" not in c.numbers
        else:
            assert c.numbers[f"{code}_holiday_ratio"] == pytest.approx(expected)
            assert f"{code} {100 * expected:.0f}%" in c.sentence


def holiday_ratio(counts: pd.Series, days: dict, code: str) -> float:
    """Over the country's holidays on a weekday between its first and last active day: the median of the
    day's events / the median of the same weekday 1-3 weeks either side (inside those days, 0 when idle)."""
    first, last = counts.index.min(), counts.index.max()

    def events(day):
        return counts.get(day, 0) if first <= day <= last else None

    ratios = []
    for d, segment in days.items():
        day, places = pd.Timestamp(d), behaviour.holiday_countries(segment)
        if day.day_of_week >= 5 or not (first <= day <= last) or (places is not None and code not in places):
            continue
        around = [x for x in (events(day + pd.Timedelta(days=7 * k)) for k in (-3, -2, -1, 1, 2, 3)) if x is not None]
        typical = np.median(around) if around else 0
        ratios.append(events(day) / typical if typical > 0 else np.nan)
    return pd.Series(ratios).median()


def test_plans_numbers(tiny_con, tiny):
    """Share of paid accounts, median users per account by plan, free accounts' 90th percentile, share of
    1001+ companies on enterprise."""
    c = behaviour.plans(tiny_con)
    close(c)
    a = tiny["accounts"].set_index("account_id")
    a["users"] = tiny["users"].account_id.value_counts().reindex(a.index, fill_value=0)
    assert c.numbers["paid_share"] == pytest.approx((a.plan_tier != "free").mean())
    for plan, g in a.groupby("plan_tier"):
        assert c.numbers[f"median_users_{plan}"] == pytest.approx(np.median(g.users))
    assert c.numbers["free_p90_users"] == pytest.approx(np.percentile(a[a.plan_tier == "free"].users, 90))
    big = a[a.company_size == "1001+"]
    assert ("enterprise_share_of_1001_plus" in c.numbers) == (len(big) > 0)


def test_funnel_numbers(tiny_con, tiny):
    """invited -> activated -> created a task -> completed a task -> handed off, each within the one before."""
    c = behaviour.funnel(tiny_con)
    close(c)
    ev = tiny["events"]

    def did(name):
        return set(ev[ev.event_name == name].user_id)

    invited = set(tiny["users"].user_id)
    activated = set(tiny["users"].dropna(subset=["activated_at"]).user_id)
    created = activated & did("task_created")
    completed = created & did("task_completed")
    handed = completed & did("handoff_completed")
    assert c.numbers["activated"] == pytest.approx(len(activated) / len(invited))
    assert c.numbers["created_a_task"] == pytest.approx(len(created) / len(activated))
    assert c.numbers["completed_a_task"] == pytest.approx(len(completed) / len(created))
    assert c.numbers["handed_off"] == pytest.approx(len(handed) / len(completed))
    assert f"of {len(invited):,} users invited in the window" in c.sentence


# --------------------------------------------------------------------------- realism measures
def check_measures(con) -> pd.DataFrame:
    m = realism.measures(con)
    assert list(m.measure) == list(dict.fromkeys(m.measure)) and set(m.measure) == set(realism.EXPECTED)
    table = plotting.realism_table(m)
    assert set(table.verdict) <= {"pass", "outside", "no data"}
    assert (table.verdict == "pass").sum() == m.real.sum()
    return table


def test_realism_measures_on_tiny(tiny_con):
    """Every measure of EXPECTED, no error, each pass, outside, or no data exactly when it has no value."""
    table = check_measures(tiny_con)
    assert ((table.verdict == "no data") == table.value.isna()).all()


@pytest.mark.xdist_group("default")
def test_realism_measures_on_default(default_data):
    table = check_measures(dataset(default_data)).set_index("measure")
    assert table.verdict["top_decile_user_week_share"] == "pass"
    assert table["real products"]["projects_tied_at_top"] == "1"
    assert table["real products"]["paid_over_free_team_size"] == ">= 1.5"
