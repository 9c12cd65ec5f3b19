"""The Stage 3 metrics, charted from what computed them: the answer keys (truth/) and the metric SQL
(quality.metrics). No chart holds a definition of 7-day active users or retention of its own: each
takes the key's or the SQL's rows (DataFrames as quality.metrics.answer_keys returns them)."""

from __future__ import annotations

import datetime as dt

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .base import BLUE, ORANGE

SCOPE_COLORS = {"all": ORANGE, "external": BLUE}


def complete_weeks(retention: pd.DataFrame, last_day: dt.date) -> pd.DataFrame:
    """The rows of a retention table whose week k lies wholly inside the window (the key's last week
    may be partial)."""
    week_end = pd.to_datetime(retention.cohort_week) + pd.to_timedelta(7 * (retention.week_number + 1), unit="D")
    return retention[week_end <= pd.Timestamp(last_day) + pd.Timedelta(days=1)]


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
