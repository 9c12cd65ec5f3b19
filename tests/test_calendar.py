"""The calendar of work (helpers.generate.calendar): each time zone's public holidays, the year-end lull
and the workday rhythm, as factors on a customer's chance of a session; and sessions follow them."""

from __future__ import annotations

import datetime as dt

import holidays as holiday_calendars
import numpy as np
import pytest

from helpers import params as P
from helpers.generate import calendar, users, vocab
from helpers.generate.sessions import weekend_mask
from helpers.units import DAY

from .conftest import ROOT, apply_changes, preset

DEFAULT = P.load(ROOT / "params/default.yaml")
START, DAYS = DEFAULT.window.start, DEFAULT.window.days


def _variant(changes: dict) -> P.Params:
    return P.validate(apply_changes(preset("default"), changes), f"default.yaml with {sorted(changes)}")


def _at(factors: np.ndarray, zone: str, day: dt.date, start: dt.date = START) -> float:
    return float(factors[vocab.TIMEZONES.index(zone), (day - start).days + 1])


def test_shape_columns_and_cache():
    """One row per time zone, columns = local days -1..days of the window (as weekend_mask), read-only and
    computed once for the same parameters."""
    f = calendar.day_factors(DEFAULT, START, DAYS)
    assert f.shape == (len(vocab.TIMEZONES), DAYS + 2) == (len(vocab.TIMEZONES), len(weekend_mask(START, DAYS)))
    assert not f.flags.writeable
    assert calendar.day_factors(DEFAULT, START, DAYS) is f
    assert np.all(f > 0) and np.all(f <= 1.1)
    # column 0 is the day before the window: 31 December 2024, deep in the lull and a holiday nowhere...
    assert _at(f, "America/Chicago", dt.date(2024, 12, 31)) < 0.6
    # ...and the last column the day after it: 1 January 2026, New Year's Day
    assert _at(f, "Europe/London", dt.date(2026, 1, 1)) < 0.2


def test_each_country_keeps_its_own_holidays():
    """US users lose July 4 and Thanksgiving but work on Easter Monday; English and German users take
    Easter Monday off; Columbus Day is a working day for most US employers (a small dip only)."""
    f = calendar.day_factors(DEFAULT, START, DAYS)
    factor = DEFAULT.scenarios.holidays.activity_factor
    for zone in ("America/New_York", "America/Los_Angeles"):
        # the same weekday a week later is a normal day: the holiday is x activity_factor of it
        assert _at(f, zone, dt.date(2025, 7, 4)) == pytest.approx(factor * _at(f, zone, dt.date(2025, 7, 11)))
        assert _at(f, zone, dt.date(2025, 11, 27)) == pytest.approx(factor * _at(f, zone, dt.date(2025, 11, 20)))
        assert _at(f, zone, dt.date(2025, 4, 21)) == pytest.approx(_at(f, zone, dt.date(2025, 4, 28)))
        assert 0.8 < _at(f, zone, dt.date(2025, 10, 13)) / _at(f, zone, dt.date(2025, 10, 20)) < 1.0
    for zone in ("Europe/London", "Europe/Berlin", "Europe/Paris"):
        assert _at(f, zone, dt.date(2025, 4, 21)) == pytest.approx(factor * _at(f, zone, dt.date(2025, 4, 28)))
        assert _at(f, zone, dt.date(2025, 7, 4)) == pytest.approx(_at(f, zone, dt.date(2025, 7, 11)))
    # inside a country: Boxing Day is Ontario's, not British Columbia's
    assert _at(f, "America/Toronto", dt.date(2025, 12, 26)) < 0.5 * _at(f, "America/Vancouver", dt.date(2025, 12, 26))


def test_friday_lighter_and_weekends_left_to_sessions():
    """A normal Friday is below Tuesday and Wednesday; Saturday and Sunday are 1 here (sessions apply the
    weekend factor)."""
    f = calendar.day_factors(DEFAULT, START, DAYS)
    zone = "Asia/Kolkata"
    tue, wed, fri = (_at(f, zone, dt.date(2025, 3, d)) for d in (4, 5, 7))
    assert 0.75 < fri / ((tue + wed) / 2) < 0.95
    assert _at(f, zone, dt.date(2025, 3, 8)) == _at(f, zone, dt.date(2025, 3, 9)) == 1.0


def test_year_end_lull_ramps_smoothly_every_year():
    """Over a window crossing two year-ends, each one dips from mid-December to early January: normal
    at the start of December, deepest between Christmas and New Year, back by mid-January, in steps no
    larger than a third of the depth."""
    p = _variant({"window.start": dt.date(2024, 11, 1), "window.end": dt.date(2026, 2, 28)})
    start, days = p.window.start, p.window.days
    f = calendar.day_factors(p, start, days)
    zone = "Asia/Kolkata"  # no public holiday in late December but Christmas Day
    sundays = [d for d in (start + dt.timedelta(days=k) for k in range(days)) if d.weekday() == 6]
    lull = {d: _at(f, zone, d, start) for d in sundays}  # Sundays: the weekday factor is 1
    depth = 1 - p.activity.year_end_lull.factor
    for year in (2024, 2025):
        assert lull[next(d for d in sundays if d >= dt.date(year, 12, 1))] == 1.0
        assert lull[next(d for d in sundays if d >= dt.date(year, 12, 26))] == pytest.approx(1 - depth)
        assert lull[next(d for d in sundays if d >= dt.date(year + 1, 1, 12))] == 1.0
    lull_params = p.activity.year_end_lull
    shape = (lull_params.from_december_day, lull_params.to_january_day, lull_params.ramp_days, lull_params.factor)
    daily = [calendar.lull_factor(start + dt.timedelta(days=k), *shape) for k in range(days)]
    assert max(abs(np.diff(daily))) < depth / 3


