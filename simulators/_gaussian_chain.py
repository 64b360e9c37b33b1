"""The exact discretisation of a linear SDE, and its exact entropy production per step.

A linear (Ornstein-Uhlenbeck) process ``dz = A z dt + sqrt(2 D) dW`` recorded
every ``dt`` is exactly the Gaussian Markov chain ``z' = E z + xi``, with
``E = e^{A dt}`` and ``xi ~ N(0, Q)``, ``Q = C - E C E^T`` (the integral
``int_0^dt e^{As} 2D e^{A^T s} ds``), ``C`` the stationary covariance
(``A C + C A^T = -2 D``). Started in ``N(0, C)``, every recorded state is an
exact sample of the continuous process, whatever ``dt``.

Time reversal maps ``z -> eps z`` (``eps`` diagonal: +1 for even variables
such as positions, -1 for odd ones such as velocities). Exact, per step:

- the pair KL ``D(p(z, z') || p(eps z', eps z))``;
- the parity KL ``D(p(z) || p(eps z))``, zero without odd variables;
- their difference, the KL between forward and reversed transitions, which
  is the EP per step of the recorded chain. It is at most ``sigma dt``
  (data processing: the chain sees less than the continuous path) and tends
  to it as ``dt -> 0``; for the underdamped systems of this package the
  deficit is relative ``O(dt^4)`` (5e-11 at dt = 0.01, 5e-7 at dt = 0.1).

Numerics. ``Q`` has entries of very different sizes (``dt^3`` for positions,
``dt`` for velocities), so nothing is computed as a difference of O(1)
matrices: ``E - I`` and ``Q`` come from block matrix exponentials (Van Loan),
and the transition KL from an expansion in ``E - I`` (see
:meth:`GaussianChain.transition_kl`). The stochastic EP of a step is evaluated
from the step's residuals, never from a quadratic form with ``Q^-1`` in full.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg

from ._checks import readonly as _readonly
from ._continuous import chunk_start
from ._linear_kernels import gaussian_steps

__all__ = ["GaussianChain"]


def _stationary_covariance(drift: np.ndarray, diffusion: np.ndarray) -> np.ndarray:
    c = scipy.linalg.solve_continuous_lyapunov(drift, -2.0 * diffusion)
    return 0.5 * (c + c.T)


def _transition(drift: np.ndarray, diffusion: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``E = e^{A dt}``, ``F = E - I`` and ``Q``, each without cancellation of O(1) terms."""
    n = drift.shape[0]
    zero, eye = np.zeros((n, n)), np.eye(n)
    # expm([[A, I], [0, 0]] dt) = [[E, Phi], [0, I]], Phi = int_0^dt e^{As} ds, E - I = A Phi.
    phi = scipy.linalg.expm(np.block([[drift, eye], [zero, zero]]) * dt)[:n, n:]
    f = drift @ phi
    # Van Loan: expm([[-A, 2D], [0, A^T]] dt) = [[., G], [0, E^T]], Q = E G.
    block = scipy.linalg.expm(np.block([[-drift, 2.0 * diffusion], [zero, drift.T]]) * dt)
    e = block[n:, n:].T
    q = e @ block[:n, n:]
    return e, f, 0.5 * (q + q.T)


