"""Localization noise: its size per coordinate, from the autocovariance of the increments, with its error.

Observed states ``y_t = x_t + eta_t`` with white noise ``eta`` of variance
``s^2`` per coordinate: the increments ``dy_t = y_{t+1} - y_t`` carry
``eta_{t+1} - eta_t``, so their autocovariance ``c_k = <dy_t dy_{t+k}>``
gets ``+2 s^2`` at lag 0, ``-s^2`` at lag 1 and nothing beyond. The dynamics
contribute at every lag, smoothly: for an Ornstein-Uhlenbeck mode with
``rho = exp(-a dt)``, ``c_k = -V (1 - rho)^2 rho^(k-1)``, which at lag 1 is
``-(a dt / 2)`` times the step variance, as large as the noise of a 12 %
step for the 2-bead chain at dt = 0.01. So ``-c_1`` alone is not the noise.
The second difference of the lags removes the smooth part to leading order:

    s^2 = 2 c_2 - c_1 - c_3       (dynamics leave V (1 - rho)^4, O((a dt)^3) of the step variance)

and the same combination one lag later, ``2 c_3 - c_2 - c_4``, holds no
noise: what the dynamics alone give there. Every lag uses the same products
``t = 0 .. K-5`` of each trajectory (``K`` increments), so a constant drift
cancels exactly (the coefficients sum to 0).

The error is that of the mean over independent blocks (whole trajectories
when there are at least ``MIN_BLOCKS`` of them, else pieces of time), so a
single long trajectory works too. Noise is *significant* when, in some
coordinate, all four hold:

* ``s^2 >= Z_DETECT`` standard errors for one coordinate, more for several
  (``detection_threshold(d)``: the same false-alarm chance, ~3e-7 for
  Gaussian errors, over all ``d`` coordinates together; 5.6 at d = 20.
  Measured: the clean 20-bead FPU chain, whose fast nonlinear modes leave a
  small positive residual in every hot coordinate, read 5.1 in one
  coordinate of 20 on one half of its data);
* the lag-1 spike stands out of the dynamics: ``s^2 - (2 c_3 - c_2 - c_4)``
  (the third difference, noise-only to a higher order) ``>= Z_SPIKE`` of its
  standard errors, so coarse frames of smooth dynamics do not pass;
* the lag-1 combination is ``SPIKE_FACTOR`` times what the dynamics give
  one lag later (``2 c_3 - c_2 - c_4 = s^2 - third difference``): for a
  mode with ``rho = exp(-a dt)`` their ratio is ``1 / rho``, so data whose
  fastest modes relax within about 1.4 frames (``a dt > ln 4``), where
  noise and dynamics look alike, are not called noisy (the 2-bead chain
  recorded every 0.3 was, in 20 of 20 seeds, before this rule);
* the noise matters: ``s / (rms noiseless step) >= MIN_RATIO``. Noise adds
  ``2 s^2`` to a step's variance; at ratio 0.05 that is 0.5 %, and the plain
  estimators' bias (roughly that share) is below their usual error.

Limits, measured on the 2-bead chain recorded exactly every dt (fastest mode
a = 3), 1000 x 10000 states: no false alarm in 20 seeds at dt = 0.01
(5 beads too) and in 5 seeds at dt = 0.1 and 0.3; 1 in 5 at dt = 0.5 and
5 in 5 at dt = 1, where the frames are longer than the relaxation and the
increments of a clean record are nearly those of white noise. At coarse
frames ``s^2`` also carries the dynamics' residual (at dt = 0.3 it reads
0.59 for a noise of 0.27 in the hot coordinate).

Memory: ``states`` may be memory-mapped; it is read in chunks of about
``chunk`` states (``baselines``-style), never whole. A tuple of arrays (the
parts of a ragged set, ``data.sets``) is pooled.
"""

from __future__ import annotations

import dataclasses
import math
import statistics

import numpy as np

from .uncertainty import MIN_BLOCKS

__all__ = ["NoiseEstimate", "estimate_noise", "detection_threshold", "Z_DETECT", "Z_SPIKE", "SPIKE_FACTOR", "MIN_RATIO", "LAGS"]

