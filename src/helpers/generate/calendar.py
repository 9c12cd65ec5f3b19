"""The calendar of work: how likely a customer is to be in the product on each local day, per time zone.

`day_factors` is the factor on a customer user's chance of a session (sessions.build_sessions), the
product of
- the workday: activity.weekday_factors (mid-week busiest, Friday lightest; Saturday and Sunday are 1
  here, sessions applies activity.weekend_factor);
- public holidays, when scenario `holidays` is on: those of the time zone's country (vocab.ZONE_COUNTRY;
  a subdivision where holidays differ inside a country, vocab.HOLIDAY_SUBDIVISIONS) from the pinned
  `holidays` package, and scenarios.holidays.extra_days everywhere: x activity_factor, or for a holiday
  only some employers give off (vocab.HOLIDAY_OBSERVED_SHARE) x (1 - share * (1 - activity_factor));
- the year-end lull (activity.year_end_lull): down to `factor` from mid-December to early January, every
  year the window covers, with smooth (half-cosine) ramps in and out.
Internal workspaces (scripts) ignore the calendar. Everything here is cached: it is asked once per block.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache
from typing import NamedTuple

import holidays as holiday_calendars
import numpy as np

from ..params import Params
from ..params.model import WEEKDAYS
from . import vocab

LANGUAGE = "en_US"  # holiday names in one language whatever the country (the truth table names them)
OBSERVED = " (observed)"
# The empty-weekday guardrail excuses a day that is a holiday for at least this share of customers.
WIDELY_OBSERVED_SHARE = 0.25


class Holiday(NamedTuple):
    """A day off in one time zone's calendar: its name and the share of employers that give it."""

    day: dt.date
    zone: str
    name: str
    share: float  # 1: a public holiday everyone has; less: only some employers give it off


def _observed_share(country: str, name: str) -> float:
    """The share of employers giving a holiday off: 1 unless listed (a day holding several holidays, or
    a holiday moved off a weekend, counts as its most observed one)."""
    shares = vocab.HOLIDAY_OBSERVED_SHARE.get(country, {})
    parts = [part.removesuffix(OBSERVED) for part in name.split("; ")]
    return max(shares.get(part, 1.0) for part in parts)


@lru_cache(maxsize=128)
def _calendar(country: str, subdiv: str | None, first_year: int, last_year: int) -> tuple[tuple[dt.date, str], ...]:
    """(day, name) of a country's (subdivision's) days off in the years first_year..last_year, by day."""
    days = holiday_calendars.country_holidays(
        country,
        subdiv=subdiv,
        years=range(first_year, last_year + 1),
        categories=("public", *vocab.HOLIDAY_EXTRA_CATEGORIES.get(country, ())),
        language=LANGUAGE,
    )
    return tuple(sorted(days.items()))


def zone_holidays(zone: str, first_year: int, last_year: int) -> tuple[Holiday, ...]:
    """The days off in a time zone's calendar in the years first_year..last_year, by day."""
    country = vocab.ZONE_COUNTRY[zone]
    days = _calendar(country, vocab.HOLIDAY_SUBDIVISIONS.get(zone), first_year, last_year)
    return tuple(Holiday(day, zone, name, _observed_share(country, name)) for day, name in days)


def holidays_between(first: dt.date, last: dt.date) -> tuple[Holiday, ...]:
    """Every time zone's days off from first to last (both included), by day then zone."""
    rows = [h for zone in vocab.TIMEZONES for h in zone_holidays(zone, first.year, last.year) if first <= h.day <= last]
    return tuple(sorted(rows, key=lambda h: (h.day, vocab.TIMEZONES.index(h.zone))))


def _dates(start: dt.date, days: int) -> list[dt.date]:
    """The local days of columns 0..days + 1: window days -1..days."""
    return [start + dt.timedelta(days=j - 1) for j in range(days + 2)]


def _weekday_row(start: dt.date, days: int, factors: tuple[float, ...]) -> np.ndarray:
    per_weekday = np.array([*factors, 1.0, 1.0])  # Monday..Friday, then Saturday and Sunday
    return per_weekday[[d.weekday() for d in _dates(start, days)]]


