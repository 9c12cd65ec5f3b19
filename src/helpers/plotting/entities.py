"""The entity tables: signups, team sizes, activation, tasks and cycle times."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from ..schema import PLAN_TIERS, STATUSES
from .base import _df, _log_histogram

CYCLE_DAYS_SQL = """SELECT date_diff('second', first_started_at, completed_at) / 86400.0 AS v
                    FROM raw.tasks WHERE completed_at IS NOT NULL AND completed_at > first_started_at"""


def signups_by_week(con) -> plt.Figure:
    df = _df(
        con,
        """
        SELECT date_trunc('week', created_at) AS week, plan_tier, count(*) AS accounts
        FROM raw.accounts GROUP BY ALL ORDER BY week""",
    )
    wide = df.pivot_table(index="week", columns="plan_tier", values="accounts", fill_value=0)
    wide = wide.reindex(columns=[c for c in PLAN_TIERS if c in wide.columns])
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
    order = [t for t in PLAN_TIERS if t in set(df.plan_tier)]
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
    order = [s for s in STATUSES if s in set(status.status)]
    sns.barplot(status, x="status", y="tasks", order=order, ax=axes[0], color="#3b6ea8")
    axes[0].set(title="Tasks by status at the end of the window", xlabel="")
    _log_histogram(axes[1], con, CYCLE_DAYS_SQL, 50)
    axes[1].set(title="Cycle time, started -> done (days, log scale)", xlabel="days", ylabel="tasks")
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
