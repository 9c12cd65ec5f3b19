"""Array helpers of the simulation: ranks within groups, stable orders by packed integer keys, and
user-bounded ranges of accounts. Pure numpy, no randomness."""

from __future__ import annotations

import numpy as np

from ..units import DAY

# Sessions of different users are keyed as user_index * KEY_SPAN + (t - origin).
KEY_SPAN = 1 << 49  # ~17.8 years of microseconds
MAX_USERS = (1 << 63) // KEY_SPAN - 1  # users (or accounts) one block may key: 16,383


def order_by(major: np.ndarray, t: np.ndarray, origin: int) -> np.ndarray:
    """The stable order by (major, t), for small non-negative ints `major` (users, accounts) and
    times t: one argsort of a packed int64 key when it fits (most often), else a lexsort."""
    major = np.asarray(major, dtype=np.int64)
    rel = np.asarray(t, dtype=np.int64) - (origin - 2 * DAY)
    if len(rel) == 0 or (rel.min() >= 0 and rel.max() < KEY_SPAN and major.max() < MAX_USERS):
        return np.argsort(major * KEY_SPAN + rel, kind="stable")
    return np.lexsort((t, major))


def group_rank(group: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal values of a grouped (sorted) key."""
    n = len(group)
    if n == 0:
        return np.zeros(0, np.int64)
    start = np.r_[True, group[1:] != group[:-1]]
    return np.arange(n) - np.maximum.accumulate(np.where(start, np.arange(n), 0))


def stable_order(t: np.ndarray, acct: np.ndarray, n_acc: int, origin: int) -> np.ndarray:
    """The stable order by (t, acct) (ties: by position).

    One quicksort of a packed int64 key: distinct keys have one order whatever the algorithm or
    CPU; the few rows with equal keys are then put in their original order."""
    bits = max(int(n_acc - 1).bit_length(), 1)
    rel = t - (origin - 2 * DAY)
    if len(t) == 0 or rel.min() < 0 or int(rel.max()) >= (1 << (62 - bits)):
        return np.lexsort((acct, t))
    key = (rel << bits) | acct
    order = np.argsort(key)
    sorted_key = key[order]
    tied = np.flatnonzero(sorted_key[1:] == sorted_key[:-1])
    if len(tied):  # rare: equal keys keep their original order, as a stable sort would
        rows = np.unique(np.concatenate([tied, tied + 1]))
        order[rows] = order[rows][np.lexsort((order[rows], sorted_key[rows]))]
    return order


def chunk_ranges(users_per_account: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Split accounts 0..n-1 into consecutive (lo, hi) ranges of at most `limit` users each (an
    account with more users than that is a range of its own)."""
    ranges, lo, total = [], 0, 0
    for i, n in enumerate(np.asarray(users_per_account).tolist()):
        if i > lo and total + n > limit:
            ranges.append((lo, i))
            lo, total = i, 0
        total += n
    ranges.append((lo, len(users_per_account)))
    return ranges
