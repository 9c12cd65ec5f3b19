"""Charts and summary tables for the notebooks. Aggregates are computed by DuckDB over the Parquet
parts, so a notebook never loads a whole table (events can be tens of millions of rows)."""

from __future__ import annotations

import duckdb
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

KEY_EVENTS_SQL = "('task_created', 'task_completed', 'handoff_completed', 'blocker_resolved')"
PALETTE = {"weekday": "#3b6ea8", "weekend": "#e0893e"}


def style() -> None:
    sns.set_theme(style="whitegrid", context="notebook")
    plt.rcParams.update({"figure.figsize": (10, 3.6), "figure.dpi": 100, "axes.titlesize": 12})


def table(df: pd.DataFrame, precision: int = 1):
    """A DataFrame as a readable report table: no index, text left-aligned, thousands separated."""
    text_cols = [c for c in df.columns if df[c].dtype == object or str(df[c].dtype).startswith(("string", "str"))]
    styled = df.style.hide(axis="index").format(precision=precision, thousands=",", na_rep="n/a")
    id_cols = [c for c in df.columns if str(c).endswith("_id") or c == "row_key"]
    if id_cols:  # identifiers are not quantities: no thousands separators
        styled = styled.format("{}", subset=id_cols, na_rep="n/a")
    if text_cols:
        styled = styled.set_properties(subset=text_cols, **{"text-align": "left"})
    return styled.set_table_styles([{"selector": "th", "props": [("text-align", "left")]}])


def _df(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    return con.execute(sql).df()


CYCLE_DAYS_SQL = """SELECT date_diff('second', first_started_at, completed_at) / 86400.0 AS v
                    FROM raw.tasks WHERE completed_at IS NOT NULL AND completed_at > first_started_at"""


def _log_histogram(ax, con, sql: str, bins: int) -> int:
    """A log-x histogram of column v (> 0) of a query, binned by DuckDB (millions of values never reach
    Python); returns the number of values drawn."""
    lo, hi, n = con.execute(f"SELECT min(v), max(v), count(*) FROM ({sql}) WHERE v > 0").fetchall()[0]
    if not n:
        return 0
    hi = max(hi, lo * 1.0001)
    edges = np.geomspace(lo, hi, bins + 1)
    counts = dict(
        con.execute(f"""SELECT least(floor(ln(v / {lo}) / ln({hi} / {lo}) * {bins}), {bins - 1})::INTEGER AS b,
                                         count(*) FROM ({sql}) WHERE v > 0 GROUP BY b""").fetchall()
    )
    ax.stairs([counts.get(i, 0) for i in range(bins)], edges, fill=True, color="#3b6ea8", alpha=0.85)
    ax.set_xscale("log")
    return int(n)


def signups_by_week(con) -> plt.Figure:
    df = _df(
        con,
        """
        SELECT date_trunc('week', created_at) AS week, plan_tier, count(*) AS accounts
        FROM raw.accounts GROUP BY ALL ORDER BY week""",
    )
    wide = df.pivot_table(index="week", columns="plan_tier", values="accounts", fill_value=0)
    wide = wide.reindex(columns=[c for c in ("free", "team", "business", "enterprise") if c in wide.columns])
    fig, ax = plt.subplots()
    if len(wide):
        wide.plot.area(ax=ax, linewidth=0, alpha=0.85)
    ax.set(title="Account signups per week, by plan tier", xlabel="", ylabel="accounts")
    fig.tight_layout()
    return fig


def users_per_account(con) -> plt.Figure:
    df = _df(
        con,
        """
        SELECT a.plan_tier, count(u.user_id) AS users
        FROM raw.accounts a LEFT JOIN raw.users u USING (account_id) GROUP BY a.account_id, a.plan_tier""",
    )
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    top = max(int(df.users.max()) if len(df) else 1, 1)
    edges = np.unique(np.round(np.logspace(0, np.log10(top + 1), 24))) - 0.5  # integer-centred log bins
    axes[0].hist(df.users.clip(lower=1), bins=np.r_[0.5, edges[edges > 0.5]], color="#3b6ea8", edgecolor="white")
    axes[0].set_xscale("log")
    axes[0].set(title="Users per account (log scale)", xlabel="users", ylabel="accounts")
    order = [t for t in ("free", "team", "business", "enterprise") if t in set(df.plan_tier)]
    sns.boxplot(df, x="plan_tier", y="users", order=order, ax=axes[1], color="#9cc3e6", log_scale=True)
    axes[1].set(title="Users per account by plan tier", xlabel="", ylabel="users")
    fig.tight_layout()
    return fig


def activation_lag(con) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(10, 3.0))
    _log_histogram(
        ax,
        con,
        """SELECT date_diff('minute', created_at, activated_at) / 60.0 AS v
                               FROM raw.users WHERE activated_at IS NOT NULL AND activated_at > created_at""",
        40,
    )
    ax.set(title="Invitation to first sign-in (hours, log scale)", xlabel="hours", ylabel="users")
    fig.tight_layout()
    return fig


