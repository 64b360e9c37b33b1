"""The continuous-time EP rate from rates measured at several frame intervals: extrapolation to lag 0.

A Markov process recorded every ``tau`` loses information between frames:
the per-step KL divergence ``D(tau)`` between forward and reversed pairs is
at most ``sigma tau`` (data processing: the recorded pair is a coarse
graining of the path between the frames), and ``D(tau) / tau -> sigma`` as
``tau -> 0``. The rate per unit time measured at lag ``k`` (frames every
``k dt``) is therefore a lower bound that falls with the lag, smoothly:
``r(tau) = sigma + a tau + b tau^2 + ...`` for a diffusion.

``extrapolate_to_zero`` fits that polynomial in ``tau`` to the measured
rates, weighted by their errors, and reports its value at 0:

* degree: quadratic when three or more lags are given and its ``tau^2``
  coefficient differs from 0 by more than ``THRESHOLD`` standard errors,
  else linear (a smaller error when the curvature is not resolved); a
  single lag has no extrapolation.
* error: the intercept is a fixed linear combination ``a . r`` of the
  rates. With bootstrap replicates drawn with the same blocks at every lag
  (the same held-out trajectories, the same seed: ``stats.uncertainty``),
  the combination applied to each replicate gives the spread, which keeps
  the strong positive correlation between lags (all of them are the same
  data, subsampled); without replicates, ``sqrt(sum a_k^2 s_k^2)`` treats
  the lags as independent. With ``sum a_k = 1``, a noise shared by all lags
  passes whole, so independence understates the error when
  ``sum a_k^2 < 1`` (a linear fit over many lags) and overstates it when
  ``sum a_k^2 > 1`` (the quadratic through 1, 2, 4, 8: 2.6).
* what it does not contain: the error of the polynomial itself. On the
  exactly sampled two- and five-bead chains at dt = 0.1 the quadratic
  through lags 1, 2, 4, 8 misses the continuum rate by -0.2 % and -0.9 %
  with exact per-lag values (``tests/test_lags.py``); lags spanning a
  large drop of the rate (more than about half) call for more lags near 1.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .diagnostics import THRESHOLD

__all__ = ["LagExtrapolation", "extrapolate_to_zero", "parse_lags", "AUTO_LAGS"]

#: Lags of ``--lags auto`` (those that leave 10 steps per trajectory): on the exact bead chains at
#: dt = 0.1 the quadratic through them has a smaller bias than through 1, 2, 3, 4, 6, 8 (see module doc).
AUTO_LAGS = (1, 2, 4, 8)


def parse_lags(text: str, n_steps: int | None = None) -> tuple[int, ...]:
    """``"1,2,4,8"`` or ``"auto"`` as sorted distinct lags (``ValueError`` names what is wrong).

    ``n_steps``: the states per trajectory; ``auto`` keeps the lags that
    leave at least 10 steps per trajectory, and explicit lags must.
    """
    text = str(text).strip().lower()
    if text == "auto":
        lags = tuple(k for k in AUTO_LAGS if n_steps is None or (n_steps - 1) // k >= 10)
    else:
        try:
            lags = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
        except ValueError:
            raise ValueError(f"lags must be positive integers separated by commas (1,2,4,8) or auto, "
                             f"got {text!r}") from None
        if not lags or lags[0] < 1:
            raise ValueError(f"lags must be positive integers (1,2,4,8) or auto, got {text!r}")
        if n_steps is not None and (n_steps - 1) // lags[-1] < 10:
            raise ValueError(f"lag {lags[-1]} leaves fewer than 10 steps per trajectory of {n_steps} states")
    if len(lags) < 2:
        raise ValueError(f"give at least two lags to extrapolate (e.g. 1,2,4,8), got {text!r}")
    return lags


@dataclasses.dataclass(frozen=True)
class LagExtrapolation:
    """The rate extrapolated to lag 0 (``extrapolate_to_zero``).

    Attributes
    ----------
    value, stderr : float
        The extrapolated rate and its standard error.
    degree : int
        1 (linear in the lag) or 2 (quadratic).
    coefficients : tuple of float
        ``(sigma, a[, b])`` of ``r(tau) = sigma + a tau + b tau^2``.
    curvature_sigmas : float or None
        The quadratic coefficient over its error (None with two lags).
    paired : bool
        Whether the error comes from replicates paired across lags.
    """

    value: float
    stderr: float
    degree: int
    coefficients: tuple
    curvature_sigmas: float | None
    paired: bool

    def as_dict(self) -> dict:
        return {"value": self.value, "stderr": self.stderr, "low": self.value - 1.959963984540054 * self.stderr,
                "high": self.value + 1.959963984540054 * self.stderr, "degree": self.degree,
                "coefficients": list(self.coefficients), "curvature_sigmas": self.curvature_sigmas,
                "paired_error": self.paired}


def _operator(tau: np.ndarray, stderr: np.ndarray, degree: int) -> np.ndarray:
    """Rows: the linear combinations of the rates that give each coefficient (weighted least squares)."""
    x = np.vander(tau, degree + 1, increasing=True)
    w = 1.0 / stderr**2
    return np.linalg.solve(x.T @ (w[:, None] * x), x.T * w)


def _spread(op_row: np.ndarray, stderr: np.ndarray, replicates: np.ndarray | None) -> float:
    if replicates is not None:
        return float(np.std(replicates @ op_row, ddof=1))
    return float(np.sqrt(np.sum((op_row * stderr) ** 2)))


def extrapolate_to_zero(tau, rates, stderr, replicates=None) -> LagExtrapolation:
    """The rate at lag 0 from ``rates`` measured at intervals ``tau`` (module doc).

    Parameters
    ----------
    tau, rates, stderr : array (n,)
        Frame intervals (> 0), rates per unit time and their standard errors (> 0).
    replicates : array (r, n), optional
        Bootstrap replicates of the rates drawn with the same blocks at every lag.
    """
    tau, rates, stderr = (np.asarray(v, dtype=np.float64) for v in (tau, rates, stderr))
    if tau.ndim != 1 or tau.size < 2 or rates.shape != tau.shape or stderr.shape != tau.shape:
        raise ValueError("extrapolation needs at least two lags, with one rate and one error each")
    if not (np.all(tau > 0) and np.all(np.isfinite(rates)) and np.all(stderr > 0)):
        raise ValueError("lags must be > 0, rates finite and errors > 0")
    reps = None
    if replicates is not None:
        reps = np.asarray(replicates, dtype=np.float64)
        if reps.ndim != 2 or reps.shape[1] != tau.size:
            raise ValueError(f"replicates must have shape (r, {tau.size}), got {reps.shape}")
    curvature = None
    degree = 1
    if tau.size >= 3:
        quad = _operator(tau, stderr, 2)
        curvature = float(quad[2] @ rates) / _spread(quad[2], stderr, reps)
        degree = 2 if abs(curvature) > THRESHOLD else 1
    op = _operator(tau, stderr, degree)
    return LagExtrapolation(value=float(op[0] @ rates), stderr=_spread(op[0], stderr, reps), degree=degree,
                            coefficients=tuple(float(row @ rates) for row in op), curvature_sigmas=curvature,
                            paired=reps is not None)
