"""Outliers planted by the simulation (imperfections that change behaviour, so the events still agree
with the tables): a few done tasks drag on past a threshold, a few tasks get far-future due dates.
Each kind draws from its own stream, so changing one rate never moves the other's rows; counts are
quotas per account, so they add up to the target share across accounts."""

from __future__ import annotations

import numpy as np

from ..params import Params
from ..streams import AccountDraws
from ..units import DAY, to_us
from .accounts import Block
from .arrays import group_rank
from .sessions import Sessions

NONE = -1
# Planted long cycles run 1.05 + a Rayleigh(STRETCH_SCALE) multiple of the threshold: few just above it
# (where the natural tail of parked tasks already is), most 1.3-2.3x, a thinning tail: with the natural
# tail the density above the threshold keeps falling instead of a flat bump (as a uniform stretch made).
STRETCH_SCALE = 0.7


def _quota(share: float, of: np.ndarray, natural: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per account: how many rows to plant so that planted + natural = share x of, rounded up or
    down at random (odds by the fraction), so counts add up to the share across accounts."""
    x = share * of - natural
    base = np.floor(np.maximum(x, 0.0))
    return np.where(x > 0, base + (u < x - base), 0).astype(np.int64)


def plant_long_cycles(
    params: Params, block: Block, acct: np.ndarray, ses: Sessions, holder, t_started, t_done
) -> np.ndarray:
    """New completion times (or -1) for done tasks chosen to take longer than the threshold.

    The share is of done tasks of each account, natural long ones included. Candidates are taken
    in a random order: each is completed by its holder in their first session after started +
    threshold x stretch (anywhere in that session), the stretch drawn by _stretch (up to 2.5, or what
    the window holds in a shorter window); one whose holder has no session left then keeps its normal
    completion, and the next candidate is taken instead.
    """
    out = params.imperfections.outliers
    threshold = out.long_cycle_threshold_days * DAY
    n_acc = len(block)
    draws = AccountDraws(params.seed, "outliers", 2 * (block.accounts + 1))
    done = t_done >= 0
    natural = done & (t_done - t_started > threshold)
    quota = _quota(
        out.long_cycle_share,
        np.bincount(acct[done], minlength=n_acc),
        np.bincount(acct[natural], minlength=n_acc),
        draws.random(np.ones(n_acc, np.int64)),
    )
    new = np.full(len(t_done), NONE, dtype=np.int64)
    cand = np.flatnonzero(done & ~natural)
    c_acct = acct[cand]
    c_counts = np.bincount(c_acct, minlength=n_acc)
    key = draws.random(c_counts)  # candidates are taken in the order of this key
    # up to 2.5x the threshold; in a window too short for that, up to what the window holds
    longest = float(np.clip((params.window.days - 1) / out.long_cycle_threshold_days, 1.06, 2.5))
    stretch = _stretch(draws.random(c_counts), longest)
    got = np.zeros(n_acc, dtype=np.int64)
    lo = np.zeros(n_acc)
    for round_ in range(64):  # each round takes the next slice of keys, twice as wide as needed (and growing)
        need = quota - got
        width = np.where(need > 0, (2 * need + 4) / np.maximum(c_counts, 1) * 2.0**round_, 0.0)
        hi = np.where(need > 0, np.minimum(lo + width, 1.0), lo)
        rows = np.flatnonzero((key >= lo[c_acct]) & (key < hi[c_acct]))
        if not (hi > lo).any():
            break
        rows = rows[np.lexsort((key[rows], c_acct[rows]))]
        nominal = t_started[cand[rows]] + to_us(threshold * stretch[rows])
        where = draws.random(np.bincount(c_acct[rows], minlength=n_acc))
        t = ses.snap(holder[cand[rows]], nominal, where=where)
        ok = rows[t >= 0]
        t = t[t >= 0]
        keep = group_rank(c_acct[ok]) < need[c_acct[ok]]  # successes in key order, per account
        new[cand[ok[keep]]] = t[keep]
        got += np.bincount(c_acct[ok[keep]], minlength=n_acc)
        lo = hi
    return new


def _stretch(u: np.ndarray, longest: float) -> np.ndarray:
    """Multiples of the threshold at uniforms u: 1.05 + Rayleigh(STRETCH_SCALE), truncated at `longest`
    (inverse CDF of the truncated distribution, so every u gives a stretch in [1.05, longest])."""
    span = max(longest - 1.05, 0.0)
    top = -np.expm1(-0.5 * (span / STRETCH_SCALE) ** 2)  # the Rayleigh CDF at the truncation
    return 1.05 + STRETCH_SCALE * np.sqrt(-2.0 * np.log1p(-u * top))


def plant_far_due_dates(params: Params, block: Block, acct: np.ndarray, created, due) -> np.ndarray:
    """New due dates (or -1): tasks with a due date that get one far past the threshold (placeholders)."""
    out = params.imperfections.outliers
    threshold = out.far_due_threshold_days * DAY
    n_acc = len(block)
    draws = AccountDraws(params.seed, "outliers", 2 * (block.accounts + 1) + 1)
    natural = (due >= 0) & (due - created > threshold)
    quota = _quota(
        out.far_due_share,
        np.bincount(acct, minlength=n_acc),
        np.bincount(acct[natural], minlength=n_acc),
        draws.random(np.ones(n_acc, np.int64)),
    )
    cand = np.flatnonzero((due >= 0) & ~natural)
    c_acct = acct[cand]
    c_counts = np.bincount(c_acct, minlength=n_acc)
    key = draws.random(c_counts)  # the quota's candidates: those with the smallest keys in their account
    few = key < np.minimum(1.0, (4 * quota + 8) / np.maximum(c_counts, 1))[c_acct]
    if (np.bincount(c_acct[few], minlength=n_acc) < quota).any():  # rare: the slice was too narrow
        few[:] = True
    rows = np.flatnonzero(few)
    rows = rows[np.lexsort((key[rows], c_acct[rows]))]
    pick = cand[rows][group_rank(c_acct[rows]) < quota[c_acct[rows]]]
    stretch = draws.uniform(1.05, 4.0, np.bincount(acct[pick], minlength=n_acc))
    new = np.full(len(due), NONE, dtype=np.int64)
    new[pick] = ((created[pick] + to_us(threshold * stretch)) // DAY + 1) * DAY
    return new