#: Standard errors of ``s^2`` above 0 to call noise detected.
Z_DETECT = 5.0
#: Standard errors of the third difference above 0 (the spike is at lag 1 only, not smooth dynamics).
Z_SPIKE = 3.0
#: The lag-1 combination over the same combination one lag later (dynamics only: 1 / rho).
SPIKE_FACTOR = 4.0
#: Noise std over the rms noiseless step below which noise is not worth a correction.
MIN_RATIO = 0.05
#: Lags used (0 for the step variance, 1..4 for the differences).
LAGS = 4
_STATES_PER_CHUNK = 1 << 20


def detection_threshold(d: int) -> float:
    """Standard errors of ``s^2`` that call noise detected in one of ``d`` coordinates.

    ``Z_DETECT`` for one; for more, the one-sided Gaussian tail of ``Z_DETECT``
    shared among them (Bonferroni), so the chance of a false alarm in a clean
    record does not grow with its dimension.
    """
    normal = statistics.NormalDist()
    return -normal.inv_cdf(normal.cdf(-Z_DETECT) / max(1, int(d)))


@dataclasses.dataclass(frozen=True)
class NoiseEstimate:
    """Localization noise per coordinate, estimated from the increments (see the module doc).

    Attributes
    ----------
    variance, variance_stderr : array (d,)
        ``s^2 = 2 c_2 - c_1 - c_3`` per coordinate (may be negative by chance) and its standard error.
    spike, spike_stderr : array (d,)
        The third difference ``-c_1 + 3 c_2 - 3 c_3 + c_4`` (also ``s^2``, without the dynamics'
        leading residual) and its standard error.
    step_variance : array (d,)
        Variance of the observed increments (``2 s^2`` of it is noise).
    blocks : int
        Independent blocks the errors come from.
    increments : int
        Products per lag used (all coordinates share them).
    """

    variance: np.ndarray
    variance_stderr: np.ndarray
    spike: np.ndarray
    spike_stderr: np.ndarray
    step_variance: np.ndarray
    blocks: int
    increments: int

    @property
    def std(self) -> np.ndarray:
        """Noise std per coordinate, ``sqrt(max(s^2, 0))``."""
        return np.sqrt(np.maximum(self.variance, 0.0))

    @property
    def std_stderr(self) -> np.ndarray:
        """Standard error of ``std`` (delta method; for ``s^2 <= SE`` it is ``sqrt(SE)``)."""
        return self.variance_stderr / (2.0 * np.maximum(self.std, np.sqrt(self.variance_stderr)))

    @property
    def clean_step_rms(self) -> np.ndarray:
        """rms of the noiseless step per coordinate, ``sqrt(step variance - 2 s^2)``."""
        return np.sqrt(np.maximum(self.step_variance - 2.0 * np.maximum(self.variance, 0.0), 1e-300))

    @property
    def ratio(self) -> np.ndarray:
        """Noise std over the rms noiseless step, per coordinate."""
        return self.std / self.clean_step_rms

    @property
    def significant_coordinates(self) -> np.ndarray:
        """Boolean (d,): the four criteria of the module doc."""
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(self.variance_stderr > 0, self.variance / self.variance_stderr, 0.0)
            z_spike = np.where(self.spike_stderr > 0, self.spike / self.spike_stderr, 0.0)
        z_detect = detection_threshold(self.variance.size)
        later = np.maximum(self.variance - self.spike, 0.0)  # 2 c_3 - c_2 - c_4: the dynamics alone
        return ((z >= z_detect) & (z_spike >= Z_SPIKE) & (self.variance >= SPIKE_FACTOR * later)
                & (self.ratio >= MIN_RATIO))

    @property
    def significant(self) -> bool:
        """Whether the noise is significant in some coordinate."""
        return bool(np.any(self.significant_coordinates))

    def describe(self) -> str:
        """One line: the noise std per coordinate, its error and its ratio to the step."""
        parts = ", ".join(f"{s:.3g} +- {e:.1g} ({100 * r:.0f} % of the step)"
                          for s, e, r in zip(self.std, self.std_stderr, self.ratio))
        verdict = "significant" if self.significant else "not significant"
        return f"localization noise std per coordinate: {parts}; {verdict}"

    def as_dict(self) -> dict:
        return {"std": self.std.tolist(), "std_stderr": self.std_stderr.tolist(),
                "variance": self.variance.tolist(), "variance_stderr": self.variance_stderr.tolist(),
                "ratio_to_step": self.ratio.tolist(), "step_rms": self.clean_step_rms.tolist(),
                "significant_coordinates": self.significant_coordinates.tolist(),
                "significant": self.significant, "blocks": self.blocks, "increments": self.increments}


