"""Sampling error of every reported number: block bootstrap over the held-out data.

An EP rate is the slope of the ensemble-averaged cumulative EP (see
``stats.rates.ep_rate_from_cumulative``): a weighted mean of the per-step
estimates ``d[m, j]`` with the parabolic weights ``w_j`` of the slope
(``sum_j w_j = 1`` within each trajectory). Per-step EPs are correlated in
time (the system-entropy part telescopes), so entries are resampled in
*blocks*: whole held-out trajectories when there are at least
``MIN_TRAJECTORIES`` of them (independent by construction), else contiguous
time blocks of each trajectory, at least ``MIN_BLOCKS`` in all (a single long
trajectory is cut into 64). Time blocks are conservative when the per-step
EP carries a telescoping term (the system entropy ``-ln p``): each block
keeps its boundary terms, which in truth cancel between adjacent blocks, so
the error can be overstated by about ``sqrt(sum_b 2 var(ln p) w_b^2)``
(``tests/test_uncertainty.py`` bounds it), never understated.

Each block ``b`` keeps a few sums, and every statistic is a ratio of sums,
so one bootstrap replicate is a weighted sum of those per-block numbers:

* rate (per entry) ``sum_b A_b / sum_b W_b`` with ``A_b = sum_{j in b} w_j d[m, j]``,
  ``W_b = sum_{j in b} w_j`` (a ratio estimator: blocks of different weight
  are resampled correctly);
* lower bounds ``1 + J = 1 + <d> - <exp(-d)>`` and Donsker-Varadhan
  ``<d> - ln <exp(-d)>`` from ``sum d``, ``sum exp(-d)`` and the counts
  (``exp`` with a common shift: no overflow).

Replicates draw the blocks with replacement (multinomial counts, seeded):
the same ``seed`` and block layout give the same draws, so two estimates on
the same held-out data (seeds, data fractions) can be compared *paired*, their
difference's error free of the sampling noise they share. Float64
throughout: the rate is a difference of large sums near equilibrium.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = [
    "BlockStatistics",
    "Interval",
    "block_statistics",
    "bootstrap_replicates",
    "bootstrap_counts",
    "interval",
    "mean_stderr",
    "slope_weights",
    "MIN_BLOCKS",
    "MIN_TRAJECTORIES",
]

MIN_TRAJECTORIES = 32
MIN_BLOCKS = 64
_Z95 = 1.959963984540054


def slope_weights(k_total: int) -> np.ndarray:
    """Weights ``w_j`` (sum 1) with ``slope of mean cumulative = sum_j w_j d_j``, float64."""
    j = np.arange(k_total, dtype=np.float64)
    return 6.0 * (j + 1.0) * (k_total - j) / (k_total * (k_total + 1.0) * (k_total + 2.0))


@dataclasses.dataclass(frozen=True)
class BlockStatistics:
    """Per-block sums of one ``(M, K)`` array of per-entry EP estimates (see module doc).

    Attributes
    ----------
    slope, weight : array (B,)
        ``A_b`` and ``W_b`` of the rate's ratio estimator.
    count, total, exp_total : array (B,)
        Entries, ``sum d`` and ``sum exp(-d - shift)`` of each block.
    shift : float
        Common shift of the exponentials.
    by_trajectory : bool
        True when the blocks are whole trajectories, False for time blocks.
    """

    slope: np.ndarray
    weight: np.ndarray
    count: np.ndarray
    total: np.ndarray
    exp_total: np.ndarray
    shift: float
    by_trajectory: bool

    @property
    def n_blocks(self) -> int:
        return int(self.slope.size)

    def statistics(self, counts: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Rate (per entry), ``1 + J`` and DV for block multiplicities ``counts`` ((R, B); None: all once)."""
        if counts is None:
            counts = np.ones((1, self.n_blocks))
        n = counts @ self.count
        mean_d = (counts @ self.total) / n
        mean_e = (counts @ self.exp_total) / n
        with np.errstate(divide="ignore"):
            return {
                "rate": (counts @ self.slope) / (counts @ self.weight),
                "lower_bound_j": 1.0 + mean_d - np.exp(self.shift) * mean_e,
                "lower_bound_dv": mean_d - self.shift - np.log(mean_e),
            }