def task_status_and_cycle(con) -> plt.Figure:
    status = _df(con, "SELECT status, count(*) AS tasks FROM raw.tasks GROUP BY ALL")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    order = [s for s in ("todo", "in_progress", "blocked", "done", "cancelled") if s in set(status.status)]
    sns.barplot(status, x="status", y="tasks", order=order, ax=axes[0], color="#3b6ea8")
    axes[0].set(title="Tasks by status at the end of the window", xlabel="")
    _log_histogram(axes[1], con, CYCLE_DAYS_SQL, 50)
    axes[1].set(title="Cycle time, started -> done (days, log scale)", xlabel="days", ylabel="tasks")
    fig.tight_layout()
    return fig


def event_mix(con) -> pd.DataFrame:
    return _df(
        con,
        f"""
        SELECT event_name,
               CASE WHEN event_name IN {KEY_EVENTS_SQL} THEN 'key' ELSE 'supporting' END AS kind,
               count(*) AS events, round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS pct
        FROM qa.events GROUP BY ALL ORDER BY events DESC""",
    )


def event_mix_chart(mix: pd.DataFrame) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(10, 3.6))
    colors = ["#3b6ea8" if k == "key" else "#b9c4cf" for k in mix.kind]
    ax.barh(mix.event_name, mix.pct, color=colors)
    ax.invert_yaxis()
    ax.set(title="Event mix (% of all events; key events in blue)", xlabel="% of events")
    fig.tight_layout()
    return fig


def daily_events(con) -> plt.Figure:
    df = _df(
        con,
        """
        SELECT event_at_utc::DATE AS day, count(*) AS events FROM qa.events GROUP BY ALL ORDER BY day""",
    )
    fig, ax = plt.subplots()
    if len(df):
        df["day"] = pd.to_datetime(df["day"])
        weekend = df.day.dt.dayofweek >= 5
        ax.bar(df.day[~weekend], df.events[~weekend], width=1.0, color=PALETTE["weekday"], label="Mon-Fri")
        ax.bar(df.day[weekend], df.events[weekend], width=1.0, color=PALETTE["weekend"], label="Sat-Sun")
        ax.legend(loc="upper left")
    ax.set(title="Events per UTC day: weekly rhythm on a growing base", xlabel="", ylabel="events")
    fig.tight_layout()
    return fig


def weekday_hour_heatmap(con) -> plt.Figure:
    df = _df(
        con,
        """
        SELECT isodow(event_at_utc) AS dow, hour(event_at_utc) AS hour, count(*) AS events
        FROM qa.events GROUP BY ALL""",
    )
    grid = df.pivot_table(index="dow", columns="hour", values="events", fill_value=0)
    grid = grid.reindex(index=range(1, 8), columns=range(24), fill_value=0)
    grid.index = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    fig, ax = plt.subplots(figsize=(10, 3.2))
    sns.heatmap(grid, cmap="Blues", ax=ax, cbar_kws={"label": "events"})
    ax.tick_params(axis="y", rotation=0)
    ax.set(
        title="Events by weekday and UTC hour (users span the Americas, Europe and Asia-Pacific)",
        xlabel="hour (UTC)",
        ylabel="",
    )
    fig.tight_layout()
    return fig


def active_users(con) -> plt.Figure:
    """Daily users with a key event, and the trailing 7-day active users (the locked definition)."""
    df = _df(
        con,
        f"""
        WITH days AS (
            SELECT d::DATE AS day
            FROM range(getvariable('window_start'), getvariable('window_end'), INTERVAL 1 DAY) r(d)
        ), key_days AS (
            SELECT DISTINCT user_id, event_at_utc::DATE AS day FROM qa.events WHERE event_name IN {KEY_EVENTS_SQL}
        ), dau AS (
            SELECT day, count(*) AS dau FROM key_days GROUP BY day
        ), wau AS (  -- a key event on day k makes the user active on days k..k+6
            SELECT (k.day + r.i::INTEGER)::DATE AS day, count(DISTINCT k.user_id) AS wau7
            FROM key_days k, range(7) r(i) GROUP BY 1
        )
        SELECT days.day, coalesce(dau.dau, 0) AS dau, coalesce(wau.wau7, 0) AS wau7
        FROM days LEFT JOIN dau USING (day) LEFT JOIN wau USING (day) ORDER BY days.day""",
    )
    fig, ax = plt.subplots()
    if len(df):
        df["day"] = pd.to_datetime(df["day"])
        ax.plot(df.day, df.wau7, color="#3b6ea8", label="7-day active users")
        ax.plot(df.day, df.dau, color="#b9c4cf", lw=0.8, label="daily active users")
        ax.legend(loc="upper left")
    ax.set(title="Active users (>= 1 key event), trailing 7 days and daily", xlabel="", ylabel="users")
    fig.tight_layout()
    return fig


def user_retention(con, max_weeks: int = 16) -> tuple[plt.Figure, pd.DataFrame]:
    """Share of activated users with a key event k ISO weeks after their activation week (all cohorts
    old enough to be observed for max_weeks)."""
    df = _df(
        con,
        f"""
        WITH cohort AS (
            SELECT user_id, date_trunc('week', activated_at) AS cohort_week
            FROM raw.users WHERE activated_at IS NOT NULL
        ), active_weeks AS (
            SELECT DISTINCT user_id, date_trunc('week', event_at_utc) AS week
            FROM qa.events WHERE event_name IN {KEY_EVENTS_SQL}
        ), observable AS (
            SELECT * FROM cohort
            WHERE cohort_week + INTERVAL ({max_weeks} * 7) DAY < date_trunc('week', getvariable('window_end'))
        )
        SELECT date_diff('day', o.cohort_week, a.week) // 7 AS week_number,
               count(DISTINCT a.user_id) / (SELECT count(*) FROM observable)::DOUBLE AS retained
        FROM observable o JOIN active_weeks a USING (user_id)
        WHERE a.week >= o.cohort_week
        GROUP BY ALL HAVING week_number <= {max_weeks} ORDER BY week_number""",
    )
    fig, ax = plt.subplots(figsize=(10, 3.2))
    if len(df):
        ax.plot(df.week_number, 100 * df.retained, marker="o", color="#3b6ea8")
    ax.set(
        title="User retention: % of activated users with a key event in week k after activation",
        xlabel="weeks since activation week",
        ylabel="% retained",
        ylim=(0, 100),
    )
    fig.tight_layout()
    return fig, df


