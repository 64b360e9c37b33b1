"""A force-inference yardstick: the drift regressed on cubic features, turned into a current (NumPy only).

Why it is here. The current model starts at the closed-form *linear* current; on a
nonlinear force whose network correction does not learn (a 20-bead FPU chain: the
correction never beat the start, and the estimate was the linear one, 20 % low, with
no warning), something classical must be able to see the missing EP, or the underfit
check (``stats.diagnostics.check_baselines``) has nothing to compare with. A cubic
force polynomial fitted by J has ``d`` times as many coefficients as features
(``current_basis``: 35 420 for d = 20) and is out of reach; a regression of the
increments on the same features shares one Gram matrix among the ``d`` coordinates.

The estimator (overdamped dynamics with a constant diffusion matrix, even variables,
as the current baselines assume):

1. regress each increment ``dz_j`` on features ``psi(z_t)`` of the pre-point (Ito:
   unbiased for the drift per step ``a(z)``): ``1``, ``z``, every quadratic
   monomial, and the cubic ones with at most two distinct coordinates
   (``z_i^3``, ``z_i^2 z_k``); for ``d`` <= 5 every cubic monomial. The
   Gram matrix of the features comes from a time-strided subset of the states
   (neighbouring states carry almost the same features); the cross moments with
   the increments use every pair (they carry the noise average);
2. the noise covariance per step ``N`` is the residual covariance of the
   increments, ``2 D dt``;
3. the EP of a step is the Stratonovich heat over temperature,
   ``dS = 2 a(zbar)^T N^-1 dz`` (``f^T D^-1 dx``): the medium entropy, whose
   mean is the EP rate in a steady state with constant diffusion (the system
   entropy's change averages to zero). Not rescaled by J: J prefers the total
   EP's smaller fluctuations, and the medium entropy alone would be shrunk
   (by a third on the 2-bead chain).

An estimate, not a bound: exact in the limit of data when the force is a cubic
polynomial of that form and the diffusion constant (SFI's force inference with a
cubic basis does the same); the regression's noise, about ``p d / n`` per step
against an EP per step of ``sigma dt``, makes it noisy in high dimension. Features
``p = 1 + d + d(d+1)/2 + d^2`` (631 for d = 20).
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np

from .currents import iter_pairs, tall_times_small

__all__ = ["DriftCurrent", "drift_features", "monomial_features", "fit_drift_current", "feature_count",
           "FULL_CUBIC_FEATURES", "regression_moments", "noise_precision"]

#: Every cubic monomial while there are at most this many (d <= 5), else those with at most two coordinates.
FULL_CUBIC_FEATURES = 56
#: States (about, every k-th in time) that enter the features' Gram matrix.
GRAM_STATES = 1 << 19
_PAIRS_PER_CHUNK = 1 << 16
_TERM_BLOCK = 32


def _full_cubic(d: int) -> bool:
    return math.comb(d + 2, 3) <= FULL_CUBIC_FEATURES


def feature_count(d: int) -> int:
    """Number of features of ``drift_features`` for ``d`` coordinates."""
    return 1 + d + math.comb(d + 1, 2) + (math.comb(d + 2, 3) if _full_cubic(d) else d * d)


def drift_features(z: np.ndarray, buffer: np.ndarray | None = None) -> np.ndarray:
    """Features ``(n, feature_count(d))`` of standardized states ``(n, d)``: 1, z, quadratic, cubic (module doc).

    ``buffer``: a float64 array of at least ``n * feature_count(d)`` numbers to write into
    (chunked passes reuse one: a fresh block of this size per chunk costs more in page
    faults than the products).
    """
    n, d = z.shape
    p = feature_count(d)
    out = np.empty((n, p)) if buffer is None or buffer.size < n * p else buffer.ravel()[: n * p].reshape(n, p)
    out[:, 0] = 1.0
    out[:, 1 : d + 1] = z
    at = d + 1
    for i in range(d):  # z_i z_k, k >= i
        np.multiply(z[:, i : i + 1], z[:, i:], out=out[:, at : at + d - i])
        at += d - i
    if _full_cubic(d):
        for i, j, k in itertools.combinations_with_replacement(range(d), 3):
            out[:, at] = z[:, i] * z[:, j] * z[:, k]
            at += 1
    else:  # z_i^2 z_k for all i, k (z_i^3 at k = i)
        for i in range(d):
            np.multiply((z[:, i] * z[:, i])[:, None], z, out=out[:, at : at + d])
            at += d
    return out


def monomial_features(z: np.ndarray, terms: np.ndarray, buffer: np.ndarray | None = None) -> np.ndarray:
    """Monomials ``(n, q)`` of standardized states ``(n, d)``: ``terms (q, 3)`` index ``[1, z_0, ..., z_{d-1}]``.

    The layout of ``nn.layers.Monomials``: ``(0, 0, 0)`` is the constant,
    ``(i+1, 0, 0)`` is ``z_i``, ``(i+1, k+1, l+1)`` is ``z_i z_k z_l``.
    Computed by rows of ``(q, n)`` (gathering whole coordinates is a copy of
    contiguous memory; gathering columns of ``(n, d)`` was 10x slower), in
    blocks of terms; returned as its transposed view.
    """
    terms = np.asarray(terms)
    n, q = z.shape[0], terms.shape[0]
    padded = np.empty((z.shape[1] + 1, n))
    padded[0], padded[1:] = 1.0, z.T
    out = np.empty((q, n)) if buffer is None or buffer.size < n * q else buffer.ravel()[: n * q].reshape(q, n)
    for start in range(0, q, _TERM_BLOCK):
        block = terms[start : start + _TERM_BLOCK]
        rows = out[start : start + block.shape[0]]
        np.take(padded, block[:, 0], axis=0, out=rows)
        rows *= padded[block[:, 1]]
        rows *= padded[block[:, 2]]
    return out.T


@dataclasses.dataclass(frozen=True)
class DriftCurrent:
    """A fitted drift current ``dS = 2 a(zbar)^T N^-1 dz`` in standardized coordinates.

    Attributes
    ----------
    coefficients : array (p, d)
        Drift per step ``a(z) = drift_features(z) @ coefficients``.
    precision : array (d, d)
        ``2 N^-1``: twice the inverse noise covariance per step.
    mean, std : array (d,)
        Standardization the coefficients refer to.
    pairs : int
        Training pairs used.
    terms : array (p, 3) or None
        The features as ``monomial_features`` terms (``baselines.local``); None:
        ``drift_features``.
    hoods : tuple of tuple or None
        Per coordinate, the coordinates its drift's monomials are built from
        (``baselines.local``); None: all.
    """

    coefficients: np.ndarray
    precision: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    pairs: int
    terms: np.ndarray | None = None
    hoods: tuple | None = None

    def features(self, z: np.ndarray, buffer: np.ndarray | None = None) -> np.ndarray:
        """The regression's features of standardized states ``(n, d)``."""
        return drift_features(z, buffer) if self.terms is None else monomial_features(z, self.terms, buffer)

    def _step_ep(self, z0: np.ndarray, z1: np.ndarray, buffer: np.ndarray | None = None) -> np.ndarray:
        force = tall_times_small(self.features(0.5 * (z0 + z1), buffer), self.coefficients @ self.precision)
        return np.einsum("nj,nj->n", force, z1 - z0)

    def delta_s(self, states: np.ndarray) -> np.ndarray:
        """EP of every step of ``states (M, L, d)``, float64 ``(M, L-1)``."""
        if states.ndim != 3 or states.shape[2] != self.mean.size:
            raise ValueError(f"states must have shape (M, L, {self.mean.size}), got {states.shape}")
        buffer = np.empty(_PAIRS_PER_CHUNK * self.coefficients.shape[0])
        out = [self._step_ep(z0, z1, buffer) for z0, z1 in iter_pairs(states, self.mean, self.std, _PAIRS_PER_CHUNK)]
        return np.concatenate(out).reshape(states.shape[0], states.shape[1] - 1)


