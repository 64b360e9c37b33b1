"""Stationary density of the planar driven systems: quadrature over the plane and exact samples.

:class:`PlanarDensityMixin` is a base class (a mixin with no fields; its only
state is the cached quadrature) of the 2-D models whose drive keeps the
Boltzmann density ``exp(-U / T) / Z`` stationary
(:class:`~neep.simulators.driven_ring.DrivenRing`,
:class:`~neep.simulators.swirl.Swirl`). The density is integrated in float64
in polar coordinates (trapezoid rule in the angle, Gauss-Legendre in the
radius over the host's annulus :attr:`radial_range`, outside which
``U - min U > 60 T``), refined by doubling both until two successive results
agree to 1e-12; the same annulus bounds the rejection sampler of stationary
states. It needs the host's ``temperature``, ``parameters`` (a dict, for
messages), ``radial_range`` and fields (``_potential``, ``_fields``,
``potential``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from functools import cached_property
from typing import Any

import numpy as np
import scipy.optimize

__all__ = ["PlanarDensityMixin"]

#: The quadrature and the initial-state sampler ignore the region where
#: U - min U > _CUT T (relative density below e^-60).
_CUT = 60.0
_TOLERANCE = 1e-12


class PlanarDensityMixin:
    """Quadrature over, and exact samples from, the Boltzmann density of a planar model.

    A mixin: it needs the host's parameters and fields, and holds nothing of
    its own but the cached quadrature. The host defines ``radial_range``: an
    annulus ``(r_lo, r_hi)`` outside which ``U - min U > 60 T`` (``_CUT``).
    """

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

    def _described(self) -> str:
        return ", ".join(f"{name}={value!r}" for name, value in self.parameters.items())

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
                raise ValueError(f"the exact EP is not finite in float64 for these parameters: {self._described()}")
            log_z = math.log(z) - shift / self.temperature
            if previous is not None:
                dz, df = abs(log_z - previous[0]), abs(f2 - previous[1]) / max(previous[1], 1e-300)
                if dz < _TOLERANCE and (df < _TOLERANCE or f2 == previous[1]):
                    break
            if n >= 1024:
                raise ValueError(
                    f"the quadrature did not converge on a {n} x {n} grid (parameters too extreme: {self._described()})"
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
