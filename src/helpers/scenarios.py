"""Scenarios: effects planted on purpose that a good dashboard should reveal (params `scenarios`).

Each is off unless `enabled`, and each changes one rule of the simulation:
- feature_launch: each account of the segment (plan tiers) adopts the feature an exponential lag
  (mean adoption_lag_days_mean) after `date`; its tasks created from its adoption on are handed off
  with probability min(1, tasks.handoff_prob x handoff_multiplier) (by holders who hand work off), so
  the segment's hand-offs ramp up over the weeks after the launch;
- ingestion_incident: every event that happens in [start, start + hours) is held back by the pipeline
  and ingested at the end of the stretch + backfill_delay_hours (+ its normal latency): all late;
- holidays: on the listed days (each user's local calendar) a user is in the product with
  probability x activity_factor;
- onboarding_revamp: users activated from `date` on are early churners ("tourists") with
  probability early_churn_share instead of users.churn.early_share.
The simulation's draws do not change with a scenario (the same uniforms are compared against other
probabilities), so turning one on changes only what it must, and what follows from it.
truth/scenarios.parquet describes each, with the dates, segment and effect.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from .params import Params
from .schema import PLAN_TIERS, TRUTH_TABLES
from .units import DAY, HOUR, NEVER, moment_us, to_us


def holiday_days(params: Params, start: dt.date, days: int) -> np.ndarray:
    """holiday[d + 1] for window days d in -1..days (the columns of sessions.build_sessions)."""
    out = np.zeros(days + 2, dtype=bool)
    h = params.scenarios.holidays
    if h.enabled:
        for day in h.days:
            col = (day - start).days + 1
            if 0 <= col < days + 2:
                out[col] = True
    return out


def feature_adoption(params: Params, tier: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per account (plan tier index, a uniform each): when it adopts the launched feature (us), the
    launch + an exponential lag of mean adoption_lag_days_mean; NEVER outside the segment or when off.
    The uniform is drawn whether or not the scenario is on, so turning it on moves nothing else."""
    f = params.scenarios.feature_launch
    if not f.enabled:
        return np.full(len(tier), NEVER, dtype=np.int64)
    lag = to_us(-f.adoption_lag_days_mean * DAY * np.log1p(-np.asarray(u, dtype=float)))
    segment = np.isin(tier, [PLAN_TIERS.index(t) for t in f.plan_tiers])
    return np.where(segment, moment_us(f.date) + lag, NEVER)


def handoff_probability(params: Params, adopted_at: np.ndarray, created: np.ndarray) -> np.ndarray:
    """Per task: the chance of a hand-off (for a holder who hands work off), raised for the tasks its
    account created from its adoption of the launched feature on (adopted_at: NEVER if it never does)."""
    p = params.tasks.handoff_prob
    f = params.scenarios.feature_launch
    if not f.enabled:
        return np.full(len(created), p)
    return np.where(created >= adopted_at, min(1.0, p * f.handoff_multiplier), p)


def early_churn_share(params: Params, activated: np.ndarray) -> np.ndarray:
    """Per user: the chance of being an early churner, lower for users activated from the revamp on."""
    share = params.users.churn.early_share
    o = params.scenarios.onboarding_revamp
    if not o.enabled:
        return np.full(len(activated), share)
    return np.where(activated >= moment_us(o.date), o.early_churn_share, share)


def _incident_bounds(inc) -> tuple[int, int, int]:
    start = moment_us(inc.start)
    end = start + round(inc.hours * HOUR)
    return start, end, end + round(inc.backfill_delay_hours * HOUR)


def incident_us(params: Params) -> tuple[int, int, int] | None:
    """(start, end, delivered_at) of the ingestion incident in microseconds, or None when off."""
    inc = params.scenarios.ingestion_incident
    return _incident_bounds(inc) if inc.enabled else None


def incident_sql(params: Params) -> str:
    """SQL predicate over event_at_utc: the event happened during the ingestion incident ("false" when off)."""
    bounds = incident_us(params)
    if not bounds:
        return "false"
    return (
        f"(event_at_utc >= make_timestamp({bounds[0]}::BIGINT) AND event_at_utc < make_timestamp({bounds[1]}::BIGINT))"
    )


