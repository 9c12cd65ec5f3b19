"""Rules across keys: checked after every key's own type and range, all of them in one pass.

Each rule reads whole sections of the parameters (`@reads("window", "scenarios")`) and runs when those
sections are valid, so one run reports every problem it can see. A rule yields Problems: the key
the problem is about (its layer names the file) and one line naming the key, its value and what is
allowed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from .model import MAX_WINDOW_DAYS

WINDOW = ("window.start", "window.end")
# Below this many activated users or days of window, activity has no pattern to judge: the activity
# guardrails (helpers.quality.checks) say "not applicable", and the rules here that foresee them do not apply.
ACTIVITY_MIN_USERS = 20
ACTIVITY_MIN_DAYS = 28


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the parameters: the key it is about, the line that says so, and the other keys
    the rule read (a message names the layer that gave the latest of them: the change that broke it)."""

    key: str
    message: str
    read: tuple[str, ...] = ()


Rule = Callable[[Any], Iterator[Problem]]
RULES: list[tuple[tuple[str, ...], Rule]] = []


def reads(*sections: str) -> Callable[[Rule], Rule]:
    """Register a rule over the named top-level sections."""

    def register(rule: Rule) -> Rule:
        RULES.append((sections, rule))
        return rule

    return register


def problems(sections: Mapping[str, Any]) -> list[Problem]:
    """Every problem of every rule whose sections are all valid (`sections` holds the valid ones)."""
    p = SimpleNamespace(**sections)
    return [problem for needs, rule in RULES if all(s in sections for s in needs) for problem in rule(p)]


def _day(d: dt.date) -> dt.datetime:
    return dt.datetime.combine(d, dt.time())


def _window(p) -> str:
    return f"the window {p.window.start}..{p.window.end}"


# --------------------------------------------------------------------------- pipeline
@reads("ingestion", "imperfections")
def _latency_never_late(p) -> Iterator[Problem]:
    late = p.imperfections.late_arrival.threshold_seconds
    if p.ingestion.max_latency_seconds >= late:
        yield Problem(
            "ingestion.max_latency_seconds",
            f"ingestion.max_latency_seconds = {p.ingestion.max_latency_seconds:g} must be below "
            f"imperfections.late_arrival.threshold_seconds ({late}): normal latency is never late",
            ("imperfections.late_arrival.threshold_seconds",),
        )


@reads("window", "history")
def _launch_before_window(p) -> Iterator[Problem]:
    """The product launches on or before the window's first day, and the simulation's whole span (launch
    to the window's end) stays within the longest window allowed."""
    launch = p.history.launch
    if launch is None:
        return
    if launch > p.window.start:
        yield Problem(
            "history.launch",
            f"history.launch = {launch} must not be after the first day of {_window(p)}; use a date on or "
            "before it, or null (launched on the window's first day)",
            WINDOW,
        )
    elif (p.window.end - launch).days + 1 > MAX_WINDOW_DAYS:
        earliest = p.window.end - dt.timedelta(days=MAX_WINDOW_DAYS - 1)
        yield Problem(
            "history.launch",
            f"history.launch = {launch} is too early: the product's life up to the end of {_window(p)} may span "
            f"at most {MAX_WINDOW_DAYS} days; use a date on or after {earliest}",
            WINDOW,
        )


# --------------------------------------------------------------------------- reachable targets
@reads("window", "imperfections")
def _long_cycles_fit(p) -> Iterator[Problem]:
    """A long cycle needs a task started early enough to run past the threshold inside the window, and
    a holder still working then: in a window under twice the threshold too few tasks qualify to reach
    the share (measured: a 90-day window reached a third of it)."""
    out = p.imperfections.outliers
    need = int(2 * out.long_cycle_threshold_days) + 1
    if out.long_cycle_share > 0 and p.window.days < need:
        yield Problem(
            "imperfections.outliers.long_cycle_share",
            f"imperfections.outliers.long_cycle_share = {out.long_cycle_share:g}: the window ({p.window.days} days) "
            f"is too short: cycles over {out.long_cycle_threshold_days:g} days need a window of at least {need} "
            "days; lengthen the window, lower imperfections.outliers.long_cycle_threshold_days, or set the share to 0",
            (*WINDOW, "imperfections.outliers.long_cycle_threshold_days"),
        )


@reads("tasks", "users_per_account", "tasks_per_project", "accounts", "window")
def _key_events_possible(p) -> Iterator[Problem]:
    """Every key event must be able to happen, where the guardrail that requires all of them will judge
    the data (tasks, at least ACTIVITY_MIN_USERS accounts, so as many users, and ACTIVITY_MIN_DAYS)."""
    if p.tasks_per_project.max == 0 or p.accounts.count < ACTIVITY_MIN_USERS or p.window.days < ACTIVITY_MIN_DAYS:
        return
    t = p.tasks
    needs = [
        ("tasks.created_per_session", t.created_per_session, "no task is ever created"),
        ("tasks.assigned_share", t.assigned_share, "no task is assigned, so none is completed"),
        ("tasks.blocker_prob", t.blocker_prob, "no blocker_resolved event can happen"),
        ("tasks.handoff_prob", t.handoff_prob, "no handoff_completed event can happen"),
    ]
    for key, value, effect in needs:
        if value <= 0:
            yield Problem(
                key, f"{key} = {value:g} is not allowed: {effect} (every key event must occur); set it above 0"
            )
    if p.users_per_account.max < 2 and t.handoff_prob > 0:
        yield Problem(
            "users_per_account.max",
            "users_per_account.max = 1 is not allowed: a hand-off needs a colleague, so no handoff_completed "
            "event can happen (every key event must occur); allow at least 2",
            ("tasks.handoff_prob",),
        )


