"""The planted scenarios, charted the way an analyst would look for each."""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..generate import calendar, vocab
from ..params.model import WEEKDAYS
from ..scenarios import incident_us
from .base import BLUE, GREY, ORANGE, RED, _df, _mark, _off
from .metrics import complete_weeks


def scenario_feature_launch(con, params) -> plt.Figure:
    """Share of tasks handed off, by week of creation: the launch segment vs other external accounts."""
    f = params.scenarios.feature_launch
    tiers = ", ".join(f"'{t}'" for t in f.plan_tiers)
    df = _df(
        con,
        f"""
        SELECT date_trunc('week', t.created_at)::DATE AS week, a.plan_tier IN ({tiers}) AS segment,
               100.0 * avg((h.task_id IS NOT NULL)::INTEGER) AS pct, count(*) AS tasks
        FROM raw.tasks t JOIN raw.accounts a USING (account_id)
        LEFT JOIN (SELECT DISTINCT task_id FROM qa.events WHERE event_name = 'handoff_completed') h USING (task_id)
        WHERE NOT a.is_internal GROUP BY ALL HAVING count(*) >= 20 ORDER BY week""",
    )
    fig, ax = plt.subplots()
    for seg, color, label in (
        (True, "#3b6ea8", f"segment: {', '.join(f.plan_tiers)}"),
        (False, "#b9c4cf", "other accounts"),
    ):
        d = df[df.segment == seg]
        if len(d):
            ax.plot(pd.to_datetime(d.week), d.pct, color=color, lw=1.6, label=label)
    if f.enabled:
        _mark(ax, f.date, f"launch of '{f.name}' ({f.date})")
    else:
        _off(ax, "feature_launch")
    ax.set(
        title="Feature launch: % of tasks handed off, by week of creation (external accounts)",
        xlabel="",
        ylabel="% of tasks created",
    )
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def scenario_ingestion_incident(con, params) -> plt.Figure:
    """Left: late share per UTC day. Right: around the incident, events per hour by when they happened
    and by when they were ingested."""
    inc = params.scenarios.ingestion_incident
    daily = _df(
        con,
        """
        SELECT event_at_utc::DATE AS day,
               100.0 * avg((ingested_at_utc - event_at_utc
                            > to_seconds(getvariable('late_threshold_seconds')))::INTEGER) AS pct
        FROM qa.events GROUP BY ALL ORDER BY day""",
    )
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.6), gridspec_kw={"width_ratios": [3, 2]})
    if len(daily):
        left.plot(pd.to_datetime(daily.day), daily.pct, color="#3b6ea8", lw=1.0)
    left.set(title="% of events arriving late, per UTC day", xlabel="", ylabel="% late")
    bounds = incident_us(params)
    if bounds:
        start, end, delivered = (pd.Timestamp(t, unit="us") for t in bounds)
        lo, hi = start - pd.Timedelta(hours=12), delivered + pd.Timedelta(hours=12)
        hourly = _df(
            con,
            f"""
            SELECT date_trunc('hour', t) AS hour, what, count(*) AS events FROM (
                SELECT event_at_utc AS t, 'happened (event_at_utc)' AS what FROM qa.events
                UNION ALL SELECT ingested_at_utc, 'ingested (ingested_at_utc)' FROM qa.events
            ) WHERE t >= '{lo}' AND t < '{hi}' GROUP BY ALL ORDER BY hour""",
        )
        for what, color in (("happened (event_at_utc)", "#3b6ea8"), ("ingested (ingested_at_utc)", "#e0893e")):
            d = hourly[hourly.what == what]
            right.step(pd.to_datetime(d.hour), d.events, where="post", color=color, label=what)
        right.axvspan(start, end, color="#c0392b", alpha=0.12, label=f"incident ({inc.hours:g} h)")
        _mark(left, start.normalize(), f"incident {start:%Y-%m-%d %H:%M} UTC")
        left.legend(loc="upper left")
        right.legend(loc="upper left", fontsize=8)
        right.tick_params(axis="x", labelrotation=30)
    else:
        _off(right, "ingestion_incident")
    right.set(title="Around the incident: events per hour", xlabel="", ylabel="events")
    fig.tight_layout()
    return fig


# A country gets a row of the holiday chart from this many active customers per weekday on (fewer is noise).
MIN_COUNTRY_USERS_PER_WEEKDAY = 8
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _local_daily_by_country(con, params) -> pd.DataFrame:
    """Customers' events and active users per local day (their time zone's clock) and their zone's
    country, in the window."""
    zones = ", ".join(f"('{tz}', '{code}')" for tz, code in vocab.ZONE_COUNTRY.items())
    return _df(
        con,
        f"""
        WITH zones(tz, country) AS (VALUES {zones}),
        -- a user's events per UTC quarter hour, each converted to local time once: every UTC offset is a
        -- whole number of quarter hours and changes on a quarter hour, so a quarter hour has one local day
        quarters AS (
            SELECT user_id, time_bucket(INTERVAL 15 MINUTE, event_at_utc) AS q, count(*) AS n
            FROM qa.events GROUP BY ALL
        ), user_days AS (
            SELECT z.country, q.user_id, timezone(u.timezone, timezone('UTC', q.q))::DATE AS day, sum(q.n) AS n
            FROM quarters q JOIN raw.users u USING (user_id) JOIN zones z ON z.tz = u.timezone
            WHERE NOT u.is_internal GROUP BY ALL
        )
        SELECT country, day, sum(n)::BIGINT AS events, count(*) AS users FROM user_days GROUP BY ALL
        HAVING day BETWEEN DATE '{params.window.start}' AND DATE '{params.window.end}'""",
    )