def _parts(states) -> tuple:
    return states if isinstance(states, tuple) else (states,)


def fit_drift_current(states, *, mean=None, std=None, midpoint: bool = False) -> DriftCurrent:
    """Fit the drift current of the module doc on all pairs of ``states`` (float64).

    ``states``: continuous ``(M, L, d)`` (memory-mapped is fine) or a tuple of
    such parts; ``mean``, ``std``: the standardization (default none).

    ``midpoint``: regress the increments on features of the *midpoint*
    instead of the pre-point. Given the midpoint, the mean increment is the
    local mean velocity ``v = j / p = f - D grad ln p`` per step (at
    equilibrium the pair is symmetric given its midpoint, and it is 0), not
    the drift ``f``; ``dS = 2 v^T N^-1 dz`` is then the total EP of the step
    (``v^T D^-1 o dx``), system entropy included, and in the Kronecker
    approximation of the currents' second moments (``dz dz^T ~ N``) the
    current of the span that maximizes J. The drift's medium entropy has the
    same mean but far larger fluctuations: on the 6-bead FPU chain recorded
    every 0.001 its held-out ``1 + J`` was -56 per unit time, the velocity
    current's 1.89 (mean 2.015; exact 1.994) and the linear J-current's 1.60
    (``training.start`` starts the current network there).
    """
    d = _parts(states)[0].shape[2]
    mean = np.zeros(d) if mean is None else np.asarray(mean, dtype=np.float64)
    std = np.ones(d) if std is None else np.asarray(std, dtype=np.float64)
    p = feature_count(d)
    gram, cross, second, total = regression_moments(states, drift_features, p, mean=mean, std=std, midpoint=midpoint)
    ridge = 1e-10 * max(float(np.trace(gram)) / p, 1e-300)
    coefficients = np.linalg.solve(gram + ridge * np.eye(p), cross)
    noise = second - coefficients.T @ gram @ coefficients  # residual covariance per step
    return DriftCurrent(coefficients, noise_precision(noise), mean, std, total)


