"""The work clock: time as a task's durations count it, running on weekdays only.

Task durations (time to start, work time, blockers, parked waits, hand-off timing, notes) are drawn as
working time: the clock stops from Saturday 00:00 to Monday 00:00 (UTC), so a step two working days
after a Friday lands on Tuesday, not on Sunday. Nominal times then fall on weekdays only, and snapping
to the actor's next session no longer piles the weekend's work onto Monday. (Local weekends differ
from the UTC one by a few hours; those hours are outside working hours on both sides, so a step
there waits for the same next session either way.)

`to_work` and `from_work` are a vectorised map between UTC microseconds and working microseconds:
to_work squeezes each weekend to an instant (the Monday), from_work is its inverse on weekdays.
"""

from __future__ import annotations

import numpy as np

from ..units import DAY

WEEK = 7 * DAY
WORK_WEEK = 5 * DAY
MONDAY0 = 4 * DAY  # 1970-01-05, the first Monday after the epoch (a Thursday)


def to_work(t: np.ndarray) -> np.ndarray:
    """Working microseconds since MONDAY0 at UTC instants t (weekend instants map to the next Monday)."""
    x = np.asarray(t, dtype=np.int64) - MONDAY0
    week, r = np.divmod(x, WEEK)
    return week * WORK_WEEK + np.minimum(r, WORK_WEEK)


def from_work(w: np.ndarray) -> np.ndarray:
    """The UTC instant at working time w (always a weekday): the inverse of to_work on weekdays."""
    week, r = np.divmod(np.asarray(w, dtype=np.int64), WORK_WEEK)
    return MONDAY0 + week * WEEK + r


def is_weekend(t: np.ndarray) -> np.ndarray:
    """Saturday or Sunday (UTC)."""
    return np.mod(np.asarray(t, dtype=np.int64) - MONDAY0, WEEK) >= WORK_WEEK


def advance(t: np.ndarray, duration: np.ndarray) -> np.ndarray:
    """The instant `duration` (us, >= 0) of working time after t.

    From a weekday, the weekends on the way do not count. From a weekend moment (weekend sessions are
    rare, and short), a follow-up that fits in the rest of that weekend happens in real time (an
    assignment minutes after creating a task on a Saturday); a longer one counts working time from
    Monday."""
    t = np.asarray(t, dtype=np.int64)
    d = np.asarray(duration, dtype=np.int64)
    worked = from_work(to_work(t) + d)
    real = t + d
    same_weekend = is_weekend(t) & (to_work(real) == to_work(t))
    return np.where(same_weekend, real, worked)


def between(t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
    """Working microseconds from t0 to t1 (0 where t1 <= t0)."""
    return np.maximum(to_work(t1) - to_work(t0), 0)
