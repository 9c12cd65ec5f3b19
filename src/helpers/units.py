"""Time as the simulation holds it: int64 microseconds since the Unix epoch, UTC, naive.

Every timestamp column is timestamp[us] holding UTC; the numpy side works in the same integer
microseconds, with -1 (or NEVER) where a moment does not exist.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

US = 1_000_000  # one second
MINUTE = 60 * US
HOUR = 3600 * US
DAY = 86_400 * US
MONTH_DAYS = 30.4375  # mean days per month (365.25 / 12)
NEVER = np.iinfo(np.int64).max  # "does not happen inside the window" (e.g. no churn)
MAX_DAYS = 10_000.0  # every drawn duration is capped here (~27 years): far past any window, safe in int64 us

_EPOCH = dt.datetime(1970, 1, 1)


def to_us(x) -> np.ndarray:
    """Float microseconds -> int64, capped at MAX_DAYS, so no draw can overflow when added to a time."""
    return np.floor(np.minimum(x, MAX_DAYS * DAY)).astype(np.int64)


def moment_us(value: dt.datetime | dt.date) -> int:
    """A naive UTC moment (or a date: its midnight) in microseconds since the epoch."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    return (value - _EPOCH) // dt.timedelta(microseconds=1)


def window_us(window) -> tuple[int, int]:
    """[start, end) of a params window (both days included) in microseconds since the epoch."""
    return moment_us(window.start), moment_us(window.end + dt.timedelta(days=1))
