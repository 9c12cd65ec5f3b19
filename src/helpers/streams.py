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
    "test_workspaces": 12,
    "newcomers": 13,
    "deactivation": 14,
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
    return choice_from_u(rng.random(size), weights)


def choice_from_u(u: np.ndarray, weights) -> np.ndarray:
    """Indices with the given (unnormalised) weights at uniforms u (the inverse of their CDF)."""
    w = np.asarray(weights, dtype=float)
    cdf = np.cumsum(w / w.sum())
    cdf[-1] = 1.0
    return np.searchsorted(cdf, u, side="right").astype(np.int64)


def poisson_from_u(lam: float, u: np.ndarray) -> np.ndarray:
    """Poisson(lam) counts from uniforms, by inversion of the CDF (lam is one rate for all rows)."""
    k = np.arange(int(lam + 12 * np.sqrt(lam) + 30))
    if lam > 0:
        log_pmf = k * np.log(lam) - lam - np.cumsum(np.r_[0.0, np.log(k[1:])])
    else:
        log_pmf = np.where(k == 0, 0.0, -np.inf)
    cdf = np.cumsum(np.exp(log_pmf))
    cdf[-1] = 1.0
    return np.searchsorted(cdf, u, side="right").astype(np.int64)


def log_scale_count(lo: int, hi: int, u: np.ndarray) -> np.ndarray:
    """Map u in [0, 1] onto integers lo..hi on a log scale: most values are small, a few large."""
    span = hi - lo + 1
    return np.minimum(lo + np.floor(np.power(float(span), u)).astype(np.int64) - 1, hi)


def truncated_exponential(rng: np.random.Generator, mean_us: float, limit_us: np.ndarray) -> np.ndarray:
    """Exponential(mean) lags conditioned on being below limit (per element), by inverse CDF."""
    return truncated_exponential_from_u(rng.random(np.shape(limit_us)), mean_us, limit_us)


def truncated_exponential_from_u(u: np.ndarray, mean_us: float, limit_us: np.ndarray) -> np.ndarray:
    """The inverse CDF of `truncated_exponential` at uniforms u."""
    limit = np.maximum(np.asarray(limit_us).astype(float), 1.0)
    return np.floor(-mean_us * np.log1p(-u * -np.expm1(-limit / mean_us))).astype(np.int64)


class DrawColumns:
    """Per-row draws in a matrix whose columns have names (one row per user, task, ...): `u.role` is
    the column drawn for the role. Drawing every column for every row keeps each decision's numbers
    where they are whatever other decisions do."""

    def __init__(self, matrix: np.ndarray, names: tuple[str, ...]) -> None:
        if matrix.shape[1:] != (len(names),):
            raise ValueError(f"{matrix.shape[1:]} columns drawn for {len(names)} names")
        self._matrix, self._index = matrix, {name: i for i, name in enumerate(names)}

    def __getitem__(self, name: str) -> np.ndarray:
        return self._matrix[:, self._index[name]]

    def rows(self, index: np.ndarray) -> DrawColumns:
        """The draws of the rows at `index`, the same names."""
        return DrawColumns(self._matrix[index], tuple(self._index))

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no draw named {name!r}") from None


class AccountDraws:
    """One stream's generators for a run of accounts, drawn as if each account were alone.

    Every draw takes per-account counts and returns the concatenation of each account's own draw
    (account order), so a block of accounts vectorises the logic while each account still consumes
    exactly the numbers it would consume by itself: content never depends on how accounts are
    grouped into blocks or scheduled on workers. Row-aligned arguments (`rows_*`) are sliced per
    account.
    """

    def __init__(self, seed: int, name: str, keys) -> None:
        self.gens = [stream(seed, name, int(k)) for k in keys]

    @classmethod
    def of(cls, gens: list[np.random.Generator]) -> AccountDraws:
        """Continue drawing from existing generators (one per account)."""
        self = cls.__new__(cls)
        self.gens = list(gens)
        return self

    def _each(self, counts, f, *rows) -> np.ndarray:
        counts = np.asarray(counts, dtype=np.int64)
        if len(counts) != len(self.gens):
            raise ValueError(f"{len(counts)} counts for {len(self.gens)} accounts")
        ends = np.cumsum(counts)
        pieces = []
        for g, c, end in zip(self.gens, counts.tolist(), ends.tolist(), strict=True):
            if c:
                pieces.append(f(g, c, *(r[end - c : end] for r in rows)))
        if not pieces:
            return f(self.gens[0] if self.gens else np.random.default_rng(0), 0, *(r[:0] for r in rows))
        return np.concatenate(pieces)

    def random(self, counts, cols: int | None = None) -> np.ndarray:
        return self._each(counts, lambda g, c: g.random(c if cols is None else (c, cols)))

    def uniform(self, low: float, high: float, counts) -> np.ndarray:
        return self._each(counts, lambda g, c: g.uniform(low, high, c))

    def normal(self, loc: float, scale: float, counts, cols: int | None = None) -> np.ndarray:
        return self._each(counts, lambda g, c: g.normal(loc, scale, c if cols is None else (c, cols)))

    def lognormal(self, median: float, sigma: float, counts, cols: int | None = None) -> np.ndarray:
        """median * exp(sigma * N(0,1)), as `lognormal` above."""
        return self._each(counts, lambda g, c: lognormal(g, median, sigma, c if cols is None else (c, cols)))

    def exponential(self, scale: float, counts) -> np.ndarray:
        return self._each(counts, lambda g, c: g.exponential(scale, c))

    def triangular(self, left: float, mode: float, right: float, counts) -> np.ndarray:
        return self._each(counts, lambda g, c: g.triangular(left, mode, right, c))

    def poisson(self, lam, counts) -> np.ndarray:
        """Poisson draws; `lam` is a scalar or one rate per row."""
        if np.ndim(lam) == 0:
            return self._each(counts, lambda g, c: g.poisson(lam, c))
        return self._each(counts, lambda g, c, rows_lam: g.poisson(rows_lam), np.asarray(lam))
