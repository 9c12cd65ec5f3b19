"""Working sessions: the windows of local working time in which a user is in the product.

Every event a user makes happens inside one of that user's sessions, so activity follows local
working hours and weekdays (stored in UTC), never starts before activation and stops at churn.
`snap` moves a nominal instant to the acting user's next session: this is how task lifecycles and
notes inherit realistic daily and weekly rhythms.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo

import numpy as np

from ..streams import AccountDraws
from ..units import DAY, HOUR
from . import vocab
from .arrays import KEY_SPAN, MAX_USERS, order_by

# Where in a session work happens: a triangular share of the way through it, peaking at 40%
# (a mid-morning-to-afternoon bump; as cheap to draw as a uniform).
INTRADAY_MODE = 0.4


def intraday_from_u(u: np.ndarray) -> np.ndarray:
    """The intraday share for uniforms u (the triangular distribution's inverse CDF)."""
    c = INTRADAY_MODE
    return np.where(u < c, np.sqrt(u * c), 1.0 - np.sqrt((1.0 - u) * (1.0 - c)))


def intraday(draws, counts) -> np.ndarray:
    """Shares of the way through a session, per account (AccountDraws) or from one Generator."""
    if isinstance(draws, np.random.Generator):
        return draws.triangular(0.0, INTRADAY_MODE, 1.0, int(np.sum(counts)))
    return draws.triangular(0.0, INTRADAY_MODE, 1.0, counts)


def moment(draws, start: np.ndarray, end: np.ndarray, counts=None) -> np.ndarray:
    """A random instant in [start, end): most activity falls in the middle of a working session."""
    counts = len(start) if counts is None else counts
    return start + np.floor(intraday(draws, counts) * (end - start)).astype(np.int64)


def pinned_zone(name: str) -> ZoneInfo:
    """The IANA zone from the pinned `tzdata` package, never from the host's /usr/share/zoneinfo,
    so DST rules (and so every timestamp) are the same on every machine."""
    with resources.files("tzdata.zoneinfo").joinpath(*name.split("/")).open("rb") as f:
        return ZoneInfo.from_file(f, key=name)


@lru_cache(maxsize=8)
def utc_offsets(start: dt.date, days: int) -> np.ndarray:
    """offsets[tz, d + 1] = UTC offset (us) at local noon of window day d, for d in -1..days."""
    out = np.empty((len(vocab.TIMEZONES), days + 2), dtype=np.int64)
    for i, name in enumerate(vocab.TIMEZONES):
        zone = pinned_zone(name)
        for j in range(days + 2):
            local_noon = dt.datetime.combine(start + dt.timedelta(days=j - 1), dt.time(12), tzinfo=zone)
            out[i, j] = int(local_noon.utcoffset().total_seconds()) * 1_000_000
    out.setflags(write=False)
    return out


def weekend_mask(start: dt.date, days: int) -> np.ndarray:
    """weekend[d + 1] for window days d in -1..days (Saturday, Sunday)."""
    d0 = np.datetime64(start) - np.timedelta64(1, "D")
    day_numbers = (d0 + np.arange(days + 2)).astype("datetime64[D]").view("int64")
    return ((day_numbers + 3) % 7) >= 5


def _uniform01(draws, counts, n: int) -> np.ndarray:
    if isinstance(draws, np.random.Generator):
        return draws.random(n)
    return draws.random(counts)


@dataclass
class Sessions:
    """Sessions of a block of accounts, sorted by (user, start); users are block-local indices,
    grouped by account. `*_sorted` order them by (account, start).

    Searches use integer keys (index * KEY_SPAN + time since origin), so one call serves every
    account of the block; a block holds at most MAX_USERS users (the key must fit in int64).
    Draw-taking methods accept a Generator (a single account) or AccountDraws plus per-account
    counts of the query rows (queries grouped by account, in account order).
    """

    user: np.ndarray  # block-local user index
    start: np.ndarray  # us, UTC
    end: np.ndarray  # us, UTC (exclusive)
    origin: int  # us; keys are relative to it
    account: np.ndarray | None = None  # block-local account index per session (None: one account)
    n_accounts: int = 1

    def __post_init__(self) -> None:
        if self.account is None:
            self.account = np.zeros(len(self.user), dtype=np.int64)
        if (len(self.user) and self.user.max() >= MAX_USERS) or self.n_accounts > MAX_USERS:
            raise ValueError(
                f"a block of sessions keys at most {MAX_USERS:,} users and accounts; split it "
                f"(got users up to index {int(self.user.max())} and {self.n_accounts} accounts)"
            )
        self.by_start = order_by(self.account, self.start, self.origin)
        self.start_sorted = self.start[self.by_start]
        self.user_sorted = self.user[self.by_start]
        self.end_sorted = self.end[self.by_start]
        self.account_sorted = self.account[self.by_start]
        self.sorted_key = self.account_sorted * KEY_SPAN + self._rel(self.start_sorted)
        self._end_key = self.user * KEY_SPAN + (self.end - self.origin)
        bounds = np.searchsorted(self.account_sorted, np.arange(self.n_accounts + 1), side="left")
        self.account_lo, self.account_hi = bounds[:-1], bounds[1:]  # each account's rows in *_sorted
        # each user's first session opens at activation
        self.first_start = np.full(int(self.user.max()) + 1 if len(self.user) else 0, np.iinfo(np.int64).max)
        np.minimum.at(self.first_start, self.user, self.start)

    def __len__(self) -> int:
        return len(self.user)

    def _rel(self, t: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(t, dtype=np.int64) - self.origin, 0, KEY_SPAN - 1)

    def start_key(self, account: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Keys comparable with the (account, start) order of *_sorted."""
        return np.asarray(account, dtype=np.int64) * KEY_SPAN + self._rel(t)

    def snap(self, actor: np.ndarray, t: np.ndarray, draws=None, counts=None, where=None) -> np.ndarray:
        """Each actor's first moment at or after t inside one of their sessions; -1 if none is left.

        Inside a session the instant is kept; before one it moves to a random moment of that session
        (work waits for the next working day, then happens during it, most often mid-session).
        """
        actor = np.asarray(actor, dtype=np.int64)
        t = np.asarray(t, dtype=np.int64)
        if where is None:  # the intraday share of each row (given, or drawn here)
            where = intraday(draws, len(t) if counts is None else counts)
        if len(self.user) == 0 or len(t) == 0:
            return np.full(len(t), -1, dtype=np.int64)
        key = actor * KEY_SPAN + self._rel(t)
        idx = np.searchsorted(self._end_key, key, side="right")
        ok = idx < len(self.user)
        idx_c = np.minimum(idx, len(self.user) - 1)
        ok &= self.user[idx_c] == actor
        s, e = self.start[idx_c], self.end[idx_c]
        inside = s <= t
        moved = s + np.floor(where * (e - s)).astype(np.int64)
        out = np.where(inside, t, moved)
        return np.where(ok, out, -1)

    def other_user_near(
        self,
        after: np.ndarray,
        exclude: np.ndarray,
        horizon_us: int,
        draws=None,
        counts=None,
        account: np.ndarray | None = None,
        u: np.ndarray | None = None,
    ) -> np.ndarray:
        """A user (not `exclude`) of the same account, already activated at `after`, with a session
        starting in [after, after + horizon): someone who is around to take work over. -1 if none."""
        after = np.asarray(after, dtype=np.int64)
        account = np.zeros(len(after), np.int64) if account is None else account
        lo = np.searchsorted(self.sorted_key, self.start_key(account, after), side="left")
        hi = np.searchsorted(self.sorted_key, self.start_key(account, after + horizon_us), side="left")
        n = hi - lo
        has = n > 0
        u = _uniform01(draws, counts, len(after)) if u is None else u
        pick = lo + np.floor(u * np.maximum(n, 1)).astype(np.int64)
        pick2 = lo + (pick - lo + 1) % np.maximum(n, 1)
        last = max(len(self.user) - 1, 0)
        if len(self.user) == 0:
            return np.full(len(after), -1, dtype=np.int64)
        u1 = self.user_sorted[np.minimum(pick, last)]
        u2 = self.user_sorted[np.minimum(pick2, last)]
        ok1 = (u1 != exclude) & (self.first_start[u1] <= after)
        ok2 = (u2 != exclude) & (self.first_start[u2] <= after)
        chosen = np.where(ok1, u1, np.where(ok2, u2, -1))
        return np.where(has, chosen, -1)


def build_sessions(
    *,
    rng,
    start_date: dt.date,
    days: int,
    w0: int,
    w1: int,
    tz: np.ndarray,
    activated_at: np.ndarray,
    churn_at: np.ndarray,
    active_prob: np.ndarray,
    start_hour: np.ndarray,
    weekend_factor,
    workday_hours: float,
    weekend_hours_factor: float,
    account: np.ndarray | None = None,
    n_accounts: int = 1,
    day_factor: np.ndarray | None = None,
    on_calendar: np.ndarray | None = None,
) -> Sessions:
    """Sessions of a block's activated users (grouped by account; `account` is each user's
    block-local account, None for a single account drawing from the Generator `rng`; else `rng` is
    AccountDraws).

    A user's activation opens a first session at activated_at. On each later local day before churn,
    the user is in the product with probability active_prob (times weekend_factor on Saturday and
    Sunday, times day_factor[tz] on each local day: calendar.day_factors, for the users where
    `on_calendar` is true, all when it is None), from their habitual start
    hour (+-30 min) for about workday_hours. Sessions are clipped to [activated_at, min(churn_at,
    window end)) and never overlap.
    """
    n = len(tz)
    if account is None:
        rng, account = AccountDraws.of([rng]), np.zeros(n, dtype=np.int64)
    counts = np.bincount(account, minlength=n_accounts)
    weekend = weekend_mask(start_date, days)
    offsets = utc_offsets(start_date, days)
    prob = _day_probabilities(active_prob, weekend, weekend_factor, tz, day_factor, on_calendar)
    # which local days each user is in the product (drawn for every user-day)...
    draw_active = rng.random(counts, days + 2)
    act_day_utc = np.clip((activated_at - w0) // DAY + 1, 0, days + 1)
    act_day_col = (activated_at + offsets[tz, act_day_utc] - w0) // DAY + 1  # the activation's local day
    active = (draw_active < prob) & (np.arange(days + 2)[None, :] > act_day_col[:, None])
    u_idx, d_idx = np.nonzero(active)  # row-major: users (so accounts), then days
    # ...and, for those days only, when the session starts and how long it lasts
    active_counts = np.bincount(account[u_idx], minlength=n_accounts)
    draw_start = rng.normal(0.0, 0.5, active_counts)
    draw_len = rng.lognormal(1.0, 0.25, active_counts)
    first_len = np.floor(rng.lognormal(2.0 * HOUR, 0.6, counts)).astype(np.int64)
    if n == 0:
        empty = np.zeros(0, np.int64)
        return Sessions(empty, empty, empty, w0, empty, n_accounts)
    hours = np.clip(np.where(weekend[d_idx], workday_hours * weekend_hours_factor, workday_hours) * draw_len, 0.5, 15.0)
    local_start_h = np.clip(start_hour[u_idx] + draw_start, 0.0, 23.0)
    start = w0 + (d_idx - 1) * DAY + np.floor(local_start_h * HOUR).astype(np.int64) - offsets[tz[u_idx], d_idx]
    # the activation session comes first for each user (np.nonzero is row-major: users, then days)
    user = np.concatenate([np.arange(n), u_idx])
    start, end = (
        np.concatenate([activated_at, start]),
        np.concatenate([activated_at + first_len, start + np.floor(hours * HOUR).astype(np.int64)]),
    )
    user, start, end = _within_life(user, start, end, activated_at, churn_at, w0, w1)
    return Sessions(user, start, end, w0, account[user], n_accounts)


def _day_probabilities(active_prob, weekend, weekend_factor, tz, day_factor, on_calendar) -> np.ndarray:
    """(users, local days): the chance of a session, lower on weekends, and times each user's time
    zone's calendar factor (weekday, holidays, year-end lull) for the users on the calendar."""
    n = len(active_prob)
    weekend_factor = np.broadcast_to(np.asarray(weekend_factor, dtype=float), (n,))
    prob = active_prob[:, None] * np.where(weekend[None, :], weekend_factor[:, None], 1.0)
    if day_factor is not None:
        factor = day_factor[tz]  # a copy, (users, local days)
        if on_calendar is not None:
            factor[~on_calendar] = 1.0
        prob *= factor
    return prob


def _within_life(user, start, end, activated_at, churn_at, w0: int, w1: int):
    """Sessions sorted by (user, start), clipped to [activated_at, min(churn_at, window end)), each
    ending before the user's next one starts; empty ones dropped."""
    order = order_by(user, start, w0)
    user, start, end = user[order], start[order], end[order]
    start = np.maximum(start, np.maximum(activated_at[user], w0))
    end = np.minimum(end, np.minimum(churn_at[user], w1))
    next_start = np.r_[start[1:], np.iinfo(np.int64).max]
    same_user_next = np.r_[user[1:] == user[:-1], False]
    end = np.where(same_user_next, np.minimum(end, next_start), end)
    keep = end > start
    return user[keep], start[keep], end[keep]