def _against_same_weekday(daily: pd.Series, least: float = 5) -> pd.Series:
    """Each day's count / the median of the same weekday 1-3 weeks either side (1 = a normal day); NaN
    where that median is below `least` (a ratio of a handful of users is noise)."""
    near = pd.concat([daily.shift(k) for k in (-21, -14, -7, 7, 14, 21)], axis=1).median(axis=1)
    return daily / near.where(near >= least)


def _holiday_strips(ax, daily: pd.DataFrame, params) -> None:
    """Per country: each weekday's active customers against the same weekday around it; its public
    holidays in red (orange: those only some employers give off), every other weekday in grey."""
    days = pd.date_range(params.window.start + pd.Timedelta(days=28), params.window.end)
    grid = daily.pivot_table(index="day", columns="country", values="users", aggfunc="sum", fill_value=0)
    grid.index = pd.to_datetime(grid.index)
    grid = grid.reindex(pd.date_range(params.window.start, params.window.end), fill_value=0)
    weekdays = grid.loc[days][days.day_of_week < 5]
    order = [c for c, *_ in vocab.COUNTRIES if c in grid and weekdays[c].mean() >= MIN_COUNTRY_USERS_PER_WEEKDAY]
    ax.set(xlabel="active customers on the local day / the same weekday 1-3 weeks around (1 = normal)")
    if not order:
        ax.text(
            0.5,
            0.5,
            "too few active users per country to judge a day",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        return
    off: dict[str, dict[pd.Timestamp, float]] = {c: {} for c in order}  # the country's share that is off
    in_country = {tz: w for _, _, _, zones in vocab.COUNTRIES for tz, w in zones}
    for h in calendar.window_holidays(params) if params.scenarios.holidays.enabled else ():
        code, day = vocab.ZONE_COUNTRY[h.zone], pd.Timestamp(h.day)
        if code in off:
            off[code][day] = off[code].get(day, 0.0) + in_country[h.zone] * h.share
    labels = {
        "grey": "other weekdays",
        RED: "public holidays",
        ORANGE: "holidays of part of the country (some zones; US: some employers)",
    }
    for y, code in enumerate(order):
        ratio = _against_same_weekday(grid[code]).reindex(weekdays.index).dropna()
        share = ratio.index.map(lambda d, code=code: off[code].get(d, 0.0))
        jitter = (np.arange(len(ratio)) % 7 - 3) * 0.04
        for color, rows in (("grey", share == 0), (RED, share >= 0.5), (ORANGE, (share > 0) & (share < 0.5))):
            if rows.any():
                ax.scatter(
                    ratio[rows].clip(upper=2),
                    y + jitter[rows],
                    s=9 if color == "grey" else 22,
                    color=GREY if color == "grey" else color,
                    alpha=0.6 if color == "grey" else 0.95,
                    zorder=3 if color != "grey" else 2,
                    label=labels.pop(color, None),
                )
    ax.axvline(1.0, color="#777777", lw=0.8)
    ax.set_yticks(range(len(order)), order)
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.set_xlim(0, 2)
    if not params.scenarios.holidays.enabled:
        _off(ax, "holidays")
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    ax.set_title("Each country's customers on their own public holidays (red) against every other weekday (grey)")


def _lull_span(params) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The last year-end lull that meets the window (first and last day), or None."""
    lull, w = params.activity.year_end_lull, params.window
    for year in range(w.end.year, w.start.year - 2, -1):
        first = pd.Timestamp(year, 12, lull.from_december_day)
        last = pd.Timestamp(year + 1, 1, lull.to_january_day)
        if first.date() <= w.end and last.date() >= w.start:
            return first, last
    return None


def _year_end_lull(ax, daily: pd.DataFrame, params) -> None:
    """Customers' events per local weekday around the year's end, against the weeks before and the lull
    the parameters set (dashed: the level before x the lull's factor)."""
    span, lull = _lull_span(params), params.activity.year_end_lull
    ax.set(title="Year-end lull: customers' events per local weekday", ylabel="events")
    total = daily.groupby("day").events.sum()
    total.index = pd.to_datetime(total.index)
    if span is None or not len(total):
        ax.text(0.5, 0.5, "the window holds no year-end", ha="center", va="center", transform=ax.transAxes)
        return
    lo, hi = span[0] - pd.Timedelta(days=42), span[1] + pd.Timedelta(days=21)
    shown = total[(total.index >= lo) & (total.index <= hi) & (total.index.day_of_week < 5)]
    ax.plot(shown.index, shown.values, color=BLUE, marker="o", ms=3, lw=1.0, label="events (Mon-Fri)")
    before = shown[shown.index < span[0]]
    if lull.enabled and len(before):
        level = before.tail(20).median()
        curve = pd.date_range(span[0] - pd.Timedelta(days=1), span[1] + pd.Timedelta(days=1))
        factor = [
            calendar.lull_factor(d.date(), lull.from_december_day, lull.to_january_day, lull.ramp_days, lull.factor)
            for d in curve
        ]
        ax.plot(
            curve,
            level * pd.Series(factor),
            color=ORANGE,
            ls="--",
            lw=1.4,
            label=f"level before x lull (down to x{lull.factor:g})",
        )
    ax.axvspan(
        span[0],
        span[1] + pd.Timedelta(days=1),
        color=GREY,
        alpha=0.3,
        label=f"{span[0]:%d %b} - {span[1]:%d %b}" + ("" if lull.enabled else " (lull off)"),
    )
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    ax.legend(loc="lower left", fontsize=8)


def _weekday_profile(ax, daily: pd.DataFrame, params) -> None:
    """Customers' events per local weekday / the Tuesday-Wednesday mean (after the first 28 days), with
    the ratio the parameters set for workdays."""
    total = daily.groupby("day").events.sum()
    total.index = pd.to_datetime(total.index)
    total = total[total.index >= pd.Timestamp(params.window.start) + pd.Timedelta(days=28)]
    per = total.groupby(total.index.day_of_week).mean().reindex(range(7))
    ax.set(title="Events per local weekday vs Tue-Wed", ylabel="ratio")
    if per[[1, 2]].isna().any() or per[[1, 2]].sum() == 0:
        return
    ratio = per / per[[1, 2]].mean()
    ax.bar(WEEKDAY_NAMES, ratio.fillna(0).values, color=[BLUE] * 5 + [ORANGE] * 2, alpha=0.85)
    f = params.activity.weekday_factors
    set_ = [getattr(f, d) / ((f.tue + f.wed) / 2) for d in WEEKDAYS]
    ax.scatter(WEEKDAY_NAMES[:5], set_, color="black", marker="_", s=300, zorder=3, label="activity.weekday_factors")
    for x, r in enumerate(ratio.fillna(0).values):
        ax.text(x, r / 2, f"{r:.2f}", ha="center", va="center", fontsize=8, color="white")
    ax.set_ylim(0, 1.25)
    ax.legend(loc="lower left", fontsize=8)


def scenario_holidays(con, params) -> plt.Figure:
    """The calendar an analyst checks. Top: per country, active customers on each local weekday against
    the same weekday 1-3 weeks around, the country's public holidays in red (the holidays scenario).
    Bottom left: the year-end lull. Bottom right: events per local weekday (Friday lighter)."""
    daily = _local_daily_by_country(con, params)
    fig = plt.figure(figsize=(12, 7.2))
    grid = fig.add_gridspec(2, 2, height_ratios=[3, 2], width_ratios=[3, 2])
    top = fig.add_subplot(grid[0, :])
    if len(daily):
        _holiday_strips(top, daily, params)
    _year_end_lull(fig.add_subplot(grid[1, 0]), daily, params)
    _weekday_profile(fig.add_subplot(grid[1, 1]), daily, params)
    fig.tight_layout()
    return fig


def scenario_onboarding_revamp(user_retention: pd.DataFrame, params, weeks: tuple[int, int] = (1, 4)) -> plt.Figure:
    """Per weekly activation cohort (external users), from the answer key: % retained in weeks 1..4
    after activation (averaged over those weeks, cohorts whose week 4 is complete and of 10 users or
    more), the revamp date marked."""
    o = params.scenarios.onboarding_revamp
    lo, hi = weeks
    key = complete_weeks(user_retention[user_retention.scope == "external"], params.window.end)
    rows = key[key.week_number.between(lo, hi)]
    per_cohort = rows.groupby("cohort_week").agg(
        retained=("retained", "sum"), size=("cohort_size", "first"), n=("week_number", "count")
    )
    df = per_cohort[(per_cohort.n == hi - lo + 1) & (per_cohort["size"] >= 10)]
    pct = 100 * df.retained / (df["size"] * (hi - lo + 1))
    cohorts = pd.to_datetime(pd.Series(df.index, index=df.index))
    fig, ax = plt.subplots()
    if len(df):
        ax.plot(cohorts, pct, marker="o", ms=3, color=BLUE, label=f"% retained, weeks {lo}-{hi} after activation")
    if o.enabled:
        _mark(ax, o.date, f"onboarding revamp ({o.date})")
        for after in (False, True):  # the average of the cohorts on each side of the date
            side = (cohorts >= pd.Timestamp(o.date)) == after
            if side.any():
                label = "average before / after" if after else None
                ax.hlines(pct[side].mean(), cohorts[side].min(), cohorts[side].max(), color=ORANGE, lw=2, label=label)
    else:
        _off(ax, "onboarding_revamp")
    ax.set(
        title=f"Onboarding revamp: retention in weeks {lo}-{hi} by activation cohort (external users)",
        xlabel="activation week (Monday)",
        ylabel="% retained",
        ylim=(0, 100),
    )
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig
