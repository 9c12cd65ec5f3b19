"""The Stage 3 metrics, charted from what computed them: the answer keys (truth/) and the metric SQL
(quality.metrics). No chart holds a definition of 7-day active users or retention of its own: each
takes the key's or the SQL's rows (DataFrames as quality.metrics.answer_keys returns them)."""

from __future__ import annotations

import datetime as dt

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .base import BLUE, ORANGE

SCOPE_COLORS = {"all": ORANGE, "external": BLUE}


def complete_weeks(retention: pd.DataFrame, last_day: dt.date) -> pd.DataFrame:
    """The rows of a retention table whose week k lies wholly inside the window (the key's last week
    may be partial), of cohorts that began inside it (left_censored ones miss their first weeks)."""
    week_end = pd.to_datetime(retention.cohort_week) + pd.to_timedelta(7 * (retention.week_number + 1), unit="D")
    inside = ~retention["left_censored"].astype(bool) if "left_censored" in retention else True
    return retention[(week_end <= pd.Timestamp(last_day) + pd.Timedelta(days=1)) & inside]


def pooled_curve(retention: pd.DataFrame, scope: str, max_weeks: int) -> pd.Series:
    """% retained at week k over every cohort observed at week k (sum retained / sum cohort size)."""
    rows = retention[(retention.scope == scope) & (retention.week_number <= max_weeks)]
    sums = rows.groupby("week_number")[["retained", "cohort_size"]].sum()
    return 100 * sums.retained / sums.cohort_size


def active_users(key: pd.DataFrame, title: str = "7-day active users (answer key)") -> plt.Figure:
    """7-day active users per UTC day, all accounts and external ones (the gap: internal workspaces)."""
    fig, ax = plt.subplots()
    for scope, label in (("all", "all accounts (internal included)"), ("external", "external accounts only")):
        rows = key[key.scope == scope]
        ax.plot(pd.to_datetime(rows.day), rows.active_users, color=SCOPE_COLORS[scope], lw=1.4, label=label)
    ax.set(title=title, xlabel="", ylabel="users (key event, trailing 7 days)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def retention_curve(retention: pd.DataFrame, last_day: dt.date, what: str = "User", max_weeks: int = 16) -> plt.Figure:
    """Retention by weeks since the cohort week, pooled over the cohorts observed at each week (complete
    weeks only), for both scopes, from a retention answer key."""
    complete = complete_weeks(retention, last_day)
    fig, ax = plt.subplots(figsize=(10, 3.2))
    for scope, color in SCOPE_COLORS.items():
        curve = pooled_curve(complete, scope, max_weeks)
        ax.plot(curve.index, curve.values, marker="o", ms=3, color=color, label=scope)
    ax.set(
        title=f"{what} retention: % of a cohort with a key event in week k (answer key, complete weeks)",
        xlabel="weeks since cohort week (k)",
        ylabel="% retained",
        ylim=(0, 100),
    )
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def retention_heatmap(retention: pd.DataFrame, last_day: dt.date, max_weeks: int = 12) -> plt.Figure:
    """Weekly user retention by activation-week cohort (external users, complete weeks), from the key."""
    rows = complete_weeks(retention[(retention.scope == "external") & (retention.week_number <= max_weeks)], last_day)
    fig, ax = plt.subplots(figsize=(10, 6))
    if len(rows):
        grid = rows.assign(pct=100 * rows.retained / rows.cohort_size).pivot_table(
            index="cohort_week", columns="week_number", values="pct"
        )
        grid.index = pd.to_datetime(grid.index).strftime("%Y-%m-%d")
        sns.heatmap(grid, cmap="Blues", vmin=0, vmax=100, ax=ax, cbar_kws={"label": "% of cohort retained"})
    ax.set(
        title="User retention by activation week (external users): % with a key event in week k",
        xlabel="weeks since activation week (k)",
        ylabel="activation week (Monday)",
    )
    fig.tight_layout()
    return fig


def active_users_vs_key(published: pd.DataFrame, key: pd.DataFrame) -> plt.Figure:
    """7-day active users from the metric SQL (published data) over the answer key, both scopes."""
    fig, ax = plt.subplots()
    for scope, color in SCOPE_COLORS.items():
        k, p = key[key.scope == scope], published[published.scope == scope]
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
        for scope, color in SCOPE_COLORS.items():
            curve = pooled_curve(df, scope, max_weeks)
            ax.plot(curve.index, curve.values, color=color, label=f"{label}, {scope}", **style)
    ax.set(
        title=f"{what} retention: SQL vs the answer key (all cohorts observed at week k)",
        xlabel="weeks since cohort week (k)",
        ylabel="% retained",
        ylim=(0, 100),
    )
    ax.legend(loc="upper right", ncols=2, fontsize=8)
    fig.tight_layout()
    return fig


QUERY_COLORS = {"naive query": "#c0392b", "careful query": BLUE}


def active_users_three_ways(naive: pd.DataFrame, careful: pd.DataFrame, key: pd.DataFrame, zoom_days: int = 21):
    """7-day active users (scope external): left, each query's difference from the answer key per day
    over the window; right, the last days' levels (key wide and pale, the queries thin)."""
    key = key[key.scope == "external"].set_index("day").active_users
    fig, (ax, zoom) = plt.subplots(1, 2, figsize=(11, 3.4), gridspec_kw={"width_ratios": [2, 1]})
    zoom.plot(
        pd.to_datetime(key.index[-zoom_days:]),
        key.values[-zoom_days:],
        color="grey",
        lw=4,
        alpha=0.4,
        label="answer key",
    )
    for (label, color), df in zip(QUERY_COLORS.items(), (naive, careful), strict=True):
        rows = df[df.scope == "external"].set_index("day").active_users.reindex(key.index, fill_value=0)
        ax.plot(pd.to_datetime(key.index), rows.values - key.values, color=color, lw=1.2, label=label)
        zoom.plot(pd.to_datetime(key.index[-zoom_days:]), rows.values[-zoom_days:], color=color, lw=1.2, label=label)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(title="7-day active users (external): query minus answer key", ylabel="users")
    zoom.set(title=f"the last {zoom_days} days", ylabel="users")
    zoom.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))
    zoom.tick_params(axis="x", labelrotation=45)
    ax.legend(loc="center left", fontsize=8)
    zoom.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


def retention_three_ways(naive: dict, careful: dict, keys: dict, max_weeks: int = 26) -> plt.Figure:
    """User and account retention (scope external), each query's pooled curve minus the key's, in
    percentage points by week k (the last, partial week included: that is where an extract's cut shows).
    Each argument maps user_retention and account_retention to their rows."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), sharey=True)
    for ax, name, what in zip(axes, ("user_retention", "account_retention"), ("User", "Account"), strict=True):
        key = pooled_curve(keys[name], "external", max_weeks)
        for (label, color), rows in zip(QUERY_COLORS.items(), (naive[name], careful[name]), strict=True):
            curve = pooled_curve(rows.assign(scope=rows.get("scope", "external")), "external", max_weeks)
            ax.plot(curve.index, curve.values - key.values, color=color, lw=1.1, marker="o", ms=3, label=label)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set(title=f"{what} retention (external): query minus key", xlabel="weeks since cohort week (k)")
    axes[0].set_ylabel("percentage points")
    axes[0].legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig
