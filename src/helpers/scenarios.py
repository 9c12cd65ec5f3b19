"""Scenarios: effects planted on purpose that a good dashboard should reveal (params `scenarios`).

Each is off unless `enabled`, and each changes one rule of the simulation:
- feature_launch: each account of the segment (plan tiers) adopts the feature an exponential lag
  (mean adoption_lag_days_mean) after `date`; its tasks created from its adoption on are handed off
  with probability min(1, tasks.handoff_prob x handoff_multiplier) (by holders who hand work off), so
  the segment's hand-offs ramp up over the weeks after the launch;
- ingestion_incident: every event that happens in [start, start + hours) is held back by the pipeline
  and ingested at the end of the stretch + backfill_delay_hours (+ its normal latency): all late;
- holidays: on the public holidays of a user's time zone's country (the `holidays` package; each
  user's local calendar), and on extra_days everywhere, a customer is in the product with probability
  x activity_factor (helpers.generate.calendar; a holiday few employers give off counts for its share);
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

from .generate import calendar, vocab
from .params import Params
from .schema import PLAN_TIERS, TRUTH_TABLES
from .units import DAY, HOUR, NEVER, moment_us, to_us


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
    Timestamps are naive UTC; holidays have one row per day off (the countries in `segment`)."""
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
    """One row per day of the window that is a holiday somewhere (or an extra day): the countries
    (zones, where only part of a country has it) in `segment`, each holiday's name and factor in `rule`."""
    h = params.scenarios.holidays
    by_day: dict[dt.date, list[calendar.Holiday]] = {}
    for hol in calendar.window_holidays(params):
        by_day.setdefault(hol.day, []).append(hol)
    rows = []
    for day in sorted(set(by_day) | set(h.extra_days)):
        extra = day in h.extra_days
        segment = "every country" if extra else ", ".join(_places(by_day[day]))
        rows.append(
            ScenarioRow(
                "holidays",
                h.enabled,
                moment_us(day),
                moment_us(day) + DAY,
                f"external users in {segment} (local calendar)",
                _holiday_rule(by_day.get(day, []), extra, h.activity_factor),
                "active customers per local day against the same weekday, by country (04_qa_profile)",
            )
        )
    return rows


def _places(day_off: list[calendar.Holiday]) -> list[str]:
    """Country codes, or "CA (America/Toronto)" where only some of a country's zones have the day off."""
    zones = {hol.zone for hol in day_off}
    out = []
    for code, _, _, country_zones in vocab.COUNTRIES:
        mine = [tz for tz, _ in country_zones if tz in zones]
        if mine:
            out.append(code if len(mine) == len(country_zones) else f"{code} ({', '.join(mine)})")
    return out


def _countries(codes: list[str]) -> str:
    """Country codes in the vocabulary's order (largest customer bases first)."""
    order = [code for code, *_ in vocab.COUNTRIES]
    return ", ".join(sorted(codes, key=order.index))


def _holiday_rule(day_off: list[calendar.Holiday], extra: bool, factor: float) -> str:
    """ "chance of a session x0.15: Christmas Day (US, GB, ...); Christmas (IN)", and a holiday few
    employers give off with its own factor: "x0.90: Columbus Day (US), a day off at 12% of employers"."""
    groups: dict[float, dict[str, list[str]]] = {}
    for hol in day_off:
        places = groups.setdefault(1.0 if extra else hol.share, {}).setdefault(hol.name, [])
        if vocab.ZONE_COUNTRY[hol.zone] not in places:
            places.append(vocab.ZONE_COUNTRY[hol.zone])
    full = [f"{name} ({_countries(places)})" for name, places in groups.pop(1.0, {}).items()]
    if extra:
        full.insert(0, "a company-wide day off (scenarios.holidays.extra_days)")
    parts = [f"chance of a session x{factor:g}: " + "; ".join(full)] if full else []
    for share in sorted(groups, reverse=True):
        parts += [
            f"x{1 - share * (1 - factor):.2f}: {name} ({_countries(places)}), a day off at {share:.0%} of employers"
            for name, places in groups[share].items()
        ]
    return "; ".join(parts)


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
            out.append(_holidays_note(params, t))
            continue
        when = r["starts_at"].isoformat(sep=" ") + (f" .. {r['ends_at'].isoformat(sep=' ')}" if r["ends_at"] else "")
        out.append(f"{r['scenario']} ({when} UTC, {r['segment']}): {r['rule']}")
    return out


def _holidays_note(params: Params, rows: list[dict]) -> str:
    days = [r for r in rows if r["scenario"] == "holidays"]
    h = params.scenarios.holidays
    extra = f"; extra days off everywhere: {', '.join(map(str, h.extra_days))}" if h.extra_days else ""
    return (
        f"holidays: each country's public holidays in its users' local calendars ({len(days)} days of the window "
        f"are a holiday somewhere; truth/scenarios lists them): chance of a session x{h.activity_factor:g}{extra}"
    )