def params_table(params) -> pd.DataFrame:
    """Every parameter as one row: dotted key and value."""
    from .params import to_json_dict

    rows = []

    def walk(prefix, value):
        if isinstance(value, dict) and not all(isinstance(v, (int, float)) for v in value.values()):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            rows.append({"parameter": prefix, "value": value})

    walk("", to_json_dict(params))
    return pd.DataFrame(rows)


def folder_table(folder) -> pd.DataFrame:
    """Files under a dataset folder (relative paths, sizes), hidden files left out."""
    from pathlib import Path

    folder = Path(folder)
    rows = [
        {"path": str(p.relative_to(folder)), "bytes": p.stat().st_size}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(x.startswith(".") for x in p.parts)
    ]
    return pd.DataFrame(rows, columns=["path", "bytes"])


def imperfection_rates(rates: list) -> plt.Figure:
    """Measured rate vs target (or the reachable rate) for every imperfection (quality.rates.Rate),
    with the tolerance as an error bar."""
    measured = [100 * (r.measured_rate or 0) for r in rates]
    target = [100 * (r.target_rate if r.achievable_rate is None else r.achievable_rate) for r in rates]
    tol = [0.0 if r.tolerance is None else 100 * min(r.tolerance, 1.0) for r in rates]  # None: no rows
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rates) + 1.2))
    y = np.arange(len(rates))
    ax.barh(y, measured, color="#3b6ea8", label="measured")
    ax.errorbar(target, y, xerr=tol, fmt="|", color="#e0893e", markersize=16, capsize=4,
                label="target (or the reachable rate) ± tolerance")  # fmt: skip
    ax.set_yticks(y, [r.label for r in rates])
    ax.invert_yaxis()
    ax.set(title="Imperfections: measured rate vs target", xlabel="% of the rows it applies to")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def rates_table(rates: list) -> pd.DataFrame:
    """Every imperfection's target, reachable and measured rate (in %), tolerance and definition."""

    def pct(x):
        return None if x is None else 100 * x

    return pd.DataFrame([{
        "imperfection": r.label, "target %": pct(r.target_rate), "reachable %": pct(r.achievable_rate),
        "measured %": pct(r.measured_rate), "tolerance ± pts": pct(r.tolerance), "rows": r.count,
        "of": r.denominator, "definition": r.definition,
    } for r in rates])  # fmt: skip


def missing_plan_table(plans: list) -> pd.DataFrame:
    """Per blankable column (imperfections.inject.MissingPlan): natural nulls, target and the blanking probability."""
    return pd.DataFrame([{
        "column": f"{m.table}.{m.column}", "rows": m.rows, "natural nulls": m.natural_nulls,
        "natural share %": 100 * m.natural_nulls / m.rows if m.rows else None, "target %": 100 * m.target,
        "blanking probability": m.probability,
    } for m in plans])  # fmt: skip


def late_delays(con) -> plt.Figure:
    """How late the late events are (hours, log scale)."""
    fig, ax = plt.subplots(figsize=(10, 3.0))
    _log_histogram(
        ax,
        con,
        """
        SELECT date_diff('second', event_at_utc, ingested_at_utc) / 3600.0 AS v
        FROM qa.events WHERE ingested_at_utc - event_at_utc > to_seconds(getvariable('late_threshold_seconds'))""",
        50,
    )
    ax.set(
        title="Late arrivals: ingested_at_utc - event_at_utc (hours, log scale)", xlabel="hours late", ylabel="events"
    )
    fig.tight_layout()
    return fig


def daily_events_by_kind(con) -> plt.Figure:
    """Events per UTC day, key vs supporting, stacked."""
    df = _df(
        con,
        f"""
        SELECT event_at_utc::DATE AS day,
               count(*) FILTER (WHERE event_name IN {KEY_EVENTS_SQL}) AS key,
               count(*) FILTER (WHERE event_name NOT IN {KEY_EVENTS_SQL}) AS supporting
        FROM qa.events GROUP BY ALL ORDER BY day""",
    )
    fig, ax = plt.subplots()
    if len(df):
        df["day"] = pd.to_datetime(df["day"])
        ax.stackplot(
            df.day,
            df.key,
            df.supporting,
            labels=["key events", "supporting events"],
            colors=["#3b6ea8", "#b9c4cf"],
            linewidth=0,
        )
        ax.legend(loc="upper left")
    ax.set(title="Events per UTC day: key vs supporting", xlabel="", ylabel="events per day")
    fig.tight_layout()
    return fig


def active_users_internal(con) -> plt.Figure:
    """7-day active users (key events, trailing 7 UTC days), with and without internal accounts."""
    df = _df(
        con,
        f"""
        WITH days AS (
            SELECT d::DATE AS day FROM range(getvariable('window_start'), getvariable('window_end'), INTERVAL 1 DAY) r(d)
        ), key_days AS (
            SELECT DISTINCT e.user_id, e.event_at_utc::DATE AS day, a.is_internal
            FROM qa.events e JOIN raw.accounts a USING (account_id) WHERE e.event_name IN {KEY_EVENTS_SQL}
        ), wau AS (
            SELECT (k.day + r.i::INTEGER)::DATE AS day, count(DISTINCT k.user_id) AS all_users,
                   count(DISTINCT k.user_id) FILTER (WHERE NOT k.is_internal) AS external_users
            FROM key_days k, range(7) r(i) GROUP BY 1
        )
        SELECT days.day, coalesce(all_users, 0) AS all_users, coalesce(external_users, 0) AS external_users
        FROM days LEFT JOIN wau USING (day) ORDER BY day""",
    )
    fig, ax = plt.subplots()
    if len(df):
        df["day"] = pd.to_datetime(df["day"])
        ax.plot(df.day, df.all_users, color="#e0893e", lw=1.2, label="all accounts (internal included)")
        ax.plot(df.day, df.external_users, color="#3b6ea8", lw=1.6, label="external accounts only")
        ax.legend(loc="upper left")
    ax.set(title="7-day active users (>= 1 key event in the trailing 7 UTC days)", xlabel="", ylabel="users")
    fig.tight_layout()
    return fig


def retention_heatmap(con, max_weeks: int = 12) -> plt.Figure:
    """Weekly user retention by activation-week cohort (external users): % with a key event in week k."""
    df = _df(
        con,
        f"""
        WITH cohort AS (
            SELECT u.user_id, date_trunc('week', u.activated_at) AS cohort_week
            FROM raw.users u JOIN raw.accounts a USING (account_id)
            WHERE u.activated_at IS NOT NULL AND NOT a.is_internal
        ), active AS (
            SELECT DISTINCT user_id, date_trunc('week', event_at_utc) AS week FROM qa.events
            WHERE event_name IN {KEY_EVENTS_SQL}
        ), sizes AS (SELECT cohort_week, count(*) AS size FROM cohort GROUP BY 1)
        SELECT c.cohort_week, date_diff('day', c.cohort_week, a.week) // 7 AS k,
               100.0 * count(DISTINCT a.user_id) / any_value(s.size) AS pct
        FROM cohort c JOIN active a USING (user_id) JOIN sizes s USING (cohort_week)
        WHERE a.week >= c.cohort_week GROUP BY ALL HAVING k <= {max_weeks}""",
    )
    fig, ax = plt.subplots(figsize=(10, 6))
    if len(df):
        grid = df.pivot_table(index="cohort_week", columns="k", values="pct")
        grid.index = pd.to_datetime(grid.index).strftime("%Y-%m-%d")
        sns.heatmap(grid, cmap="Blues", vmin=0, vmax=100, ax=ax, cbar_kws={"label": "% of cohort retained"})
    ax.set(
        title="User retention by activation week (external users): % with a key event in week k",
        xlabel="weeks since activation week (k)",
        ylabel="activation week (Monday)",
    )
    fig.tight_layout()
    return fig