def _block_sums(states: np.ndarray, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """Per block: counts ``(B,)`` and sums ``(B, 6, d)`` of dy, dy^2, and dy_t dy_{t+k} (k = 1..4)."""
    m_count, length, d = states.shape
    usable = length - 1 - LAGS  # products t = 0 .. K-5
    if usable < 1:
        return np.zeros(0), np.zeros((0, 2 + LAGS, d))
    pieces = 1 if m_count >= MIN_BLOCKS else min(usable, math.ceil(MIN_BLOCKS / m_count))
    edges = np.linspace(0, usable, pieces + 1).round().astype(int)
    rows = max(1, chunk // max(1, length))
    counts, sums = [], []
    for m0 in range(0, m_count, rows):
        m1 = min(m_count, m0 + rows)
        for t0, t1 in zip(edges[:-1], edges[1:]):
            # states t0 .. t1 + LAGS give increments t0 .. t1 + LAGS - 1: products t0 .. t1 - 1
            for s0 in range(t0, t1, max(1, chunk // (m1 - m0))):
                s1 = min(t1, s0 + max(1, chunk // (m1 - m0)))
                x = np.asarray(states[m0:m1, s0 : s1 + LAGS + 1], dtype=np.float64)
                dy = np.diff(x, axis=1)
                n = s1 - s0
                head = dy[:, :n]
                part = np.stack([head.sum(axis=1), (head * head).sum(axis=1)]
                                + [(head * dy[:, k : k + n]).sum(axis=1) for k in range(1, LAGS + 1)], axis=1)
                if s0 == t0:
                    sums.append(part)
                    counts.append(np.full(m1 - m0, float(n)))
                else:
                    sums[-1] = sums[-1] + part
                    counts[-1] = counts[-1] + n
    return np.concatenate(counts), np.concatenate(sums)


def _mean_and_stderr(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ratio estimate ``sum values / sum counts`` over blocks ``(B, d)`` and its standard error."""
    total = counts.sum()
    mean = values.sum(axis=0) / total
    blocks = counts.size
    resid = values - counts[:, None] * mean
    var = (resid * resid).sum(axis=0) / (total * total) * blocks / max(1, blocks - 1)
    return mean, np.sqrt(var)


def estimate_noise(states, *, chunk: int = _STATES_PER_CHUNK) -> NoiseEstimate:
    """Estimate white localization noise per coordinate from continuous states (see the module doc).

    Parameters
    ----------
    states : array (M, L, d) or tuple of such arrays
        Float states, memory-mapped is fine (read in chunks); a tuple of parts
        for a ragged set (parts shorter than 6 states contribute nothing).
    chunk : int
        About this many states are read at a time.

    Returns
    -------
    NoiseEstimate

    Raises
    ------
    ValueError
        Not float ``(M, L, d)`` states, or fewer than 6 states in every trajectory.
    """
    parts = states if isinstance(states, tuple) else (states,)
    counts, sums = [], []
    for part in parts:
        if getattr(part, "ndim", None) != 3 or not np.issubdtype(part.dtype, np.floating):
            raise ValueError(f"noise estimation needs float states (M, L, d), got {getattr(part, 'shape', part)}")
        c, s = _block_sums(part, int(chunk))
        counts.append(c)
        sums.append(s)
    count, total = np.concatenate(counts), np.concatenate(sums)
    if count.size == 0 or count.sum() < 2:
        raise ValueError(f"noise estimation needs trajectories of at least {LAGS + 2} states")
    mean_dy, _ = _mean_and_stderr(total[:, 0], count)
    second, _ = _mean_and_stderr(total[:, 1], count)
    c1, c2, c3, c4 = (total[:, 1 + k] for k in range(1, LAGS + 1))
    variance, variance_se = _mean_and_stderr(2.0 * c2 - c1 - c3, count)
    spike, spike_se = _mean_and_stderr(-c1 + 3.0 * c2 - 3.0 * c3 + c4, count)
    return NoiseEstimate(variance=variance, variance_stderr=variance_se, spike=spike, spike_stderr=spike_se,
                         step_variance=second - mean_dy * mean_dy, blocks=int(count.size),
                         increments=int(count.sum()))
