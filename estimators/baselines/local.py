"""The velocity current on local cubic features: each coordinate's drift from the coordinates it is coupled to.

Why. The cubic velocity current (``baselines.drift``, ``midpoint=True``) shares
one feature set among all ``d`` outputs: ``p = 1 + d + d(d+1)/2 + d^2`` features,
``p d`` coefficients (12 620 for d = 20). Each coefficient's regression noise adds
to the EP of a step about ``1 / n`` (n pairs), so in 20 dimensions the noise
outweighs what the cubic terms add: on the 20-bead FPU chain (EP 0.006 per step,
2 million training pairs) its held-out ``1 + J`` was 0.11 per unit time against
the linear current's 0.44, and the network kept the linear start, 22 % low.

What. Many-body forces are mostly few-body: a bead feels its neighbours. The
linear current (``baselines.currents``, fitted anyway) says which coordinates
each output depends on: output ``j``'s *hood* is ``j`` and every ``k`` whose
coefficient ``|K_kj|`` is at least ``COUPLING`` of the output's largest. The
drift of ``j`` is then regressed on every monomial of degree <= 3 of its hood's
coordinates (all share one Gram matrix over the union of the hoods' monomials;
each output solves its own block). On the same chain: 837 coefficients, ``1 +
J`` 0.50 per unit time (11 paired errors above the linear current's 0.44) and a
mean of 0.535 (exact 0.597; at this frame interval the pairs hide part of it).
Where every hood is every coordinate (dense couplings, or d <= 5 where the full
cubic basis is used anyway) it adds nothing and is not fitted.
"""

from __future__ import annotations

import itertools

import numpy as np

from .drift import DriftCurrent, monomial_features, noise_precision, regression_moments

__all__ = ["COUPLING", "coupling_hoods", "local_terms", "fit_local_current"]

#: A coordinate is in an output's hood when its linear coefficient is at least this share of the output's largest.
COUPLING = 0.2


def coupling_hoods(kernel: np.ndarray, coupling: float = COUPLING) -> tuple[tuple[int, ...], ...]:
    """Per output ``j`` of a linear force ``F(z) = z @ kernel``: ``j`` and the coordinates coupled to it.

    ``kernel``: ``(d, d)``, in standardized coordinates (``LinearCurrent.kernel``).
    """
    kernel = np.abs(np.asarray(kernel, dtype=np.float64))
    if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1]:
        raise ValueError(f"kernel must be a square (d, d) array, got shape {kernel.shape}")
    largest = kernel.max(axis=0)
    largest[largest == 0] = 1.0
    share = kernel / largest
    return tuple(tuple(sorted({j, *np.flatnonzero(share[:, j] >= coupling).tolist()}))
                 for j in range(kernel.shape[0]))


def local_terms(hoods) -> tuple[np.ndarray, list[np.ndarray]]:
    """The union of the hoods' monomials (``monomial_features`` terms) and each output's rows in it.

    The union starts with the constant and ``z_0 .. z_{d-1}`` in order (every
    hood holds its own coordinate), then the higher monomials.
    """
    d = len(hoods)
    # each monomial as its indices in descending order: (a, 0, 0) is z_{a-1}, (a, b, 0) a product of two
    own = [[t[::-1] for t in itertools.combinations_with_replacement([0] + [k + 1 for k in sorted(hood)], 3)]
           for hood in hoods]
    higher = sorted({t for terms in own for t in terms if t[1] > 0})
    union = [(0, 0, 0)] + [(k + 1, 0, 0) for k in range(d)] + higher
    index = {t: i for i, t in enumerate(union)}
    rows = [np.array(sorted(index[t] for t in terms)) for terms in own]
    return np.array(union, dtype=np.int64), rows


def fit_local_current(states, hoods, *, mean=None, std=None) -> DriftCurrent:
    """The velocity current of each coordinate on the monomials of its hood (module doc), float64.

    ``states``: continuous ``(M, L, d)`` or a tuple of such parts; ``hoods``:
    ``coupling_hoods``; ``mean``, ``std``: the standardization. The increments
    are regressed on features of the midpoint, as in
    ``baselines.drift.fit_drift_current(midpoint=True)``.
    """
    d = len(hoods)
    mean = np.zeros(d) if mean is None else np.asarray(mean, dtype=np.float64)
    std = np.ones(d) if std is None else np.asarray(std, dtype=np.float64)
    terms, rows = local_terms(hoods)
    p = terms.shape[0]
    gram, cross, second, total = regression_moments(
        states, lambda z, buffer: monomial_features(z, terms, buffer), p, mean=mean, std=std, midpoint=True)
    coefficients = np.zeros((p, d))
    for j, r in enumerate(rows):
        block = gram[np.ix_(r, r)]
        ridge = 1e-10 * max(float(np.trace(block)) / r.size, 1e-300)
        coefficients[r, j] = np.linalg.solve(block + ridge * np.eye(r.size), cross[r, j])
    # Residual covariance per step, each output with its own fit: <(dz - B^T psi)(dz - B^T psi)^T>.
    noise = second - coefficients.T @ cross - cross.T @ coefficients + coefficients.T @ gram @ coefficients
    return DriftCurrent(coefficients, noise_precision(noise), mean, std, total, terms=terms,
                        hoods=tuple(tuple(h) for h in hoods))