def account_retention(con, max_weeks: int = 16) -> plt.Figure:
    """Account retention: % of external accounts (cohorts old enough) with any key event in week k."""
    df = _df(
        con,
        f"""
        WITH cohort AS (
            SELECT account_id, date_trunc('week', created_at) AS cohort_week FROM raw.accounts WHERE NOT is_internal
        ), observable AS (
            SELECT * FROM cohort
            WHERE cohort_week + INTERVAL ({max_weeks} * 7) DAY < date_trunc('week', getvariable('window_end'))
        ), active AS (
            SELECT DISTINCT account_id, date_trunc('week', event_at_utc) AS week FROM qa.events
            WHERE event_name IN {KEY_EVENTS_SQL}
        )
        SELECT date_diff('day', o.cohort_week, a.week) // 7 AS k,
               100.0 * count(DISTINCT a.account_id) / (SELECT count(*) FROM observable) AS pct
        FROM observable o JOIN active a USING (account_id) WHERE a.week >= o.cohort_week
        GROUP BY ALL HAVING k <= {max_weeks} ORDER BY k""",
    )
    fig, ax = plt.subplots(figsize=(10, 3.2))
    if len(df):
        ax.plot(df.k, df.pct, marker="o", color="#3b6ea8")
    ax.set(
        title="Account retention: % of accounts with any key event in week k after signup (external)",
        xlabel="weeks since signup week",
        ylabel="% retained",
        ylim=(0, 100),
    )
    fig.tight_layout()
    return fig


def cycle_time_outliers(con, threshold_days: float) -> plt.Figure:
    """Cycle time (started -> done), log scale, with the long-cycle outlier threshold marked."""
    fig, ax = plt.subplots(figsize=(10, 3.2))
    if _log_histogram(ax, con, CYCLE_DAYS_SQL, 60):
        share = con.execute(f"SELECT 100.0 * avg((v > {threshold_days})::INTEGER) FROM ({CYCLE_DAYS_SQL})").fetchall()[
            0
        ][0]
        ax.axvline(
            threshold_days,
            color="#c0392b",
            ls="--",
            label=f"outlier threshold {threshold_days:g} days ({share:.2f}% of done tasks above)",
        )
        ax.legend(loc="upper right")
    ax.set(title="Cycle time of done tasks, started -> done (days, log scale)", xlabel="days", ylabel="tasks")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- scenarios (04_qa_profile)
def _mark(ax, when, label: str, color: str = "#c0392b") -> None:
    ax.axvline(pd.Timestamp(when), color=color, ls="--", lw=1.2, label=label)


