"""The closed-form current for continuous data: a linear (or polynomial) basis, fitted in float64.

For a pair of states ``(x, x')`` with midpoint ``xbar = (x + x') / 2`` and
displacement ``dx = x' - x`` (both in standardized coordinates
``z = (x - mean) / std``), a *linear current* assigns the EP

    dS = F(zbar) . dz,     F(z) = z @ K + b                      (Stratonovich)

that is ``dS = w . phi`` with the basis currents ``phi = (zbar_i dz_j, dz_j)``
(``d^2 + d`` of them). Two fits of ``w`` on training pairs, float64 throughout:

* ``"tur"``: the short-time thermodynamic uncertainty relation. Any current
  bounds the EP rate, ``sigma >= 2 <J>^2 / (dt Var J)``; over the span the
  best bound is ``2 mu^T Sigma^-1 mu / dt`` (``mu``, ``Sigma``: mean and
  covariance of ``phi``), reached by ``w = 2 Sigma^-1 mu``, which also makes
  ``<dS> = 2 mu^T Sigma^-1 mu``. One pass over the data.
* ``"j"`` (default): the NEEP objective ``J(w) = <w.phi - exp(-w.phi)>``
  maximized over the span (concave in ``w``: Newton's method started at the
  TUR solution, a few passes). It is what NEEP itself would find if its
  network were this span; it needs no short-time approximation.

Why this is worth having beside the networks: for overdamped dynamics with
linear forces (the bead-spring chain) the exact per-step EP of the
Euler-Maruyama chain is itself ``zbar^T M dz`` (a difference of quadratic
forms plus a bilinear heat term), so the span holds it exactly and the fit is
limited only by sampling error; for nonlinear forces it is the best linear
approximation and a lower bound in expectation. ``neep`` uses it to start the
current-ansatz network (``model="current"``) and as a yardstick.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator

import numpy as np

__all__ = ["LinearCurrent", "fit_linear_current", "current_basis", "basis_features", "basis_size", "iter_pairs",
           "maximize_newton", "tall_times_small"]

_PAIRS_PER_CHUNK = 1 << 18
#: Pairs (about; every k-th in time) that enter each Hessian and the TUR covariance of a wide basis.
#: The objective and its gradient use every pair, so the fixed point is the exact optimum of J over all
#: of them; the Hessian only steers the steps, and its sampling error (~ sqrt(p / n) relative) slows the
#: convergence by about that factor per step. In high dimension it is what costs: n p^2 for p = d^2 + d
#: basis currents (d = 20: 420, so 4.5 million pairs cost minutes per pass on two cores).
HESSIAN_PAIRS = 1 << 18
#: Bases at least this wide (d >= 16 for the linear current) use the subset.
WIDE_BASIS = 256
METHODS = ("j", "tur")


def basis_size(d: int, degree: int = 1) -> int:
    """Number of basis currents of ``current_basis`` for ``d`` coordinates and force degree ``degree``."""
    return d * sum(math.comb(d + g - 1, g) for g in range(degree + 1))


def basis_features(mid: np.ndarray, degree: int = 1) -> np.ndarray:
    """The force features ``(n, q)`` of midpoints ``(n, d)``: ``zbar_i``, 1, then the higher monomials.

    Every basis current is a feature times a displacement: ``current_basis`` is
    their outer product, feature-major, and a force ``F = features @ W`` with
    ``W = w.reshape(q, d)``. Monomials of degree 2..g with non-decreasing indices.

    Built feature-major (a ``(q, n)`` buffer, returned transposed): each monomial
    is one product of a lower one with a coordinate, written into a contiguous
    row; the passes' products read the transposed (contiguous) layout as it is.
    Per-column ``prod`` over fancy-indexed copies cost 3 of the README fit's 25 s.
    """
    n, d = mid.shape
    rows = {(i,): i for i in range(d)}
    combos = [c for g in range(2, int(degree) + 1) for c in itertools.combinations_with_replacement(range(d), g)]
    out = np.empty((d + 1 + len(combos), n))
    out[:d] = mid.T
    out[d] = 1.0
    for k, combo in enumerate(combos, start=d + 1):
        np.multiply(out[rows[combo[:-1]]], out[combo[-1]], out=out[k])
        rows[combo] = k
    return out.T


def current_basis(z0: np.ndarray, z1: np.ndarray, degree: int = 1) -> np.ndarray:
    """Basis currents of pairs ``(n, d)``: ``zbar_i dz_j`` (i, j), ``dz_j``, then higher monomials.

    Degree 1 (default): shape ``(n, d^2 + d)``, the linear current. Degree
    ``g > 1`` appends, for each degree 2..g, every monomial
    ``zbar_i zbar_k ...`` (indices non-decreasing) times every ``dz_j``:
    a force polynomial of degree ``g`` (``basis_size(d, g)`` columns).
    Passes over data use the features (``basis_features``) instead of this
    ``d`` times wider array.
    """
    return _outer(*_pieces(z0, z1, degree))


def _chunks(m_count: int, per: int, chunk: int) -> Iterator[tuple[int, int, int, int]]:
    """``(m0, m1, t0, t1)``: whole trajectories when short, pieces of one otherwise (~``chunk`` steps)."""
    rows = max(1, chunk // per)
    span = max(1, min(per, chunk))
    for m0 in range(0, m_count, rows):
        for t0 in range(0, per, span):
            yield m0, min(m_count, m0 + rows), t0, min(per, t0 + span)


def iter_pairs(states: np.ndarray, mean=None, std=None, chunk: int | None = None
               ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Consecutive pairs ``(z_t, z_t+1)`` of ``states (M, L, d)``, standardized, float64, in chunks.

    Chunk order: trajectories in blocks, each block along time (``_chunks``);
    memory stays at about ``chunk`` pairs whatever the file size. A tuple of
    parts (a ragged set) yields the pairs of each part in turn.
    """
    if isinstance(states, tuple):
        for part in states:
            yield from iter_pairs(part, mean, std, chunk)
        return
    m_count, length, d = states.shape
    mean = np.zeros(d) if mean is None else np.asarray(mean, dtype=np.float64)
    std = np.ones(d) if std is None else np.asarray(std, dtype=np.float64)
    for m0, m1, t0, t1 in _chunks(m_count, length - 1, chunk or _PAIRS_PER_CHUNK):
        z = np.array(states[m0:m1, t0 : t1 + 1], dtype=np.float64)  # a copy, standardized in place
        z -= mean
        z /= std
        yield z[:, :-1].reshape(-1, d), z[:, 1:].reshape(-1, d)