def lull_factor(day: dt.date, from_december_day: int, to_january_day: int, ramp_days: int, factor: float) -> float:
    """The year-end lull's factor on a day: 1 outside [from_december_day of December, to_january_day of
    January], `factor` inside it beyond the ramps, a half-cosine ramp in between (the first and last
    day of the lull already a step below 1)."""
    year = day.year if day.month == 12 else day.year - 1
    first, last = dt.date(year, 12, from_december_day), dt.date(year + 1, 1, to_january_day)
    if not first <= day <= last:
        return 1.0
    into = min((day - first).days, (last - day).days) + 1
    depth = 0.5 - 0.5 * math.cos(math.pi * min(1.0, into / (ramp_days + 1)))
    return 1.0 - (1.0 - factor) * depth


def _lull_row(start: dt.date, days: int, lull: tuple | None) -> np.ndarray:
    if lull is None:
        return np.ones(days + 2)
    return np.array([lull_factor(d, *lull) for d in _dates(start, days)])


def _holiday_matrix(start: dt.date, days: int, holidays: tuple | None) -> np.ndarray:
    """(time zones, days + 2): x activity_factor on each zone's holidays (scaled by their observed share)."""
    out = np.ones((len(vocab.TIMEZONES), days + 2))
    if holidays is None:
        return out
    factor, extra_days = holidays
    dates = _dates(start, days)
    share = np.zeros_like(out)
    for h in holidays_between(dates[0], dates[-1]):
        z, j = vocab.TIMEZONES.index(h.zone), (h.day - dates[0]).days
        share[z, j] = max(share[z, j], h.share)
    for day in extra_days:  # company-wide days off: a full holiday in every zone
        j = (day - dates[0]).days
        if 0 <= j < days + 2:
            share[:, j] = 1.0
    return out - share * (1.0 - factor)


@lru_cache(maxsize=16)
def _day_factors(start: dt.date, days: int, weekdays: tuple, lull: tuple | None, holidays: tuple | None) -> np.ndarray:
    out = _weekday_row(start, days, weekdays)[None, :] * _lull_row(start, days, lull)[None, :]
    out = out * _holiday_matrix(start, days, holidays)
    out.setflags(write=False)
    return out


def _keys(params: Params) -> tuple[tuple, tuple | None, tuple | None]:
    """The parameters the calendar reads, as hashable tuples (None: that part is off)."""
    a, h = params.activity, params.scenarios.holidays
    lull = a.year_end_lull
    return (
        tuple(getattr(a.weekday_factors, d) for d in WEEKDAYS),
        (lull.from_december_day, lull.to_january_day, lull.ramp_days, lull.factor) if lull.enabled else None,
        (h.activity_factor, tuple(sorted(h.extra_days))) if h.enabled else None,
    )


def day_factors(params: Params, start: dt.date, days: int) -> np.ndarray:
    """factors[tz, d + 1] for local days d in -1..days (the columns of sessions.weekend_mask and
    utc_offsets): the factor on a customer's chance of a session that day in time zone tz (read-only)."""
    return _day_factors(start, days, *_keys(params))


def window_holidays(params: Params) -> tuple[Holiday, ...]:
    """The holidays of every time zone inside the window (whether or not the scenario is on)."""
    return holidays_between(params.window.start, params.window.end)


def zone_weights() -> dict[str, float]:
    """Each time zone's share of customers by the vocabulary's weights (country weight x zone weight)."""
    total = sum(w for _, w, _, _ in vocab.COUNTRIES)
    return {tz: cw * zw / total for _, cw, _, zones in vocab.COUNTRIES for tz, zw in zones}


def widely_observed_days(params: Params) -> list[dt.date]:
    """Days of the window off for at least WIDELY_OBSERVED_SHARE of customers (by the vocabulary's
    country weights and each holiday's observed share), and the extra days; none when the scenario is
    off. The empty-weekday guardrail excuses these: a smaller group's holiday never empties a busy day."""
    h = params.scenarios.holidays
    if not h.enabled:
        return []
    weights, off = zone_weights(), {}
    for hol in window_holidays(params):
        off[hol.day] = off.get(hol.day, 0.0) + weights[hol.zone] * hol.share
    days = {d for d, share in off.items() if share >= WIDELY_OBSERVED_SHARE - 1e-9} | set(h.extra_days)
    return sorted(days)
