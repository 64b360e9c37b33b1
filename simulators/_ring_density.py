"""The driven ring's stationary density: quadrature over the plane and exact samples.

:class:`RingDensityMixin` is a base class (a mixin with no fields; its only
state is the cached quadrature) of
:class:`~neep.simulators.driven_ring.DrivenRing`. The Boltzmann density
``exp(-U / T) / Z`` is integrated in float64 in polar coordinates
(trapezoid rule in the angle, Gauss-Legendre in the radius over the annulus
outside which ``U - min U > 60 T``), refined by doubling both until two
successive results agree to 1e-12; the same annulus bounds the rejection
sampler of stationary states. It needs the host's parameters (``a``, ``r0``,
``b``, ``w0``, ``w1``, ``temperature``) and fields (``_potential``,
``_fields``, ``potential``); the exact EP built on these averages stays in
``driven_ring``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from functools import cached_property
from typing import Any

import numpy as np
import scipy.optimize

__all__ = ["RingDensityMixin"]

#: The quadrature and the initial-state sampler ignore the region where
#: U - min U > _CUT T (relative density below e^-60).
_CUT = 60.0
_TOLERANCE = 1e-12


class RingDensityMixin:
    """Quadrature over, and exact samples from, the stationary density of :class:`DrivenRing`.

    A mixin: it needs the host's parameters and fields and holds nothing of
    its own but the cached quadrature.
    """

    @cached_property
    def radial_range(self) -> tuple[float, float]:
        """Annulus ``r_lo <= |x| <= r_hi`` outside which ``U - min U > 60 T``.

        From the bound ``U >= a (r^2 - r0^2)^2 / 4 - |b| r =: L(r)`` and
        ``min U <= -|b| r0``: outside, ``U - min U >= L(r) + |b| r0 > 60 T``.
        """
        a, r0, b = self.a, self.r0, abs(self.b)
        cut = _CUT * self.temperature

        def excess(r: float) -> float:
            return 0.25 * a * (r * r - r0 * r0) ** 2 - b * r + b * r0 - cut

        r_lo = 0.0 if excess(0.0) <= 0 else scipy.optimize.brentq(excess, 0.0, r0, xtol=1e-14)
        top = max(2.0 * r0, 1.0)
        while excess(top) <= 0:
            top *= 2.0
        r_hi = scipy.optimize.brentq(excess, r0, top, xtol=1e-14)
        return float(r_lo), float(r_hi)

    def _grid(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Quadrature nodes ``x0, x1`` and weights (area element included) on an n x n polar grid."""
        r_lo, r_hi = self.radial_range
        nodes, weights = np.polynomial.legendre.leggauss(n)
        r = r_lo + 0.5 * (r_hi - r_lo) * (nodes + 1.0)
        wr = 0.5 * (r_hi - r_lo) * weights * r
        theta = 2.0 * math.pi * np.arange(n) / n
        x0 = np.outer(r, np.cos(theta)).ravel()
        x1 = np.outer(r, np.sin(theta)).ravel()
        return x0, x1, np.repeat(wr * (2.0 * math.pi / n), n)

    @cached_property
    def _quadrature(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
        """Converged nodes, normalised Boltzmann weights, ``min U`` and ``ln Z``."""
        previous = None
        n = 64
        while True:
            x0, x1, w = self._grid(n)
            u, _, _, f0, f1 = self._fields(x0, x1)
            shift = float(u.min())
            weights = w * np.exp(-(u - shift) / self.temperature)
            z = float(weights.sum())
            f2 = float(weights @ (f0 * f0 + f1 * f1)) / z
            if not (math.isfinite(z) and math.isfinite(f2)):
                raise ValueError(
                    f"the exact EP is not finite in float64 for these parameters: a={self.a!r}, "
                    f"r0={self.r0!r}, b={self.b!r}, w0={self.w0!r}, w1={self.w1!r}"
                )
            log_z = math.log(z) - shift / self.temperature
            if previous is not None:
                dz, df = abs(log_z - previous[0]), abs(f2 - previous[1]) / max(previous[1], 1e-300)
                if dz < _TOLERANCE and (df < _TOLERANCE or f2 == previous[1]):
                    break
            if n >= 1024:
                raise ValueError(
                    f"the quadrature did not converge on a {n} x {n} grid (parameters too extreme: "
                    f"a={self.a!r}, r0={self.r0!r}, b={self.b!r}, temperature={self.temperature!r})"
                )
            previous = (log_z, f2)
            n *= 2
        # min U, polished from the best node (the rejection sampler needs a bound <= min U).
        k = int(np.argmin(u))
        start = np.array([x0[k], x1[k]])
        best = scipy.optimize.minimize(
            lambda y: float(self._potential(y[0], y[1])), start, method="BFGS",
            jac=lambda y: np.array(self._fields(y[0], y[1])[1:3]), options={"gtol": 1e-13},
        )  # fmt: skip
        u_min = min(float(best.fun), shift)
        return x0, x1, weights / z, u_min, log_z

    def stationary_mean(self, func: Callable[[np.ndarray], Any]) -> np.ndarray | float:
        """Exact average of ``func(x)`` over the Boltzmann density, by the converged quadrature.

        ``func`` maps float64 points (N, 2) to values (N,) or (N, k); returns
        a float or a float64 array (k,).
        """
        x0, x1, p, _, _ = self._quadrature
        values = np.asarray(func(np.stack([x0, x1], axis=-1)), dtype=np.float64)
        result = np.tensordot(p, values, axes=(0, 0))
        return float(result) if result.ndim == 0 else result

    @property
    def min_potential(self) -> float:
        """``min U`` over the plane (float64)."""
        return self._quadrature[3]

    @property
    def log_normalization(self) -> float:
        """``ln Z``, ``Z = integral of exp(-U / T) dx`` over the plane (float64)."""
        return self._quadrature[4]

    def density(self, x: Any) -> np.ndarray:
        """The stationary (Boltzmann) density ``exp(-U / T) / Z`` at points (..., 2) -> (...)."""
        return np.exp(-self.potential(x) / self.temperature - self.log_normalization)

    def sample_stationary(self, m: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """Draw ``m`` states from the Boltzmann density ``exp(-U / T) / Z``, float64 (m, 2).

        Rejection sampling: proposals uniform over the annulus
        :attr:`radial_range`, accepted with probability
        ``exp(-(U - min U) / T)``. Exact but for the ignored region outside
        the annulus (relative density below e^-60). ``rng``: a Generator, or
        a seed for ``default_rng``.
        """
        if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 0:
            raise ValueError(f"m must be an integer >= 0, got {m!r}")
        m = int(m)
        rng = np.random.default_rng(rng)
        r_lo, r_hi = self.radial_range
        u_min = self.min_potential - 1e-12 * max(1.0, abs(self.min_potential))
        area = math.pi * (r_hi * r_hi - r_lo * r_lo)
        acceptance = min(1.0, math.exp(self.log_normalization + u_min / self.temperature) / area)
        out = np.empty((m, 2))
        filled = 0
        while filled < m:
            batch = max(256, int(1.2 * (m - filled) / acceptance) + 16)
            r = np.sqrt(r_lo * r_lo + (r_hi * r_hi - r_lo * r_lo) * rng.random(batch))
            theta = 2.0 * math.pi * rng.random(batch)
            x0, x1 = r * np.cos(theta), r * np.sin(theta)
            keep = rng.random(batch) < np.exp(-(self._potential(x0, x1) - u_min) / self.temperature)
            take = min(int(keep.sum()), m - filled)
            out[filled : filled + take, 0] = x0[keep][:take]
            out[filled : filled + take, 1] = x1[keep][:take]
            filled += take
        return out