@dataclasses.dataclass(frozen=True)
class LinearCurrent:
    """A fitted linear current ``dS = (zbar @ kernel + bias) . dz`` in standardized coordinates.

    Attributes
    ----------
    kernel : array (d, d)
    bias : array (d,)
    mean, std : array (d,)
        Standardization ``z = (x - mean) / std`` the coefficients refer to.
    method : str
        ``"j"`` or ``"tur"``.
    objective : float
        Training-set ``J`` of the fit (per step).
    pairs : int
        Number of training pairs used.
    degree : int
        Degree of the force polynomial (1: linear; ``kernel`` and ``bias``
        are its linear part either way).
    higher : array (basis_size(d, degree) - d^2 - d,)
        Coefficients of the monomials of degree 2.. (empty for degree 1).
    """

    kernel: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    method: str
    objective: float
    pairs: int
    degree: int = 1
    higher: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    #: The fit's second moments of the basis currents (approximate -Hessian of J; warm starts reuse it)
    #: and its TUR solution w = 2 Sigma^-1 mu (``tur_baseline`` reuses it), when it computed them.
    second: np.ndarray | None = dataclasses.field(default=None, repr=False, compare=False)
    tur: np.ndarray | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def coefficients(self) -> np.ndarray:
        """``w`` of ``dS = w . current_basis(z, z', degree)``."""
        return np.concatenate([self.kernel.ravel(), self.bias, self.higher])

    def delta_s(self, states: np.ndarray) -> np.ndarray:
        """EP of every step of ``states (M, L, d)``, float64 ``(M, L-1)``."""
        states = np.asarray(states) if not isinstance(states, np.ndarray) else states
        if states.ndim != 3 or states.shape[2] != self.bias.size:
            raise ValueError(f"states must have shape (M, L, {self.bias.size}), got {states.shape}")
        w = self.coefficients
        m_count, per = states.shape[0], states.shape[1] - 1
        out = np.empty((m_count, per))
        for (m0, m1, t0, t1), (z0, z1) in zip(_chunks(m_count, per, _PAIRS_PER_CHUNK),
                                               iter_pairs(states, self.mean, self.std)):
            out[m0:m1, t0:t1] = _currents(z0, z1, w, self.degree).reshape(m1 - m0, t1 - t0)
        return out