def regression_moments(states, features, p: int, *, mean: np.ndarray, std: np.ndarray,
                       midpoint: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Moments of a regression of the increments on ``features(z, buffer) -> (n, p)``, float64.

    Returns the features' Gram matrix ``<psi psi^T>`` (from a time-strided
    subset of about ``GRAM_STATES`` states), ``<psi dz^T>`` and
    ``<dz dz^T>`` over every pair of ``states`` (standardized by
    ``mean``, ``std``; ``psi`` of the midpoint or the pre-point), and the
    number of pairs.
    """
    d = _parts(states)[0].shape[2]
    total = sum(x.shape[0] * (x.shape[1] - 1) for x in _parts(states))
    stride = max(1, round(total / GRAM_STATES))
    gram, gram_rows = np.zeros((p, p)), 0
    cross, second = np.zeros((p, d)), np.zeros((d, d))
    buffer = np.empty(_PAIRS_PER_CHUNK * p)
    for z0, z1 in iter_pairs(states, mean, std, _PAIRS_PER_CHUNK):
        psi, dz = features(0.5 * (z0 + z1) if midpoint else z0, buffer), z1 - z0
        cross += psi.T @ dz
        second += dz.T @ dz
        sub = psi[::stride]
        gram += sub.T @ sub
        gram_rows += sub.shape[0]
    return gram / gram_rows, cross / total, second / total, int(total)


def noise_precision(noise: np.ndarray) -> np.ndarray:
    """``2 N^-1`` of a residual covariance per step ``N`` (symmetrized, pseudo-inverse)."""
    return 2.0 * np.linalg.pinv(0.5 * (noise + noise.T))
