"""Fields and exact EP of the planar driven systems, from the host's potential and drive.

:class:`PlanarFieldsMixin` is a base class (a mixin, no fields, no state
beyond cached values) of the 2-D models with a potential ``U`` and a
non-conservative force ``f = g(U) R grad U`` (``R`` the rotation by +90
degrees, ``g`` any function):
:class:`~neep.simulators.driven_ring.DrivenRing` and
:class:`~neep.simulators.swirl.Swirl`. Since ``R grad U`` is divergence-free
and orthogonal to ``grad U``, ``div(f e^{-U/T}) = 0``: the Boltzmann density
stays stationary, the current is ``j = p f / gamma`` and the EP rate is
``<|f|^2>_p / (gamma T)``, averaged by the host's quadrature
(``_planar_density``). The host supplies ``_fields(x0, x1) -> (U, dU/dx0,
dU/dx1, f0, f1)``, ``jacobian``, ``stationary_mean``, ``density`` and its
parameters ``temperature``, ``gamma``, ``dt``.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

import numpy as np

from ._continuous import simulate_in_memory

__all__ = ["PlanarFieldsMixin"]

#: Euler-Maruyama stability is required over the region U - min U <= _BULK T,
#: which holds all but ~e^-25 of the stationary mass.
_BULK = 25.0


class PlanarFieldsMixin:
    """Potential, forces, exact EP rate, polynomial-model bounds and the stable time step of a planar model."""

    def _points(self, x: Any, name: str = "x") -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 0 or x.shape[-1] != 2:
            raise ValueError(f"{name} must have last axis of length 2, got shape {x.shape}")
        return x

    def _potential(self, x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
        return self._fields(x0, x1)[0]

    def potential(self, x: Any) -> np.ndarray:
        """The potential ``U`` at points ``x`` (..., 2) -> (...)."""
        x = self._points(x)
        return self._potential(x[..., 0], x[..., 1])

    def drive(self, x: Any) -> np.ndarray:
        """The non-conservative force ``f``, (..., 2) -> (..., 2)."""
        x = self._points(x)
        _, _, _, f0, f1 = self._fields(x[..., 0], x[..., 1])
        return np.stack([f0, f1], axis=-1)

    def force(self, x: Any) -> np.ndarray:
        """The total force ``F = -grad U + f`` (the drift is ``F / gamma``), (..., 2) -> (..., 2)."""
        x = self._points(x)
        _, g0, g1, f0, f1 = self._fields(x[..., 0], x[..., 1])
        return np.stack([f0 - g0, f1 - g1], axis=-1)

    # ---------------------------------------------------------------- exact EP
    @cached_property
    def ep_rate(self) -> float:
        """Exact EP rate per unit time of the continuous process: ``<|f|^2> / (gamma T)`` (float64)."""
        return self.stationary_mean(lambda x: np.sum(self.drive(x) ** 2, axis=-1)) / (self.gamma * self.temperature)

    @property
    def ep_per_step(self) -> float:
        """``ep_rate * dt``: the continuous-time EP per step of length dt.

        The simulated Euler-Maruyama chain's mean EP per step differs from it
        at relative ``O(dt)`` (see the model's docstring).
        """
        return self.ep_rate * self.dt

    def local_ep_rate(self, x: Any) -> np.ndarray:
        """Local EP density ``|f|^2 p / (gamma T)`` at points (..., 2); it integrates to :attr:`ep_rate`."""
        return np.sum(self.drive(x) ** 2, axis=-1) * self.density(x) / (self.gamma * self.temperature)

    def polynomial_ep_rate(self, degree: int) -> float:
        """The most EP any current with a polynomial weight of ``degree`` can reveal (float64, per unit time).

        For a current ``J_d = d(x) o dx`` (Stratonovich) the short-time
        thermodynamic uncertainty relation gives
        ``sigma >= <d . j/p>^2 / <d . D d>`` with ``j/p = f / gamma`` and
        ``D = T / gamma``; maximised over ``d`` whose two components are
        polynomials of total degree ``<= degree`` (``(degree + 1)(degree + 2)``
        coefficients) it is ``v^T G^-1 v``, ``v_k = <phi_k . f> / gamma``,
        ``G_kl = (T / gamma) <phi_k . phi_l>``, the averages exact by
        quadrature. It is also what a NEEP whose per-step output is such a
        polynomial current converges to as ``dt -> 0``, and equals
        ``|P f|^2 / (gamma T)`` with ``P`` the projection onto those fields:
        its ratio to :attr:`ep_rate` says how much of the force the
        polynomial model of that degree can represent.
        """
        powers = [(i, total - i) for total in range(degree, -1, -1) for i in range(total, -1, -1)]

        def features(x: np.ndarray) -> np.ndarray:
            zero = np.zeros(len(x))
            scalars = [x[:, 0] ** i * x[:, 1] ** j for i, j in powers]
            return np.stack(
                [np.stack([s, zero], axis=-1) for s in scalars] + [np.stack([zero, s], axis=-1) for s in scalars],
                axis=1,
            )  # (N, K, 2)

        size = 2 * len(powers)

        def moments(x: np.ndarray) -> np.ndarray:
            phi, f = features(x), self.drive(x)
            v = np.einsum("nkc,nc->nk", phi, f)
            g = np.einsum("nkc,nlc->nkl", phi, phi).reshape(len(x), -1)
            return np.concatenate([v, g], axis=1)

        averages = self.stationary_mean(moments)
        v = averages[:size] / self.gamma
        g = averages[size:].reshape(size, size) * self.temperature / self.gamma
        return float(v @ np.linalg.solve(g, v))

    @cached_property
    def linear_ep_rate(self) -> float:
        """:meth:`polynomial_ep_rate` of degree 1: the best affine weight ``d(x) = W x + c`` (six coefficients)."""
        return self.polynomial_ep_rate(1)

    @cached_property
    def dt_limit(self) -> float:
        """Largest stable ``dt``: linear stability of the Euler step over the bulk of the density.

        At each quadrature node with ``U - min U <= 25 T`` (all but ~e^-25 of
        the stationary mass), the drift's Jacobian ``J`` has eigenvalues
        ``lambda``; those with ``Re lambda < 0`` need ``|1 + dt lambda| < 1``,
        i.e. ``dt < -2 Re lambda / |lambda|^2``. (Where ``Re lambda >= 0``,
        e.g. on a hill, the continuous flow itself expands.)
        """
        x0, x1, _, u_min, _ = self._quadrature
        bulk = self._potential(x0, x1) - u_min <= _BULK * self.temperature
        j = self.jacobian(np.stack([x0[bulk], x1[bulk]], axis=-1))
        j00, j01, j10, j11 = j[:, 0, 0], j[:, 0, 1], j[:, 1, 0], j[:, 1, 1]
        half_trace = 0.5 * (j00 + j11)
        det = j00 * j11 - j01 * j10
        root = np.sqrt((half_trace * half_trace - det).astype(np.complex128))
        lam = np.concatenate([half_trace + root, half_trace - root])
        stable = lam.real < 0
        if not stable.any():  # pragma: no cover - a confining potential always has a stable bulk
            return math.inf
        return float(np.min(-2.0 * lam.real[stable] / np.abs(lam[stable]) ** 2))

    def _check_dt(self) -> None:
        if self.dt >= self.dt_limit:
            raise ValueError(
                f"dt must be < {self.dt_limit:.6g} (Euler-Maruyama is unstable beyond, over the bulk "
                f"of the stationary density), got {self.dt!r}"
            )

    def stochastic_ep(self, x: Any) -> np.ndarray:
        """Exact stochastic EP of every step along trajectories (float64).

        For a step ``x -> x'``: the change of system entropy
        ``-ln p(x') + ln p(x) = [U(x') - U(x)] / T`` plus the heat released
        into the bath over ``T``, ``F(x_mid) . (x' - x) / T`` with
        ``F = -grad U + f`` and the midpoint (Stratonovich) rule
        ``x_mid = (x + x') / 2``::

            [U(x') - U(x) + F(x_mid) . (x' - x)] / T

        This is the discretised definition (the same as the bead chain's),
        chosen over the shorter ``f(x_mid) . dx / T`` it approximates: the
        two differ by ``[dU - grad U(x_mid) . dx] / T = O(|dx|^3)`` (the
        midpoint rule is exact only for quadratic ``U``), and with the full
        form the sum over a trajectory is exactly its system-entropy change
        plus its Stratonovich heat over T, with no accumulated quadrature
        error in the system-entropy part. Both are odd under time reversal.

        Parameters
        ----------
        x : array (..., L, 2)

        Returns
        -------
        numpy.ndarray (..., L - 1)
        """
        x = self._points(x)
        if x.ndim < 2:
            raise ValueError(f"x must have shape (..., L, 2), got shape {x.shape}")
        u = self.potential(x)
        mid = 0.5 * (x[..., 1:, :] + x[..., :-1, :])
        heat = np.sum(self.force(mid) * np.diff(x, axis=-2), axis=-1)
        return (np.diff(u, axis=-1) + heat) / self.temperature

    def simulate(
        self, trajectories: int, steps: int, seed: int = 0, exact_ep: bool = False, workers: int | None = None
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Simulate in memory: float32 (M, L, 2), plus float32 (M, L-1) EP when ``exact_ep``.

        Identical, for the same arguments, to what :func:`simulate_to_file` writes.
        """
        return simulate_in_memory(self, trajectories, steps, seed, exact_ep, workers)