class ScenarioRow(NamedTuple):
    """One row of truth/scenarios.parquet (schema.TRUTH_TABLES["scenarios"])."""

    scenario: str
    enabled: bool
    starts_at: int  # us
    ends_at: int | None
    segment: str
    rule: str
    where_to_look: str


def scenarios_table(params: Params) -> pa.Table:
    """truth/scenarios.parquet: one row per scenario (enabled or not), with when, for whom and what changes.
    Timestamps are naive UTC; holidays have one row per day."""
    rows = [_feature_launch(params), _ingestion_incident(params), *_holidays(params), _onboarding_revamp(params)]
    schema = TRUTH_TABLES["scenarios"].arrow_schema
    return pa.table({f.name: pa.array([getattr(r, f.name) for r in rows], f.type) for f in schema}, schema=schema)


def _feature_launch(params: Params) -> ScenarioRow:
    f, p = params.scenarios.feature_launch, params.tasks.handoff_prob
    return ScenarioRow(
        "feature_launch",
        f.enabled,
        moment_us(f.date),
        None,
        "plan_tier in (" + ", ".join(f.plan_tiers) + ")",
        f"'{f.name}' launches; each account of the segment adopts it an exponential lag after the launch "
        f"(mean {f.adoption_lag_days_mean:g} days): hand-off probability of its tasks created from its adoption "
        f"on x{f.handoff_multiplier:g} ({p:g} -> {min(1.0, p * f.handoff_multiplier):g}, for users who hand work off)",
        "handoff_completed per task created, by week and segment (04_qa_profile)",
    )


def _ingestion_incident(params: Params) -> ScenarioRow:
    inc = params.scenarios.ingestion_incident
    start, end, _ = _incident_bounds(inc)  # described even when off
    return ScenarioRow(
        "ingestion_incident",
        inc.enabled,
        start,
        end,
        "all accounts",
        f"every event of these {inc.hours:g} hours is ingested {inc.backfill_delay_hours:g} h after they end "
        "(+ normal latency): all count as late_arrival in the ledger",
        "events by ingestion hour and late share by hour (04_qa_profile)",
    )


def _holidays(params: Params) -> list[ScenarioRow]:
    h = params.scenarios.holidays
    return [
        ScenarioRow(
            "holidays",
            h.enabled,
            moment_us(day),
            moment_us(day) + DAY,
            "all external accounts (local calendar)",
            f"chance of a session x{h.activity_factor:g} on {day.isoformat()}",
            "key events per day against the typical same weekday (04_qa_profile)",
        )
        for day in h.days or []
    ]


def _onboarding_revamp(params: Params) -> ScenarioRow:
    o = params.scenarios.onboarding_revamp
    return ScenarioRow(
        "onboarding_revamp",
        o.enabled,
        moment_us(o.date),
        None,
        "users activated from the date on",
        f"early-churner ('tourist') share {params.users.churn.early_share:g} -> {o.early_churn_share:g}",
        "user retention by activation cohort: week 1-4 retention steps up (04_qa_profile)",
    )


def notes(params: Params) -> list[str]:
    """One line per enabled scenario, for the generation notes and the manifest."""
    t = scenarios_table(params).to_pylist()
    out, seen = [], set()
    for r in t:
        if not r["enabled"] or r["scenario"] in seen:
            continue
        seen.add(r["scenario"])
        if r["scenario"] == "holidays":
            days = ", ".join(d.isoformat() for d in params.scenarios.holidays.days)
            out.append(f"holidays: {days}: chance of a session x{params.scenarios.holidays.activity_factor:g}")
            continue
        when = r["starts_at"].isoformat(sep=" ") + (f" .. {r['ends_at'].isoformat(sep=' ')}" if r["ends_at"] else "")
        out.append(f"{r['scenario']} ({when} UTC, {r['segment']}): {r['rule']}")
    return out
