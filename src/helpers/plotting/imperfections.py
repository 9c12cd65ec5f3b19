"""Imperfections: late delays and every rate against its target."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .base import _log_histogram


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


def imperfection_rates(rates: list) -> plt.Figure:
    """Measured rate vs target (or the reachable rate) for every imperfection (quality.rates.Rate),
    with the tolerance as an error bar."""
    measured = [100 * (r.measured_rate or 0) for r in rates]
    target = [100 * (r.target_rate if r.achievable_rate is None else r.achievable_rate) for r in rates]
    tol = [0.0 if r.tolerance is None else 100 * min(r.tolerance, 1.0) for r in rates]  # None: no rows
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rates) + 1.2))
    y = np.arange(len(rates))
    ax.barh(y, measured, color="#3b6ea8", label="measured")
    ax.errorbar(
        target,
        y,
        xerr=tol,
        fmt="|",
        color="#e0893e",
        markersize=16,
        capsize=4,
        label="target (or the reachable rate) ± tolerance",
    )
    ax.set_yticks(y, [r.label for r in rates])
    ax.invert_yaxis()
    ax.set(title="Imperfections: measured rate vs target", xlabel="% of the rows it applies to")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def late_by_cause(con, params) -> plt.Figure:
    """Late share and median delay by client (top) and by event type (bottom), from
    helpers.quality.rates.late_by: phones late most and by days, desktops overnight, web within hours;
    content uploads retried most, logins never late."""
    from ..quality.rates import LATE_BY, late_by

    fig, axes = plt.subplots(2, 2, figsize=(10, 6.0), gridspec_kw={"height_ratios": [1, 2.4]})
    for row, by in zip(axes, LATE_BY, strict=True):
        rows = late_by(con, params, by)
        labels = [r[by] for r in rows]
        y = np.arange(len(rows))
        row[0].barh(y, [100 * r["late_share"] for r in rows], color="#3b6ea8")
        row[1].barh(y, [r["median_hours_late"] or 0.0 for r in rows], color="#e0893e")
        row[1].set_xscale("symlog", linthresh=1.0)
        for ax in row:
            ax.set_yticks(y, labels)
            ax.invert_yaxis()
        row[1].set_yticklabels([])
        row[0].set(title=f"% of events arriving late, by {by}", xlabel="% late")
        row[1].set(title=f"median hours late (late events), by {by}", xlabel="hours (log scale)")
    fig.tight_layout()
    return fig