def _cholesky(q: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor, computed on the unit-diagonal rescaling of ``q`` (entries span dt^3..dt)."""
    scale = np.sqrt(np.diag(q))
    return scale[:, None] * np.linalg.cholesky(q / np.outer(scale, scale))


class GaussianChain:
    """``dz = A z dt + sqrt(2 D) dW`` recorded every ``dt``, exactly, with exact EP per step.

    Parameters
    ----------
    drift : array (n, n)
        ``A``, stable (eigenvalues with negative real parts).
    diffusion : array (n, n)
        ``D``, symmetric positive semi-definite (zero rows for noiseless
        coordinates such as positions in underdamped dynamics), such that
        the process is non-degenerate (``C`` and ``Q`` positive definite).
    dt : float
        Recording interval, > 0. No stability limit: the chain is exact.
    parity : array (n,), optional
        Time-reversal signs (+1 even, -1 odd); all +1 by default.

    Attributes
    ----------
    covariance : (n, n)
        Stationary ``C``.
    transition : (n, n)
        ``E = e^{A dt}``.
    noise_covariance, noise_factor : (n, n)
        ``Q`` and its lower Cholesky factor ``L``.
    ep_rate : float
        The continuous process's EP rate ``sigma``, from its irreversible current.
    parity_kl, transition_kl, pair_kl : float
        Per step; ``pair_kl = parity_kl + transition_kl``.
    """

    def __init__(self, drift: Any, diffusion: Any, dt: float, parity: Any = None) -> None:
        a = np.array(drift, dtype=np.float64)
        d = np.array(diffusion, dtype=np.float64)
        n = a.shape[0]
        if a.shape != (n, n) or d.shape != (n, n):
            raise ValueError(f"drift and diffusion must be square of one size, got {a.shape} and {d.shape}")
        if np.max(np.linalg.eigvals(a).real) >= 0:
            raise ValueError("the drift matrix is not stable (an eigenvalue has real part >= 0): no steady state")
        self.dt = float(dt)
        self.n = n
        self.parity = _readonly(np.ones(n) if parity is None else np.array(parity, dtype=np.float64))
        self.drift, self.diffusion = _readonly(a), _readonly(d)
        self.covariance = _readonly(_stationary_covariance(a, d))
        e, f, q = _transition(a, d, self.dt)
        self.transition, self._minus_identity = _readonly(e), _readonly(f)
        self.noise_covariance = _readonly(q)
        self.noise_factor = _readonly(_cholesky(q))
        self._factor_inverse = _readonly(scipy.linalg.solve_triangular(self.noise_factor, np.eye(n), lower=True))
        c_inv = np.linalg.inv(self.covariance)
        # ln p(z) + ln p(eps z) = -z^T P z / 2 + const
        self._symmetric_precision = _readonly(c_inv + self.parity[:, None] * c_inv * self.parity[None, :])

    # ------------------------------------------------------------- exact values
    @property
    def ep_rate(self) -> float:
        """``sigma = tr[(A_irr + D C^-1)^T D^+ (A_irr + D C^-1) C]``, ``A_irr = (A + eps A eps) / 2``.

        The irreversible current is ``(A_irr + D C^-1) z p(z)``; ``D^+`` is the
        pseudo-inverse (the current lies in the range of ``D``).
        """
        eps = np.diag(self.parity)
        irreversible = 0.5 * (self.drift + eps @ self.drift @ eps) + self.diffusion @ np.linalg.inv(self.covariance)
        return float(np.trace(irreversible.T @ np.linalg.pinv(self.diffusion) @ irreversible @ self.covariance))

    @property
    def parity_kl(self) -> float:
        """``D(p(z) || p(eps z)) = (tr[eps C^-1 eps C] - n) / 2`` (the log-determinants cancel)."""
        eps = self.parity
        c = self.covariance
        return float(0.5 * (np.trace(eps[:, None] * np.linalg.inv(c) * eps[None, :] @ c) - self.n))

    @property
    def transition_kl(self) -> float:
        """Mean of ``ln T(z'|z) / T(eps z | eps z')`` over the stationary chain.

        With ``w = eps z - E eps z' = Delta z - E eps xi``, ``Delta = eps - E eps E``, it is
        ``(tr[Q^-1 Cov w] - n) / 2`` and ``Cov w - Q = Delta C Delta^T + (E eps Q eps E^T - Q)``.
        With ``F = E - I`` both terms are written without O(1) cancellations:
        ``Delta = -(F eps + eps F + F eps F)`` and
        ``E eps Q eps E^T - Q = (eps Q eps - Q) + F eps Q eps + eps Q eps F^T + F eps Q eps F^T``.
        """
        eps, f, c, q = np.diag(self.parity), self._minus_identity, self.covariance, self.noise_covariance
        delta = -(f @ eps + eps @ f + f @ eps @ f)
        flipped = eps @ q @ eps
        excess = delta @ c @ delta.T + (flipped - q) + f @ flipped + flipped @ f.T + f @ flipped @ f.T
        li = self._factor_inverse
        return float(0.5 * np.trace(li @ excess @ li.T))

    @property
    def pair_kl(self) -> float:
        """``D(p(z, z') || p(eps z', eps z))`` per step: ``parity_kl + transition_kl``."""
        return self.parity_kl + self.transition_kl

    # --------------------------------------------------------- stochastic EP
    def step_ep(self, z: Any) -> np.ndarray:
        """Per-step ``r(z, z') - [q(z) + q(z')] / 2`` along trajectories (float64), exactly.

        ``r = ln p(z, z') / p(eps z', eps z)``, ``q = ln p(z) / p(eps z)``; with no
        odd variables ``q = 0`` and this is ``r``. Its mean is ``transition_kl``.

        Parameters
        ----------
        z : array (..., L, n)

        Returns
        -------
        numpy.ndarray (..., L - 1)
        """
        z = np.asarray(z, dtype=np.float64)
        if z.ndim < 2 or z.shape[-1] != self.n:
            raise ValueError(f"z must have shape (..., L, {self.n}), got {z.shape}")
        before, after = z[..., :-1, :], z[..., 1:, :]
        e, li, eps = self.transition, self._factor_inverse, self.parity
        forward = (after - before @ e.T) @ li.T
        backward = (eps * before - (eps * after) @ e.T) @ li.T
        p = self._symmetric_precision
        quad = np.einsum("...i,ij,...j->...", before, p, before) - np.einsum("...i,ij,...j->...", after, p, after)
        return 0.5 * (backward**2).sum(-1) - 0.5 * (forward**2).sum(-1) - 0.25 * quad

    # ---------------------------------------------------------------- sampling
    def sample_stationary(self, m: int, rng: np.random.Generator) -> np.ndarray:
        """``m`` draws from ``N(0, C)``, float64 (m, n)."""
        return rng.standard_normal((m, self.n)) @ np.linalg.cholesky(self.covariance).T

    def fill(
        self, rng: np.random.Generator, out: dict[str, np.ndarray], initial: dict[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """Fill one chunk in place (the sampler protocol's ``fill``); return the float64 state to continue from.

        ``initial=None``: the first state is drawn from ``N(0, C)`` with ``rng``;
        otherwise ``initial["states"]`` (m, n) is the previous state and every
        row of ``out`` is a successor. ``out["ep"]``, if present, receives
        :meth:`step_ep` of each step, computed from the float64 states.
        """
        states = out["states"]
        m = states.shape[0]
        z0, want_ep, ep = chunk_start(out, initial, lambda count: self.sample_stationary(count, rng))
        last = np.empty((m, self.n))
        gaussian_steps(
            rng, z0, np.ascontiguousarray(self.transition), np.ascontiguousarray(self.noise_factor),
            np.ascontiguousarray(self._factor_inverse), np.ascontiguousarray(self.parity),
            np.ascontiguousarray(self._symmetric_precision), initial is None, want_ep, states, ep, last,
        )  # fmt: skip
        return {"states": last}
