"""A swirl over an egg-crate potential: a 2-D driven system whose force no low-degree polynomial represents.

A particle in a harmonic trap corrugated by an egg-crate of cosines, pushed
along the potential's level sets (one bath at temperature ``T``, friction
``gamma``, k_B = 1)::

    U(x) = k |x|^2 / 2 + a (cos q x_1 + cos q x_2)
    f(x) = w R grad U(x),    R (u, v) = (-v, u)
    gamma dx = (-grad U + f) dt + sqrt(2 gamma T) dW

(``x_1, x_2`` are ``x[..., 0], x[..., 1]``.) ``R grad U`` is divergence-free
and orthogonal to ``grad U``, so ``div(f e^{-U/T}) = 0``: the Boltzmann
density ``p = e^{-U/T} / Z`` (a lattice of wells under a Gaussian envelope)
stays stationary, the current is ``j = p f / gamma``, and the EP rate is

    sigma = <|f|^2>_p / (gamma T) = w^2 <|grad U|^2>_p / (gamma T) = w^2 <Laplacian U>_p / gamma,

the last by parts. The drive swirls around every well and every hill of the
egg-crate, in opposite senses, with the wavelength ``2 pi / q``: a
polynomial force of low degree sees only the trap's rotation ``w k R x``.
At the defaults (cosines of amplitude ``a = T`` and period 2.5, inside a trap
of width ``sqrt(T / k) = 1``) the best affine current reveals
:attr:`Swirl.linear_ep_rate`, the best cubic one ``polynomial_ep_rate(3)``;
both are in the sidecar (``ep_rate_linear``, ``ep_rate_cubic``).

Exact values come from the quadrature shared with
:class:`~neep.simulators.driven_ring.DrivenRing` (``_planar_density``:
polar grid refined until two results agree to 1e-12). The density is also a
product of two 1-D densities, which the tests use for an independent check.

Discretisation. The data are the Euler-Maruyama chain with step ``dt``; its
stationary law and mean EP per step differ from Boltzmann and from
``sigma dt`` at relative ``O(dt)``. ``ep_per_step`` is the continuous-time
value ``sigma dt``; the sidecar's ``ep_per_step_exact`` is the chain's own
pair value, measured with the exact Euler transition densities
(``_planar_chain``: 1.7925 +- 0.0053 per unit time at the defaults, -0.07 %
from ``sigma``). Measured at the defaults (trajectory means, one standard
error): the mean Stratonovich stochastic EP per step over ``sigma dt`` is
1 + 0.64 % +- 0.37 % at dt = 0.01 and 1 + 0.58 % +- 0.37 % at dt = 0.005
(2000 trajectories of 50 time units); ``<cos q x_1>`` of the chain is
1.5 % +- 0.5 % off the Boltzmann value at dt = 0.005 (the wells' curvature
``k + a q^2 = 7.25`` sets the scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from ._checks import positive as _positive, real as _real
from ._planar_density import _CUT, PlanarDensityMixin
from ._planar_fields import PlanarFieldsMixin
from ._planar_chain import PlanarChainMixin
from ._planar_kernels import swirl_chain_log_ratio, swirl_euler_maruyama
from ._planar_sampler import PlanarSamplerMixin

__all__ = ["Swirl"]


@dataclass(frozen=True)
class Swirl(PlanarFieldsMixin, PlanarDensityMixin, PlanarSamplerMixin, PlanarChainMixin):
    """Overdamped particle on an egg-crate in a harmonic trap, driven along its level sets; exact EP.

    Parameters
    ----------
    k : float
        Stiffness of the harmonic trap (> 0).
    a : float
        Amplitude of the egg-crate ``a (cos q x_1 + cos q x_2)`` (any finite
        value; 0 leaves a linear system).
    q : float
        Wavenumber of the egg-crate (> 0).
    w : float
        Strength of the drive ``f = w R grad U`` (any finite value; 0 is
        equilibrium).
    temperature : float
        Bath temperature T (> 0, k_B = 1).
    gamma : float
        Friction coefficient (> 0).
    dt : float
        Time step of the Euler-Maruyama chain and of the record (> 0, below
        :attr:`dt_limit`, the linear stability limit over the bulk of the
        stationary density).

    Notes
    -----
    The same three base classes as :class:`DrivenRing` complete the model
    (fields and exact EP, quadrature and samples, sampler protocol).
    """

    k: float = 1.0
    a: float = 1.0
    q: float = 2.5
    w: float = 0.5
    temperature: float = 1.0
    gamma: float = 1.0
    dt: float = 0.01

    def __post_init__(self) -> None:
        for name in ("k", "q", "temperature", "gamma", "dt"):
            object.__setattr__(self, name, _positive(name, getattr(self, name)))
        for name in ("a", "w"):
            object.__setattr__(self, name, _real(name, getattr(self, name)))
        self._check_dt()

    model_name = "swirl"
    _kernel = staticmethod(swirl_euler_maruyama)
    _chain_kernel = staticmethod(swirl_chain_log_ratio)

    @property
    def parameters(self) -> dict[str, float]:
        """The model's parameters by name (the sidecar's ``parameters``)."""
        names = ("k", "a", "q", "w", "temperature", "gamma", "dt")
        return {name: getattr(self, name) for name in names}

    def _kernel_params(self) -> np.ndarray:
        return np.array([self.k, self.a, self.q, self.w], np.float64)

    @cached_property
    def radial_range(self) -> tuple[float, float]:
        """Disc ``|x| <= r_hi`` (``r_lo = 0``) outside which ``U - min U > 60 T``.

        From ``U >= k r^2 / 2 - 2 |a|`` and ``min U <= U(0) = 2 a``.
        """
        return 0.0, math.sqrt(2.0 * (_CUT * self.temperature + 2.0 * abs(self.a) + 2.0 * self.a) / self.k)

    def _fields(self, x0: np.ndarray, x1: np.ndarray) -> tuple[np.ndarray, ...]:
        """``U``, ``grad U`` and ``f`` at points given by their two coordinates."""
        k, a, q, w = self.k, self.a, self.q, self.w
        u = 0.5 * k * (x0 * x0 + x1 * x1) + a * (np.cos(q * x0) + np.cos(q * x1))
        g0 = k * x0 - a * q * np.sin(q * x0)
        g1 = k * x1 - a * q * np.sin(q * x1)
        return u, g0, g1, -w * g1, w * g0

    def jacobian(self, x: Any) -> np.ndarray:
        """Jacobian of the drift ``F / gamma`` at points (..., 2) -> (..., 2, 2), ``[..., i, j] = d_j F_i / gamma``.

        ``gamma J = -H + w R H`` with the diagonal Hessian
        ``H = diag(k - a q^2 cos q x_1, k - a q^2 cos q x_2)``.
        """
        x = self._points(x)
        h0 = self.k - self.a * self.q**2 * np.cos(self.q * x[..., 0])
        h1 = self.k - self.a * self.q**2 * np.cos(self.q * x[..., 1])
        row0 = np.stack([-h0, -self.w * h1], axis=-1)
        row1 = np.stack([self.w * h0, -h1], axis=-1)
        return np.stack([row0, row1], axis=-2) / self.gamma

    @cached_property
    def cubic_ep_rate(self) -> float:
        """:meth:`polynomial_ep_rate` of degree 3: the best current with a cubic weight (20 coefficients)."""
        return self.polynomial_ep_rate(3)

    def _extra_metadata(self) -> dict[str, Any]:
        return {"ep_rate_cubic": self.cubic_ep_rate}

    _notes = (
        "U = k |x|^2 / 2 + a (cos q x_1 + cos q x_2), drive f = w R grad U (R: +90 degrees), "
        "gamma dx = (-grad U + f) dt + sqrt(2 gamma T) dW, Euler-Maruyama with step dt. "
        "ep_rate_exact = <|f|^2> / (gamma T) over the Boltzmann density (quadrature); "
        "ep_per_step_continuous = ep_rate_exact * dt; ep_per_step_exact: the simulated chain's own mean "
        "EP per step (the KL divergence of its forward and reversed pairs, what a pair estimator converges "
        "to), measured with the exact Euler transition densities (ep_reference), its standard error "
        "ep_per_step_exact_error. ep_rate_linear, ep_rate_cubic: the "
        "most EP a current with a weight polynomial of degree 1, 3 in x reveals (TUR). First states "
        "drawn from the exact Boltzmann density."
    )
