"""The planted scenarios, charted the way an analyst would look for each."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from ..scenarios import incident_us
from .base import BLUE, ORANGE, _df, _mark, _off, is_key_event
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


def scenario_holidays(con, params) -> plt.Figure:
    """Top: key events per UTC day (external accounts), the listed holidays marked. Bottom: each day
    against the median of the same weekday in the 3 weeks before and after (1 = a normal day)."""
    h = params.scenarios.holidays
    df = _df(
        con,
        f"""
        SELECT e.event_at_utc::DATE AS day, count(*) AS events
        FROM qa.events e JOIN raw.accounts a USING (account_id)
        WHERE {is_key_event("e.event_name")} AND NOT a.is_internal GROUP BY ALL ORDER BY day""",
    )
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5.2), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    if len(df):
        df["day"] = pd.to_datetime(df["day"])
        df = df.set_index("day").reindex(pd.date_range(df.day.min(), df.day.max()), fill_value=0)
        df.index.name = "day"
        df = df.reset_index()
        df["dow"] = df.day.dt.dayofweek
        typical = df.groupby("dow")["events"].transform(
            lambda x: pd.concat([x.shift(k) for k in (-3, -2, -1, 1, 2, 3)], axis=1).median(axis=1)
        )
        df["ratio"] = df.events / typical.where(typical > 0)
        top.plot(df.day, df.events, color="#3b6ea8", lw=1.0, label="key events")
        bottom.plot(df.day, df.ratio, color="#b9c4cf", lw=0.8, label="day / typical same weekday")
        if h.enabled:
            marked = df[df.day.isin(pd.to_datetime(list(h.days)))]
            label = f"holidays ({len(h.days)} listed days, x{h.activity_factor:g} sessions)"
            top.scatter(marked.day, marked.events, color="#c0392b", zorder=3, s=28, label=label)
            bottom.scatter(marked.day, marked.ratio, color="#c0392b", zorder=3, s=28, label=label)
        bottom.axhline(1.0, color="#777777", lw=0.8)
        bottom.set_ylim(0, 2)
    if not h.enabled:
        _off(top, "holidays")
    top.set(title="Holidays: key events per UTC day (external accounts)", ylabel="key events")
    bottom.set(xlabel="", ylabel="vs typical")
    top.legend(loc="upper left")
    bottom.legend(loc="lower left", fontsize=8)
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
