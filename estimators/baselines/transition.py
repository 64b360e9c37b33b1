"""The EP of data with odd variables from a fitted transition: ``ln T(z'|z) / T(eps z|eps z')``. NumPy only.

Why. With odd variables the EP of a step, ``r - [q(z) + q(z')] / 2``
(``baselines.parity``), is the transition log-ratio
``ln T(z'|z) / T(eps z|eps z')`` plus terms that telescope along a
trajectory (their mean is zero in the steady state): the stationary density
does not enter the rate. ``GaussianParity`` fits ``T`` as a linear-Gaussian
transition, exact for linear forces; on a nonlinear force it is only a
baseline (a 2-D underdamped particle in a double well ``(x^2 - 1)^2`` with a
rotational force, EP 0.249: the Gaussian form read 0.133, -47 %; the pair
and parity networks, whose difference must resolve 0.0025 per step out of
0.3, read 0.007).

What. ``fit_polynomial_transition`` regresses the standardized step
``x' - x`` on cubic features of the pre-point ``x`` (``baselines.drift``):
``T(z'|z) = N(x' - x; phi(x) W, N)`` with the residual covariance ``N``;
``delta_s`` is its log-ratio per step (the constant cancels). Degree 1 is
the Gaussian form's transition (without its density's telescoping terms).
``choose_transition`` keeps the cubic only where its held-out
log-likelihood of transitions beats the linear one by ``MARGIN`` paired
standard errors (on a linear system the two agree within noise and the
linear one stays). Measured on the double well (1000 x 10^4 states at
dt = 0.01, half held out): cubic 0.2525 +- 0.0043 against 0.2488 +- 0.0009
(+1.5 %); the quartic trap ``r^4 / 4``: 0.2298 +- 0.0043 against 0.2233 +-
0.0025; the linear Gaussian form 0.133 and 0.226.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ..data.odd import parity_signs
from ..stats.uncertainty import mean_stderr
from .currents import iter_pairs
from .drift import drift_features, feature_count

__all__ = ["PolynomialTransition", "fit_polynomial_transition", "choose_transition", "MARGIN"]

_PAIRS_PER_CHUNK = 1 << 16

#: The cubic transition replaces the linear one when its held-out log-likelihood is higher by this many
#: paired standard errors (as ``training.start.MARGIN`` for the current network's cubic start).
MARGIN = 2.0


def _linear_features(z: np.ndarray) -> np.ndarray:
    return np.hstack([np.ones((z.shape[0], 1)), z])


def _parts(states) -> tuple:
    return states if isinstance(states, tuple) else (states,)


@dataclasses.dataclass(frozen=True)
class PolynomialTransition:
    """``T(z'|z) = N(x' - x; phi(x) W, N)`` in standardized coordinates ``x = (z - mean) / std``.

    Attributes
    ----------
    odd : tuple of int
    degree : int
        1 (``phi = (1, x)``) or 3 (``baselines.drift.drift_features``).
    mean, std : numpy.ndarray (d,)
        Standardization (the odd columns' mean is 0, so ``eps`` commutes with it).
    weights : numpy.ndarray (p, d)
    noise : numpy.ndarray (d, d)
        Residual covariance of the standardized step.
    pairs : int
        Training pairs.
    """

    odd: tuple
    degree: int
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    noise: np.ndarray
    pairs: int

    @property
    def name(self) -> str:
        return "gaussian_transition" if self.degree == 1 else "cubic_transition"

    @functools.cached_property
    def _whitening(self) -> np.ndarray:
        """``W`` with ``W^T W = N^-1``: residuals times ``W^T`` are white (computed once, not per call)."""
        return np.linalg.cholesky(np.linalg.inv(0.5 * (self.noise + self.noise.T))).T

    def _features(self, x: np.ndarray) -> np.ndarray:
        return _linear_features(x) if self.degree == 1 else drift_features(x)

    def log_transition(self, z: np.ndarray, z_next: np.ndarray) -> np.ndarray:
        """``ln T(z'|z)`` per pair ``(n, d), (n, d) -> (n,)``, up to a constant."""
        x = (np.asarray(z, np.float64) - self.mean) / self.std
        y = (np.asarray(z_next, np.float64) - self.mean) / self.std
        residual = y - x - self._features(x) @ self.weights
        white = residual @ self._whitening.T
        return -0.5 * np.sum(white * white, axis=-1)

    def delta_s(self, states: np.ndarray) -> np.ndarray:
        """``ln T(z'|z) - ln T(eps z|eps z')`` per step of ``(M, L, d)``: float64 ``(M, L-1)``."""
        z = np.asarray(states)
        eps = parity_signs(self.odd, z.shape[-1], np.float64)
        out = np.empty(z.shape[:-1][:-1] + (z.shape[-2] - 1,))
        for m in range(z.shape[0]):
            a, b = np.asarray(z[m, :-1], np.float64), np.asarray(z[m, 1:], np.float64)
            out[m] = self.log_transition(a, b) - self.log_transition(b * eps, a * eps)
        return out

    def log_likelihood(self, states: np.ndarray) -> np.ndarray:
        """``ln T(z'|z)`` with its normalization, per step of ``(M, L, d)``: float64 ``(M, L-1)``."""
        z = np.asarray(states)
        _, logdet = np.linalg.slogdet(self.noise)
        const = -0.5 * (logdet + z.shape[-1] * np.log(2.0 * np.pi))
        return np.stack([self.log_transition(z[m, :-1], z[m, 1:]) + const for m in range(z.shape[0])])


def fit_polynomial_transition(states, odd, degree: int = 3, *, mean=None, std=None) -> PolynomialTransition:
    """Fit ``PolynomialTransition`` of ``degree`` (1 or 3) to trajectories ``(M, L, d)`` by least squares.

    ``mean``, ``std``: the standardization (default: the states', the odd columns' mean set to 0).
    """
    if degree not in (1, 3):
        raise ValueError(f"degree must be 1 or 3, got {degree!r}")
    parts = _parts(states)
    d = int(parts[0].shape[-1])
    odd = tuple(int(i) for i in odd)
    if mean is None or std is None:
        flat = np.concatenate([np.asarray(p, np.float64).reshape(-1, d) for p in parts])
        mean, std = flat.mean(axis=0), flat.std(axis=0)
    mean = np.array([0.0 if i in odd else float(m) for i, m in enumerate(mean)])
    std = np.where(np.asarray(std, np.float64) > 0, np.asarray(std, np.float64), 1.0)
    features, p = (_linear_features, d + 1) if degree == 1 else (drift_features, feature_count(d))
    # Every pair in every moment (a subsampled Gram matrix, as baselines.drift uses, put 0.366 on the double
    # well where the full one gives 0.25: the position's residual is O(dt^1.5) and its precision O(dt^-3)).
    gram, cross, pairs = np.zeros((p, p)), np.zeros((p, d)), 0
    for x, y in iter_pairs(states, mean, std, _PAIRS_PER_CHUNK):
        psi = features(x)
        gram += psi.T @ psi
        cross += psi.T @ (y - x)
        pairs += x.shape[0]
    if pairs <= p:
        raise ValueError(f"too few steps ({pairs}) to fit a degree-{degree} transition in {d} dimensions")
    weights = np.linalg.lstsq(gram, cross, rcond=None)[0]
    noise = np.zeros((d, d))
    for x, y in iter_pairs(states, mean, std, _PAIRS_PER_CHUNK):  # the residuals themselves: no cancellation
        residual = y - x - features(x) @ weights
        noise += residual.T @ residual
    return PolynomialTransition(odd, degree, mean, std, weights, noise / pairs, pairs)


def choose_transition(fit_states, valid_states, odd) -> tuple[PolynomialTransition, dict]:
    """The linear or the cubic transition of ``fit_states``, by held-out log-likelihood on ``valid_states``.

    Returns the chosen transition and its record: ``transition`` (its name),
    ``gain`` (the cubic's mean log-likelihood lead per step) and
    ``gain_sigmas`` (in paired standard errors over the validation trajectories).
    """
    linear = fit_polynomial_transition(fit_states, odd, 1)
    try:
        cubic = fit_polynomial_transition(fit_states, odd, 3, mean=linear.mean, std=linear.std)
    except (ValueError, np.linalg.LinAlgError):
        return linear, {"transition": linear.name, "gain": None, "gain_sigmas": None}
    gain = cubic.log_likelihood(valid_states) - linear.log_likelihood(valid_states)
    error = mean_stderr(gain)
    sigmas = float(gain.mean() / error) if error > 0 else 0.0
    chosen = cubic if np.isfinite(sigmas) and sigmas > MARGIN else linear
    return chosen, {"transition": chosen.name, "gain": float(gain.mean()), "gain_sigmas": sigmas}