def test_scenario_off_or_neutral_keeps_weekdays_and_lull_only():
    """Holidays off: no dip on July 4 in the US, but the lull and Friday remain; activity_factor 1 gives
    exactly the same factors as off (the draws of a neutral scenario do not change)."""
    off = calendar.day_factors(_variant({"scenarios.holidays.enabled": False}), START, DAYS)
    neutral = calendar.day_factors(_variant({"scenarios.holidays.activity_factor": 1.0}), START, DAYS)
    assert np.array_equal(off, neutral)
    ny = "America/New_York"
    assert _at(off, ny, dt.date(2025, 7, 4)) == _at(off, ny, dt.date(2025, 7, 11)) < 1.0
    assert _at(off, ny, dt.date(2025, 12, 30)) < 0.6
    plain = calendar.day_factors(
        _variant({"activity.year_end_lull.enabled": False, "scenarios.holidays.enabled": False}), START, DAYS
    )
    assert _at(plain, ny, dt.date(2025, 12, 30)) == _at(plain, ny, dt.date(2025, 12, 2))


def test_extra_days_are_off_everywhere():
    """An extra day is a full holiday in every time zone (and listed in truth/scenarios)."""
    p = _variant({"scenarios.holidays.extra_days": [dt.date(2025, 6, 6)]})
    f = calendar.day_factors(p, START, DAYS)
    base = calendar.day_factors(DEFAULT, START, DAYS)
    col = (dt.date(2025, 6, 6) - START).days + 1
    normal = base[:, col] > 0.5  # where 6 June is not already a holiday (Sweden's National Day is)
    assert normal.sum() >= len(vocab.TIMEZONES) - 1
    assert np.allclose(f[normal, col], base[normal, col] * p.scenarios.holidays.activity_factor)
    assert dt.date(2025, 6, 6) in calendar.widely_observed_days(p)


def test_vocabulary_matches_the_package():
    """Every zone has a country; every subdivision exists in the package; every holiday given an observed
    share is one the package names for that country (a renamed holiday would silently count fully)."""
    assert set(vocab.ZONE_COUNTRY) == set(vocab.TIMEZONES)
    for zone, subdiv in vocab.HOLIDAY_SUBDIVISIONS.items():
        assert subdiv in holiday_calendars.country_holidays(vocab.ZONE_COUNTRY[zone]).subdivisions, zone
    for country, shares in vocab.HOLIDAY_OBSERVED_SHARE.items():
        names = set(holiday_calendars.country_holidays(country, years=2025, language="en_US").values())
        assert set(shares) <= names, set(shares) - names
        assert all(0 <= s < 1 for s in shares.values())


def test_widely_observed_days_excuse_big_holidays_only():
    """The empty-weekday guardrail excuses holidays of a quarter of customers or more (Christmas, the US's
    July 4, Easter Monday across Europe), not a small country's (Japan's Marine Day); none when off."""
    days = calendar.widely_observed_days(DEFAULT)
    assert {dt.date(2025, 12, 25), dt.date(2025, 7, 4), dt.date(2025, 4, 21)} <= set(days)
    assert dt.date(2025, 7, 21) not in days and dt.date(2025, 10, 13) not in days
    assert calendar.widely_observed_days(_variant({"scenarios.holidays.enabled": False})) == []


def test_sessions_follow_the_calendar_of_calendar_users_only(monkeypatch):
    """A day with factor 0 in a zone has no chance of a session for customers there, while users off the
    calendar (internal workspaces, scripts) keep their usual chance that day; the sessions follow."""
    n = 400
    zone = vocab.TIMEZONES.index("Asia/Kolkata")
    factor = np.ones((len(vocab.TIMEZONES), DAYS + 2))
    factor[zone, 1 + 63] = 0.0  # window day 63: Wednesday 5 March 2025
    monkeypatch.setattr(calendar, "day_factors", lambda params, start, days: factor)
    w0 = int((np.datetime64(START) - np.datetime64("1970-01-01")).astype("timedelta64[us]").astype(np.int64))
    internal = np.arange(n) % 2 == 1
    none = np.full(n, -1, dtype=np.int64)
    people = users.Users(
        user_id=np.arange(1, n + 1),
        created=np.full(n, w0 - 2 * DAY),
        activated=np.full(n, w0 - DAY),
        churn=np.full(n, np.iinfo(np.int64).max),
        role=np.ones(n, dtype=np.int64),
        tz=np.full(n, zone),
        engagement=np.ones(n),
        active_prob=np.full(n, 0.9),
        start_hour=np.full(n, 10.0),
        early=np.zeros(n, bool),
        internal=internal,
        full_name=np.full(n, "x", dtype=object),
        email=np.full(n, "x", dtype=object),
        fade=np.full(n, 30 * DAY),
        dormant_from=none,
        dormant_to=none,
    )
    window_only = DEFAULT.model_copy(update={"history": DEFAULT.history.model_copy(update={"launch": None})})
    plan = users.day_plan(window_only, people, np.arange(n), w0, w0 + DAYS * DAY)  # day columns of the window
    assert (plan.prob[~internal, 1 + 63] == 0).all()
    assert (plan.prob[internal, 1 + 63] == users.INTERNAL_ACTIVE_PROB).all()
    assert (plan.prob[~internal, 1 + 64] > 0.5).all()  # the next day is a normal Thursday
