"""What to change when a guardrail fails: the parameters that drive the check, their values now, and
a value that would pass (estimated from the measured value; the run says "about").

A failed rule (a violation of the data's own rules) is never a parameter problem: its hint says so.
"""

from __future__ import annotations

from collections.abc import Callable

from ..params import Params
from .rates import Rate

RULE_HINT = "a rule of the data itself broke: a generator bug, not a parameter; please report it with manifest.json"
# The thresholds the hints aim for: inside the allowed range, with a margin (see checks.THRESHOLDS).
# The weekend's events are not all proportional to activity.weekend_factor (activations and internal
# workspaces come any day, task steps wait for weekdays), so the high side aims well inside the range.
AIM = {"key_event_share": 0.25, "max_supporting_share": 0.40, "weekday_weekend_low": 2.0, "weekday_weekend_high": 6.0}


def _g(x: float) -> str:
    return f"{x:.3g}"


def _key_event_types(value: float, p: Params) -> str:
    t = p.tasks
    return (
        "a key event type never occurs: task_created needs tasks.created_per_session "
        f"(now {_g(t.created_per_session)}), task_completed tasks.assigned_share (now {_g(t.assigned_share)}), "
        f"blocker_resolved tasks.blocker_prob (now {_g(t.blocker_prob)}), handoff_completed tasks.handoff_prob "
        f"(now {_g(t.handoff_prob)}) and users_per_account.max >= 2; raise the one whose event is missing, or "
        f"accounts.count (now {p.accounts.count}) for more tasks"
    )


def _key_event_share(value: float, p: Params) -> str:
    c = p.tasks.created_per_session
    aim = AIM["key_event_share"]
    need = c * (aim / (1 - aim)) / max(value / (1 - value), 1e-9)
    return (
        f"key events are drowned by session events: raise tasks.created_per_session (now {_g(c)}) to about "
        f">= {_g(need)}, or lower activity.dashboard_views_per_session (now "
        f"{_g(p.activity.dashboard_views_per_session)}) or activity.login_share_of_sessions (now "
        f"{_g(p.activity.login_share_of_sessions)})"
    )


def _max_supporting_share(value: float, p: Params) -> str:
    scale = AIM["max_supporting_share"] / value
    a, t = p.activity, p.tasks
    return (
        "one supporting event type drowns the rest: lower the parameter behind it to about "
        f"{scale:.2f}x its value: activity.dashboard_views_per_session (now {_g(a.dashboard_views_per_session)}), "
        f"activity.login_share_of_sessions (now {_g(a.login_share_of_sessions)}) or tasks.work_notes_per_day "
        f"(now {_g(t.work_notes_per_day)})"
    )


def _weekday_weekend(value: float, p: Params) -> str:
    w = p.activity.weekend_factor
    if value < AIM["weekday_weekend_low"]:
        return (
            f"weekends are nearly as busy as weekdays: lower activity.weekend_factor (now {_g(w)}) to about "
            f"<= {_g(w * value / AIM['weekday_weekend_low'])}"
        )
    return (
        f"weekends are nearly empty: raise activity.weekend_factor (now {_g(w)}) to about "
        f">= {_g(min(1.0, w * value / AIM['weekday_weekend_high']))}"
    )


def _local_hours(value: float, p: Params) -> str:
    a = p.activity
    return (
        "the local day has no working-hours shape: give activity.local_hour_weights a working day (night hours "
        f"far below daytime ones) or lower activity.workday_start_hour.sd (now {_g(a.workday_start_hour.sd)})"
    )


def _busiest_hour(value: float, p: Params) -> str:
    a = p.activity
    return (
        f"activity crowds into one hour: raise activity.workday_start_hour.sd (now {_g(a.workday_start_hour.sd)}) "
        f"to about >= {_g(max(a.workday_start_hour.sd, 0.5) * value / 0.2)} or spread activity.local_hour_weights "
        "over more hours"
    )


def _empty_weekdays(value: float, p: Params) -> str:
    return (
        "a weekday has no event although the weekdays around it are busy: public holidays of a quarter of "
        "customers or more are excused already (scenario holidays on); if it is a company-wide day off, list it "
        "in scenarios.holidays.extra_days; otherwise it is a generator bug: please report it"
    )