def block_statistics(delta_s: np.ndarray, min_blocks: int = MIN_BLOCKS,
                     min_trajectories: int = MIN_TRAJECTORIES) -> BlockStatistics:
    """Cut ``delta_s (M, K)`` (or ``(K,)``) into bootstrap blocks and sum within each (float64).

    A tuple of ``(M_i, K_i)`` arrays (a ragged set, ``data.sets``) is cut part
    by part on one rule (whole trajectories when there are
    ``min_trajectories`` in all), each trajectory's slope weighted by its
    length ``K_i``: the rate is then the time-weighted mean of the
    trajectories' slopes.
    """
    if isinstance(delta_s, tuple):
        return _ragged_block_statistics(delta_s, min_blocks, min_trajectories)
    d = np.asarray(delta_s, dtype=np.float64)
    if d.ndim == 1:
        d = d[None]
    if d.ndim != 2 or d.shape[0] < 1 or d.shape[1] < 1:
        raise ValueError(f"delta_s must have shape (M, K) with K >= 1, got {np.shape(delta_s)}")
    if not np.all(np.isfinite(d)):
        raise ValueError("delta_s holds NaN or infinite values")
    m_count, k_total = d.shape
    by_trajectory = m_count >= min_trajectories
    pieces = 1 if by_trajectory else min(k_total, math.ceil(min_blocks / m_count))
    edges = np.linspace(0, k_total, pieces + 1).round().astype(int)
    w = slope_weights(k_total)
    shift = float(np.max(-d))
    cols = [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]
    slope = np.stack([d[:, c] @ w[c] for c in cols], axis=1).ravel()
    weight = np.tile([w[c].sum() for c in cols], m_count)
    count = np.tile([c.stop - c.start for c in cols], m_count).astype(np.float64)
    total = np.stack([d[:, c].sum(axis=1) for c in cols], axis=1).ravel()
    exp_total = np.stack([np.exp(-d[:, c] - shift).sum(axis=1) for c in cols], axis=1).ravel()
    return BlockStatistics(slope, weight, count, total, exp_total, shift, by_trajectory)


def _ragged_block_statistics(parts: tuple, min_blocks: int, min_trajectories: int) -> BlockStatistics:
    total_m = sum(np.shape(p)[0] for p in parts)
    by_trajectory = total_m >= min_trajectories
    per_trajectory = 1 if by_trajectory else math.ceil(min_blocks / total_m)
    pieces = [block_statistics(p, min_blocks=per_trajectory * np.shape(p)[0],
                               min_trajectories=1 if by_trajectory else np.shape(p)[0] + 1) for p in parts]
    shift = max(b.shift for b in pieces)
    lengths = [np.shape(p)[1] for p in parts]

    def cat(field, scale=None):
        return np.concatenate([getattr(b, field) * (1.0 if scale is None else scale(b, k))
                               for k, b in zip(lengths, pieces)])

    return BlockStatistics(cat("slope", lambda b, k: k), cat("weight", lambda b, k: k), cat("count"), cat("total"),
                           cat("exp_total", lambda b, k: np.exp(b.shift - shift)), shift, by_trajectory)


def bootstrap_counts(n_blocks: int, replicates: int = 2000, seed: int = 0):
    """Block multiplicities of the bootstrap, ``(r, n_blocks)`` float arrays, at most 500 rows at a time.

    The draws of ``bootstrap_replicates``: any other ratio of per-block sums
    computed with them (e.g. a TUR bound) is paired with its replicates.
    """
    if isinstance(replicates, bool) or int(replicates) < 2:
        raise ValueError(f"replicates must be an integer >= 2, got {replicates!r}")
    rng = np.random.default_rng(seed)
    b = int(n_blocks)
    for begin in range(0, int(replicates), 500):  # bounded memory: 500 x B counts at a time
        size = min(500, int(replicates) - begin)
        yield rng.multinomial(b, np.full(b, 1.0 / b), size=size).astype(np.float64)


def bootstrap_replicates(stats: BlockStatistics, replicates: int = 2000, seed: int = 0) -> dict[str, np.ndarray]:
    """``replicates`` bootstrap values of each statistic (blocks drawn with replacement, seeded)."""
    out: dict[str, list] = {}
    for counts in bootstrap_counts(stats.n_blocks, replicates, seed):
        for key, value in stats.statistics(counts).items():
            out.setdefault(key, []).append(value)
    return {key: np.concatenate(value) for key, value in out.items()}


