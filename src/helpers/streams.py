"""Random streams keyed by (seed, stream name, logical block), never by call order or worker.

A block is one account (or 0 for a table drawn in one piece, such as accounts). Two runs that
generate the same block in any order, on any worker, draw the same numbers.
"""

from __future__ import annotations

import numpy as np

# Stable numbers for stream names: never renumber, only append.
STREAM_IDS = {
    "accounts": 1,
    "users": 2,
    "sessions": 3,
    "projects": 4,
    "tasks": 5,
    "events": 6,
    "names": 7,
    "archive": 8,
    "internal": 9,
    "imperfections": 10,
    "outliers": 11,
}


def stream(seed: int, name: str, block: int = 0) -> np.random.Generator:
    """The generator for one (stream, block); the same arguments always give the same numbers."""
    seq = np.random.SeedSequence(entropy=seed, spawn_key=(STREAM_IDS[name], int(block)))
    return np.random.Generator(np.random.PCG64(seq))


def lognormal(rng: np.random.Generator, median: float, sigma: float, size) -> np.ndarray:
    """median * exp(sigma * N(0,1)); sigma 0 gives the median exactly."""
    return rng.lognormal(mean=float(np.log(median)), sigma=sigma, size=size)


def choice_index(rng: np.random.Generator, weights, size) -> np.ndarray:
    """Indices drawn with the given (unnormalised) weights."""
    w = np.asarray(weights, dtype=float)
    cdf = np.cumsum(w / w.sum())
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(size), side="right").astype(np.int64)
