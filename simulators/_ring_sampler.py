"""The driven ring's sampler protocol: chunk filling around the Numba kernel, and the sidecar.

:class:`RingSamplerMixin` is a base class (a mixin, no fields, no state) of
:class:`~neep.simulators.driven_ring.DrivenRing`: ``outputs``, ``fill`` and
``metadata``, what :func:`~neep.simulators.io.simulate_to_file` and
:func:`~neep.simulators.io.simulate_to_arrays` call. The Euler-Maruyama
kernel is in ``_ring_kernels``; the first states come from the host's
``sample_stationary``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._continuous import chunk_start, continuous_outputs
from ._ring_kernels import euler_maruyama

__all__ = ["RingSamplerMixin"]

_MODEL = "driven-ring"


class RingSamplerMixin:
    """The sampler protocol of :class:`DrivenRing` (see :class:`neep.simulators.io.Sampler`).

    A mixin: it needs the host's parameters, ``radial_range``,
    ``sample_stationary`` and exact EP values, and holds nothing of its own.
    """

    def outputs(self, trajectories: int, steps: int, exact_ep: bool) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """Arrays a simulation writes: states float32 (M, L, 2) and, if asked, EP float32 (M, L-1)."""
        return continuous_outputs(trajectories, steps, 2, exact_ep)

    def fill(
        self, rng: np.random.Generator, out: dict[str, np.ndarray], initial: dict[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """Fill one chunk in place (sampler protocol); return the float64 state to continue from.

        ``initial=None``: the first state is drawn from the Boltzmann density
        with ``rng`` and ``out["ep"]`` is one shorter than ``out["states"]``
        along time. Otherwise ``initial["states"]`` (m, 2) is the previous
        state and every entry of ``out`` is a successor step. Thread-safe;
        the kernel runs without the GIL.

        Raises
        ------
        ValueError
            A trajectory escaped (the Euler-Maruyama chain of this superlinear
            drift diverged): dt is too large for these parameters.
        """
        states = out["states"]
        m = states.shape[0]
        x0, want_ep, ep = chunk_start(out, initial, lambda count: self.sample_stationary(count, rng))
        escape = (4.0 * max(self.radial_range[1], 1.0)) ** 2
        params = np.array(
            [self.a, self.r0, self.b, self.w0, self.w1, self.temperature, self.gamma, self.dt, escape], np.float64
        )
        last = np.empty((m, 2))
        diverged = euler_maruyama(rng, x0, params, initial is None, want_ep, states, ep, last)
        if diverged:
            raise ValueError(
                f"dt = {self.dt!r} is too large for these parameters: {diverged} trajectories of the "
                f"Euler-Maruyama chain diverged (|x| > {math.sqrt(escape):.3g}); use a smaller dt"
            )
        return {"states": last}

    def metadata(self) -> dict[str, Any]:
        """The sidecar's model-specific keys (sampler protocol)."""
        return {
            "model": _MODEL,
            "state": "continuous",
            "n_states": None,
            "parameters": {
                "a": self.a,
                "r0": self.r0,
                "b": self.b,
                "w0": self.w0,
                "w1": self.w1,
                "temperature": self.temperature,
                "gamma": self.gamma,
                "dt": self.dt,
            },
            "dt": self.dt,
            "ep_rate_exact": self.ep_rate,
            "ep_per_step_exact": self.ep_per_step,
            "ep_per_step_continuous": self.ep_per_step,
            "ep_rate_linear": self.linear_ep_rate,
            "hidden": False,
            "continuous_time": False,
            "notes": (
                "U = a (|x|^2 - r0^2)^2 / 4 + b x_1, drive f = (w0 + w1 exp(-U)) R grad U (R: +90 degrees), "
                "gamma dx = (-grad U + f) dt + sqrt(2 gamma T) dW, Euler-Maruyama with step dt. "
                "ep_rate_exact = <|f|^2> / (gamma T) over the Boltzmann density (quadrature); "
                "ep_per_step_exact = ep_rate_exact * dt, the continuous-time value: the simulated "
                "chain's mean EP per step differs at relative O(dt). ep_rate_linear: the most EP a "
                "current with an affine weight W x + c reveals (TUR). First states drawn from the "
                "exact Boltzmann density."
            ),
        }