# --------------------------------------------------------------------------- scenarios and the extract
@reads("window", "scenarios")
def _launch(p) -> Iterator[Problem]:
    """A launch needs a before and a week after inside the window."""
    launch = p.scenarios.feature_launch
    last = p.window.end - dt.timedelta(days=6)
    if launch.enabled and not p.window.start < launch.date <= last:
        yield Problem(
            "scenarios.feature_launch.date",
            f"scenarios.feature_launch.date = {launch.date} must lie after the first day of {_window(p)} and "
            f"no later than {last} (a launch needs a before and a week after); move it, or set "
            "scenarios.feature_launch.enabled: false",
            (*WINDOW, "scenarios.feature_launch.enabled"),
        )
    if len(set(launch.plan_tiers)) != len(launch.plan_tiers):
        yield Problem(
            "scenarios.feature_launch.plan_tiers",
            f"scenarios.feature_launch.plan_tiers = {launch.plan_tiers} lists a tier twice",
        )


@reads("window", "scenarios", "imperfections")
def _incident(p) -> Iterator[Problem]:
    inc, late = p.scenarios.ingestion_incident, p.imperfections.late_arrival.threshold_seconds
    if not inc.enabled:
        return
    if not _day(p.window.start) <= inc.start < _day(p.window.end + dt.timedelta(days=1)):
        yield Problem(
            "scenarios.ingestion_incident.start",
            f"scenarios.ingestion_incident.start = {inc.start.isoformat()} must lie inside {_window(p)}; move it, "
            "or set scenarios.ingestion_incident.enabled: false",
            (*WINDOW, "scenarios.ingestion_incident.enabled"),
        )
    if inc.backfill_delay_hours * 3600 <= late:
        yield Problem(
            "scenarios.ingestion_incident.backfill_delay_hours",
            f"scenarios.ingestion_incident.backfill_delay_hours = {inc.backfill_delay_hours:g} must exceed "
            f"imperfections.late_arrival.threshold_seconds ({late} s): the incident's events all count as late",
            ("imperfections.late_arrival.threshold_seconds", "scenarios.ingestion_incident.enabled"),
        )


@reads("window", "scenarios")
def _holidays(p) -> Iterator[Problem]:
    hol = p.scenarios.holidays
    twice = sorted({d for d in hol.extra_days if hol.extra_days.count(d) > 1})
    if twice:  # on or off: truth/scenarios.parquet lists every day once
        yield Problem(
            "scenarios.holidays.extra_days",
            f"scenarios.holidays.extra_days lists {', '.join(map(str, twice))} twice; list each day once",
        )
    outside = [str(d) for d in hol.extra_days if not p.window.start <= d <= p.window.end]
    if hol.enabled and outside:
        yield Problem(
            "scenarios.holidays.extra_days",
            f"scenarios.holidays.extra_days holds {', '.join(outside)}, outside {_window(p)}; list only days "
            "inside it, or set scenarios.holidays.enabled: false",
            (*WINDOW, "scenarios.holidays.enabled"),
        )


@reads("window", "scenarios")
def _revamp(p) -> Iterator[Problem]:
    """The revamp is judged on weekly activation cohorts: a week of them before the date, and cohorts
    after it whose week 4 ends inside the window."""
    revamp = p.scenarios.onboarding_revamp
    first, last = p.window.start + dt.timedelta(days=7), p.window.end - dt.timedelta(days=34)
    if revamp.enabled and not first <= revamp.date <= last:
        allowed = f"between {first} and {last}" if first <= last else "inside a window of at least 42 days"
        yield Problem(
            "scenarios.onboarding_revamp.date",
            f"scenarios.onboarding_revamp.date = {revamp.date} must lie {allowed}: its effect is measured on "
            f"activation cohorts, a week of them before the date and cohorts after it whose week 4 ends in "
            f"{_window(p)}; move it, or set scenarios.onboarding_revamp.enabled: false",
            (*WINDOW, "scenarios.onboarding_revamp.enabled"),
        )


@reads("window", "snapshot")
def _as_of(p) -> Iterator[Problem]:
    as_of = p.snapshot.as_of
    lo = _day(p.window.start + dt.timedelta(days=1))
    hi = _day(p.window.end + dt.timedelta(days=61))
    if as_of is not None and not lo <= as_of <= hi:
        yield Problem(
            "snapshot.as_of",
            f"snapshot.as_of = {as_of.isoformat()} must lie between {lo.isoformat()} (a day into the window) "
            f"and {hi.isoformat()} (60 days after it ends)",
            WINDOW,
        )