METRIC_HINTS: dict[str, Callable[[float, Params], str]] = {
    "key_event_types_present": _key_event_types,
    "key_event_share": _key_event_share,
    "max_supporting_share": _max_supporting_share,
    "weekday_weekend_ratio": _weekday_weekend,
    "local_hour_max_min_ratio": _local_hours,
    "busiest_hour_share": _busiest_hour,
    "empty_weekdays_after_first_month": _empty_weekdays,
}


def for_metric(name: str, value: float, params: Params) -> str:
    """The hint for a failed activity metric."""
    return METRIC_HINTS[name](value, params)


def for_rate(r: Rate, params: Params) -> str:
    """The hint for an imperfection whose measured rate missed what the data could reach."""
    assert r.measured_rate is not None and r.achievable_rate is not None and r.tolerance is not None
    above = r.measured_rate > r.achievable_rate
    m, passing = r.measured_rate, _g(r.measured_rate)
    if r.kind == "missing":
        key = f"imperfections.missing.{r.table}_{r.column}"
        return f"set {key} (now {_g(r.target_rate)}) to about {passing}, or use more rows (accounts.count)"
    if (r.kind, r.column) == ("outlier", "completed_at"):
        return _long_cycles(above, m, params)
    if (r.kind, r.column) == ("outlier", "due_at"):
        out, t = params.imperfections.outliers, params.tasks
        if above:
            return (
                f"more tasks are due far ahead on their own ({passing}) than the target: raise "
                f"imperfections.outliers.far_due_share (now {_g(out.far_due_share)}) to >= {passing}, or shorten "
                f"tasks.due_in_days (median now {_g(t.due_in_days.median)})"
            )
        return (
            f"too few tasks have a due date to move: lower imperfections.outliers.far_due_share (now "
            f"{_g(out.far_due_share)}) to <= {passing}, or raise tasks.due_date_share (now {_g(t.due_date_share)})"
        )
    if r.kind == "late_arrival":
        late = params.imperfections.late_arrival
        way = f"raise it to >= {passing}" if above else f"lower it to <= {passing}"
        why = " (the ingestion incident alone makes more: shorten scenarios.ingestion_incident.hours)" if above else ""
        return f"imperfections.late_arrival.share (now {_g(late.share)}): {way}{why}"
    if r.kind == "duplicate":
        share = params.imperfections.duplicates.share
        return f"set imperfections.duplicates.share (now {_g(share)}) to about {passing}"
    if r.kind == "internal":
        share = params.imperfections.internal.account_share
        return (
            f"set imperfections.internal.account_share (now {_g(share)}) to about {passing} "
            f"(accounts.count = {params.accounts.count})"
        )
    if r.kind == "test_workspace":
        share = params.imperfections.test_workspaces.account_share
        return (
            f"too few accounts of one or two users to make sandboxes of: lower "
            f"imperfections.test_workspaces.account_share (now {_g(share)}) to about {passing}, or raise "
            f"accounts.count (now {params.accounts.count})"
        )
    return f"the target of {r.label} is {_g(r.target_rate)}; about {passing} would pass"


def _long_cycles(above: bool, measured: float, p: Params) -> str:
    out, cycle = p.imperfections.outliers, p.tasks.cycle_time_days
    if above:
        return (
            f"more done tasks run past {out.long_cycle_threshold_days:g} days on their own ({_g(measured)}) than the "
            f"target: raise imperfections.outliers.long_cycle_share (now {_g(out.long_cycle_share)}) to >= "
            f"{_g(measured * 1.1)}, or shorten tasks.cycle_time_days (median now {_g(cycle.median)}, sigma "
            f"{_g(cycle.sigma)}), or raise imperfections.outliers.long_cycle_threshold_days"
        )
    return (
        f"too few done tasks could be stretched past {out.long_cycle_threshold_days:g} days (their holders had no "
        f"session late enough): lower imperfections.outliers.long_cycle_share (now {_g(out.long_cycle_share)}) to "
        f"<= {_g(measured)}, or lengthen the window (window.start, window.end), or lower "
        "imperfections.outliers.long_cycle_threshold_days"
    )