def _off(ax, scenario: str) -> None:
    ax.text(
        0.5,
        0.5,
        f"scenario {scenario} is off in these parameters",
        ha="center",
        va="center",
        transform=ax.transAxes,
        color="#777777",
    )


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
    from .scenarios import incident_us

    inc = params.scenarios.ingestion_incident
    daily = _df(
        con,
        """
        SELECT event_at_utc::DATE AS day,
               100.0 * avg((ingested_at_utc - event_at_utc > to_seconds(getvariable('late_threshold_seconds')))::INTEGER) AS pct
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
        WHERE e.event_name IN {KEY_EVENTS_SQL} AND NOT a.is_internal GROUP BY ALL ORDER BY day""",
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


def scenario_onboarding_revamp(con, params, weeks: tuple[int, int] = (1, 4)) -> plt.Figure:
    """Per weekly activation cohort (external users): % with a key event in weeks 1..4 after activation
    (averaged over those weeks), the revamp date marked."""
    o = params.scenarios.onboarding_revamp
    lo, hi = weeks
    df = _df(
        con,
        f"""
        WITH cohort AS (
            SELECT u.user_id, date_trunc('week', u.activated_at)::DATE AS cohort_week
            FROM raw.users u JOIN raw.accounts a USING (account_id)
            WHERE u.activated_at IS NOT NULL AND NOT a.is_internal
        ), active AS (
            SELECT DISTINCT user_id, date_trunc('week', event_at_utc)::DATE AS week FROM qa.events
            WHERE event_name IN {KEY_EVENTS_SQL}
        ), observable AS (  -- cohorts whose week {hi} ends inside the window
            SELECT * FROM cohort WHERE cohort_week + 7 * ({hi} + 1) <= getvariable('window_end')::DATE
        )
        SELECT o.cohort_week, 100.0 * count(a.user_id) / ({hi - lo + 1} * count(DISTINCT o.user_id)) AS pct
        FROM observable o LEFT JOIN active a ON a.user_id = o.user_id
             AND date_diff('day', o.cohort_week, a.week) // 7 BETWEEN {lo} AND {hi}
        GROUP BY ALL HAVING count(DISTINCT o.user_id) >= 10 ORDER BY o.cohort_week""",
    )
    fig, ax = plt.subplots()
    if len(df):
        df["cohort_week"] = pd.to_datetime(df.cohort_week)
        ax.plot(
            df.cohort_week,
            df.pct,
            marker="o",
            ms=3,
            color="#3b6ea8",
            label=f"% retained, weeks {lo}-{hi} after activation",
        )
    if o.enabled:
        _mark(ax, o.date, f"onboarding revamp ({o.date})")
        for after in (False, True):  # the average of the cohorts on each side of the date
            d = df[(df.cohort_week >= pd.Timestamp(o.date)) == after]
            if len(d):
                ax.hlines(
                    d.pct.mean(),
                    d.cohort_week.min(),
                    d.cohort_week.max(),
                    color="#e0893e",
                    lw=2,
                    label="average before / after" if after else None,
                )
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


# --------------------------------------------------------------------------- metrics vs answer keys (05)
def active_users_vs_key(published: pd.DataFrame, key: pd.DataFrame) -> plt.Figure:
    """7-day active users from the SQL (published data) and from the answer key, both scopes."""
    fig, ax = plt.subplots()
    for scope, color in (("all", "#e0893e"), ("external", "#3b6ea8")):
        k = key[key.scope == scope]
        p = published[published.scope == scope]
        ax.plot(pd.to_datetime(k.day), k.active_users, color=color, lw=3.5, alpha=0.35, label=f"answer key, {scope}")
        ax.plot(pd.to_datetime(p.day), p.active_users, color=color, lw=1.1, label=f"SQL, {scope}")
    ax.set(title="7-day active users: SQL over the raw tables vs the answer key", xlabel="", ylabel="users")
    ax.legend(loc="upper left", ncols=2, fontsize=8)
    fig.tight_layout()
    return fig


def retention_vs_key(published: pd.DataFrame, key: pd.DataFrame, what: str, max_weeks: int = 16) -> plt.Figure:
    """Retention curves (retained / cohort size over every cohort observed at week k), SQL vs answer key."""
    fig, ax = plt.subplots(figsize=(10, 3.2))
    for df, style, label in (
        (key, dict(lw=3.5, alpha=0.35), "answer key"),
        (published, dict(lw=1.1, marker="o", ms=3), "SQL"),
    ):
        for scope, color in (("all", "#e0893e"), ("external", "#3b6ea8")):
            d = (
                df[(df.scope == scope) & (df.week_number <= max_weeks)]
                .groupby("week_number")[["retained", "cohort_size"]]
                .sum()
            )
            ax.plot(d.index, 100 * d.retained / d.cohort_size, color=color, label=f"{label}, {scope}", **style)
    ax.set(
        title=f"{what} retention: SQL vs the answer key (all cohorts observed at week k)",
        xlabel="weeks since cohort week (k)",
        ylabel="% retained",
        ylim=(0, 100),
    )
    ax.legend(loc="upper right", ncols=2, fontsize=8)
    fig.tight_layout()
    return fig
