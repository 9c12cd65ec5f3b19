"""The calendar of each time zone: which local days people work less (placeholder until the per-country
calendar lands: the listed holidays of scenarios.holidays for every zone)."""

from __future__ import annotations

import datetime as dt

import numpy as np

from .. import scenarios
from . import vocab


def day_factors(params, start: dt.date, days: int) -> np.ndarray:
    """(time zones, days + 2): the factor on a customer's chance of a session on local day d (column d + 1)."""
    holiday = scenarios.holiday_days(params, start, days)
    row = np.where(holiday, params.scenarios.holidays.activity_factor, 1.0)
    return np.broadcast_to(row, (len(vocab.TIMEZONES), days + 2))