@dataclasses.dataclass(frozen=True)
class Interval:
    """An estimate with its standard error and a normal interval ``value +- z stderr``.

    Attributes
    ----------
    value, stderr : float
    sampling_stderr : float
        The held-out sampling part of ``stderr`` (block bootstrap).
    seed_std : float or None
        The spread over seeds (std, ddof 1) that ``stderr`` includes; None
        with one seed.
    level : float
    training_stderr : float
        The part the fitted function inherits from its finite training data
        (see ``interval``); 0 when not estimated.
    """

    value: float
    stderr: float
    sampling_stderr: float
    seed_std: float | None
    level: float = 0.95
    training_stderr: float = 0.0

    @property
    def low(self) -> float:
        return self.value - _z(self.level) * self.stderr

    @property
    def high(self) -> float:
        return self.value + _z(self.level) * self.stderr

    def covers(self, value: float) -> bool:
        """Whether ``value`` lies in the interval."""
        return self.low <= value <= self.high

    def scaled(self, factor: float) -> "Interval":
        """The same interval in other units (``factor > 0``: e.g. ``1 / dt``)."""
        seed_std = None if self.seed_std is None else self.seed_std * factor
        return Interval(self.value * factor, self.stderr * factor, self.sampling_stderr * factor, seed_std,
                        self.level, self.training_stderr * factor)

    def as_dict(self) -> dict:
        return {"value": self.value, "stderr": self.stderr, "low": self.low, "high": self.high,
                "level": self.level, "sampling_stderr": self.sampling_stderr,
                "training_stderr": self.training_stderr, "seed_std": self.seed_std}


def _z(level: float) -> float:
    if level == 0.95:
        return _Z95
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2.0)


def interval(value: float, replicates: np.ndarray, seed_values=None, level: float = 0.95,
             train_share: float | None = None) -> Interval:
    """Combine the bootstrap spread of ``value`` with the training-data error and the spread over seeds.

    ``stderr = sqrt(sampling^2 + training^2 + seed_std^2)``.

    * ``sampling``: the bootstrap spread of the held-out estimate.
    * ``training = sampling * sqrt(train_share)`` with ``train_share`` the
      ratio held-out pairs / training pairs: the error the fitted function
      inherits from its finite training data, at the rate of an efficient
      fit. For the EP that rate equals the held-out one per pair: a fit of
      ``dS`` from n pairs errs in its mean by about ``Var(dS) / n``, and the
      held-out mean of n pairs by ``Var(dS) / n`` too (``Var(dS) = 2 <dS>``
      near equilibrium, the fluctuation theorem). Without it, a fit that
      follows its held-out sample closely (R^2 ~ 1) would claim that sample's
      error alone. A flexible network can err more: the data check and the
      seed spread say when. None: not included.
    * ``seed_std``: the seeds share the held-out data, so their spread is
      not sampling error; it measures how far one training run lands from
      another, a part of the error that averaging a few seeds does not
      remove (their common bias stays), so it is added whole, not divided by
      the number of seeds.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps[np.isfinite(reps)]
    sampling = float(np.std(reps, ddof=1)) if reps.size > 1 else float("nan")
    seed_std = None
    if seed_values is not None and len(seed_values) > 1:
        seed_std = float(np.std(np.asarray(seed_values, dtype=np.float64), ddof=1))
    training = 0.0 if train_share is None else sampling * math.sqrt(float(train_share))
    total = math.sqrt(sampling**2 + training**2 + (seed_std or 0.0) ** 2)
    return Interval(float(value), total, sampling, seed_std, level, training)


def mean_stderr(values: np.ndarray) -> float:
    """Standard error of the plain mean of ``values (M, K)`` over the same blocks (ratio estimator)."""
    stats = block_statistics(values)
    total, count = stats.total, stats.count
    if total.size < 2:
        return float("nan")
    mean = total.sum() / count.sum()
    spread = np.sum((total - mean * count) ** 2) * total.size / (total.size - 1)
    return float(np.sqrt(spread) / count.sum())