def _solve(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``matrix^-1 vector`` with a tiny ridge (a constant coordinate makes the basis degenerate)."""
    p = matrix.shape[0]
    ridge = 1e-12 * max(float(np.trace(matrix)) / p, 1e-300)
    return np.linalg.lstsq(matrix + ridge * np.eye(p), vector, rcond=None)[0]


def _pair_count(states) -> int:
    return sum(p.shape[0] * (p.shape[1] - 1) for p in (states if isinstance(states, tuple) else (states,)))


def _stride(states, width: int, sampled: bool) -> int:
    """Every how many pairs enter the Hessian (and covariance): about ``HESSIAN_PAIRS`` of them, spread out.

    A stride in time within every chunk, not a subset of chunks: the subset must cover the
    slow modes (whole trajectories), or its second moments, and the Newton steps, are off.

    1 (every pair) for bases narrower than ``WIDE_BASIS`` (cheap), or when not ``sampled``.
    """
    if not sampled or width < WIDE_BASIS:
        return 1
    return max(1, round(_pair_count(states) / HESSIAN_PAIRS))


def _pieces(z0: np.ndarray, z1: np.ndarray, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Features of the midpoints and the displacements: the basis is their outer product (``_outer``)."""
    return basis_features(0.5 * (z0 + z1), degree), z1 - z0


def _outer(features: np.ndarray, dz: np.ndarray) -> np.ndarray:
    """The basis currents ``(n, q d)``: each feature times each displacement, feature-major."""
    return (features[:, :, None] * dz[:, None, :]).reshape(dz.shape[0], -1)


def tall_times_small(tall: np.ndarray, small: np.ndarray) -> np.ndarray:
    """``tall @ small`` for ``tall (n, q)`` with n >> q, as ``(small^T @ tall^T)^T``.

    The same numbers; OpenBLAS's kernel for a tall left factor and a small right one ran
    3-12x slower than the transposed product on the 2-core machine under load (262144 x 10
    times 10 x 2: 100 ms against 8 ms), and it is the inner product of every pass here.
    """
    return (small.T @ tall.T).T


def _currents(z0: np.ndarray, z1: np.ndarray, w: np.ndarray, degree: int) -> np.ndarray:
    """``current_basis(z0, z1, degree) @ w`` without building the basis (``n q`` numbers, not ``n q d``)."""
    features, dz = _pieces(z0, z1, degree)
    return np.einsum("nj,nj->n", tall_times_small(features, w.reshape(features.shape[1], dz.shape[1])), dz)


def _outer_sum(features: np.ndarray, dz: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """``sum_n weights_n (features_n outer dz_n)``, flattened as the basis (all weights 1 when None)."""
    return (features.T @ (dz if weights is None else dz * weights[:, None])).ravel()


def _moments(states, mean, std, degree=1, stride=1):
    """Pairs, mean of the basis currents (all pairs) and their covariance (every ``stride``-th pair)."""
    total, sum_phi, sum_outer, outer_rows, outer_sum = 0, 0.0, 0.0, 0, 0.0
    for z0, z1 in iter_pairs(states, mean, std):
        features, dz = _pieces(z0, z1, degree)
        total += dz.shape[0]
        sum_phi = sum_phi + _outer_sum(features, dz)
        phi = _outer(features[::stride], dz[::stride])
        if phi.shape[0]:
            sum_outer = sum_outer + phi.T @ phi
            outer_rows += phi.shape[0]
            outer_sum = outer_sum + phi.sum(axis=0)
    mu, mu_outer = sum_phi / total, outer_sum / outer_rows
    return total, mu, sum_outer / outer_rows - np.outer(mu_outer, mu_outer), sum_outer / outer_rows


def _j_pass(states, mean, std, w, degree=1, stride=1, hessian=True):
    """Objective J and its gradient at ``w`` over all pairs; the Hessian over every ``stride``-th pair.

    ``hessian=False``: ``(value, gradient)`` only (the basis is never built: a cheap pass).
    """
    total, value, grad, hess, hess_rows = 0, 0.0, np.zeros_like(w), np.zeros((w.size, w.size)), 0
    for z0, z1 in iter_pairs(states, mean, std):
        features, dz = _pieces(z0, z1, degree)
        s = np.einsum("nj,nj->n", tall_times_small(features, w.reshape(features.shape[1], dz.shape[1])), dz)
        e = np.exp(np.minimum(-s, 700.0))
        total += s.size
        value += float(np.sum(s - e))
        grad += _outer_sum(features, dz, 1.0 + e)
        if hessian:
            phi = _outer(features[::stride], dz[::stride])
            hess -= (phi * e[::stride, None]).T @ phi
            hess_rows += phi.shape[0]
    if not hessian:
        return value / total, grad / total
    return value / total, grad / total, hess / hess_rows


def maximize_newton(objective, w: np.ndarray, max_newton: int, *, gradient=None,
                    hessian: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Newton's method with step halving on a concave ``objective(w) -> (value, gradient, Hessian)``.

    Stops when the predicted gain (the Newton decrement squared) is negligible, when no
    halved step improves the value, or after ``max_newton`` steps. Returns ``(w, value)``.

    With ``gradient`` (``w -> (value, gradient)``, cheaper than ``objective``) and an
    approximate ``hessian``: first quasi-Newton steps with that Hessian kept fixed, one
    ``gradient`` pass each, while full steps improve the value and the predicted gain
    falls at least twofold per step; then exact Newton from where they stopped. The
    fixed point is the same (the gradient is exact); only the cost of getting there differs.
    """
    if gradient is not None and hessian is not None:
        value, grad = gradient(w)
        previous = np.inf
        for _ in range(4 * max_newton):
            step = _solve(-hessian, grad)
            gain = float(grad @ step)
            if not np.isfinite(gain) or gain < 1e-13 * max(1.0, abs(value)):
                return w, value
            if gain > 0.5 * previous:
                break
            t_value, t_grad = gradient(w + step)
            if not (np.isfinite(t_value) and t_value >= value):
                break
            w, value, grad, previous = w + step, t_value, t_grad, gain
    value, grad, hess = objective(w)
    for _ in range(max_newton):
        step = _solve(-hess, grad)
        gain = float(grad @ step)  # predicted increase of J (Newton decrement^2)
        if not np.isfinite(gain) or gain < 1e-13 * max(1.0, abs(value)):
            break
        scale = 1.0
        while scale > 1e-3:
            trial = w + scale * step
            t_value, t_grad, t_hess = objective(trial)
            if np.isfinite(t_value) and t_value >= value:
                w, value, grad, hess = trial, t_value, t_grad, t_hess
                break
            scale *= 0.5
        else:
            break
    return w, value


def fit_linear_current(states: np.ndarray, *, mean=None, std=None, method: str = "j",
                       max_newton: int = 12, degree: int = 1, start: LinearCurrent | None = None) -> LinearCurrent:
    """Fit the linear current of the module doc on all pairs of ``states`` (float64).

    Parameters
    ----------
    states : array (M, L, d) or tuple of such arrays
        Continuous training trajectories (memory-mapped is fine: read in chunks);
        a tuple of parts for a ragged set.
    mean, std : array (d,), optional
        Standardization; default: none (0 and 1).
    method : {"j", "tur"}
        Maximize the NEEP objective over the span (Newton, started at the TUR
        solution) or stop at the TUR closed form.
    max_newton : int
        At most this many Newton passes (each one pass over the data).
    degree : int
        Degree of the force polynomial ``F(zbar)`` (1: the linear current;
        2 adds ``zbar_i zbar_k dz_j``; see ``current_basis``).
    start : LinearCurrent, optional
        Start Newton here instead of at the TUR solution (method "j"; the same
        degree and standardization), e.g. the fit on more data of the same
        process: it saves the TUR pass and most Newton steps.

    Notes
    -----
    For bases of at least ``WIDE_BASIS`` currents and beyond ``HESSIAN_PAIRS``
    pairs, the TUR covariance and each Hessian come from every k-th pair in
    time (about ``HESSIAN_PAIRS`` of them). A "j" fit is unchanged by it (every
    pair enters the objective and its gradient: the optimum is the same to
    the stopping tolerance); a "tur" fit becomes a slightly suboptimal current,
    whose TUR ratio is still a lower bound (any current gives one). The
    degree-1 passes never build the basis, and the steps start quasi-Newton
    with the TUR pass's second moments: in 20 dimensions the fit went from
    86 s to 12 s on a million pairs (one thread, loaded machine).

    Returns
    -------
    LinearCurrent
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or not 1 <= degree <= 4:
        raise ValueError(f"degree must be an integer in 1..4, got {degree!r}")
    states = np.asarray(states) if not hasattr(states, "shape") and not isinstance(states, tuple) else states
    for probe in (states if isinstance(states, tuple) else (states,)):  # a tuple: parts of a ragged set
        if probe.ndim != 3 or probe.shape[1] < 2 or not np.issubdtype(probe.dtype, np.floating):
            raise ValueError(f"the linear current needs float states (M, L, d) with L >= 2, got {probe.shape}")
    d = (states[0] if isinstance(states, tuple) else states).shape[2]
    mean = np.zeros(d) if mean is None else np.asarray(mean, dtype=np.float64)
    std = np.ones(d) if std is None else np.asarray(std, dtype=np.float64)
    stride = _stride(states, basis_size(d, degree), sampled=True)  # TUR: any current bounds the EP
    if start is not None and method == "j" and start.degree == degree and start.bias.size == d \
            and np.array_equal(start.mean, mean) and np.array_equal(start.std, std):
        total, w, second, tur = _pair_count(states), start.coefficients.copy(), start.second, None
    else:
        total, mu, sigma, second = _moments(states, mean, std, degree, stride)
        w = tur = 2.0 * _solve(sigma, mu)
    value = None
    if method == "j":
        # Near w = 0 (small steps) the Hessian of J is about -<phi phi^T>, which the TUR pass already has:
        # cheap gradient passes with it first, exact Newton (a Hessian pass each) only where they stall.
        w, value = maximize_newton(lambda v: _j_pass(states, mean, std, v, degree, stride), w, max_newton,
                                   hessian=None if second is None else -second,
                                   gradient=lambda v: _j_pass(states, mean, std, v, degree, stride, hessian=False))
    if value is None:
        value = _j_pass(states, mean, std, w, degree)[0]
    return LinearCurrent(kernel=w[: d * d].reshape(d, d), bias=w[d * d : d * d + d].copy(), mean=mean, std=std,
                         method=method, objective=float(value), pairs=int(total), degree=int(degree),
                         higher=w[d * d + d :].copy(), second=second, tur=tur)
