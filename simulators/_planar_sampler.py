"""The planar driven systems' sampler protocol: chunk filling around the Numba kernel, and the sidecar.

:class:`PlanarSamplerMixin` is a base class (a mixin, no fields, no state) of
:class:`~neep.simulators.driven_ring.DrivenRing` and
:class:`~neep.simulators.swirl.Swirl`: ``outputs``, ``fill`` and
``metadata``, what :func:`~neep.simulators.io.simulate_to_file` and
:func:`~neep.simulators.io.simulate_to_arrays` call. The Euler-Maruyama
kernels are in ``_planar_kernels``; the first states come from the host's
``sample_stationary``. The host supplies ``_kernel`` (its compiled entry
point, a static method), ``_kernel_params()``, ``model_name``,
``parameters``, ``_notes`` and, optionally, more sidecar keys
(``_extra_metadata``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._continuous import chunk_start, continuous_outputs

__all__ = ["PlanarSamplerMixin"]


class PlanarSamplerMixin:
    """The sampler protocol of a planar model (see :class:`neep.simulators.io.Sampler`).

    A mixin: it needs the host's parameters, ``radial_range``,
    ``sample_stationary``, kernel and exact EP values, and holds nothing of its own.
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
        escape = self._escape()
        last = np.empty((m, 2))
        diverged = self._kernel(
            rng, x0, self._kernel_params(), self.temperature, self.gamma, self.dt, escape,
            initial is None, want_ep, states, ep, last,
        )  # fmt: skip
        if diverged:
            raise ValueError(
                f"dt = {self.dt!r} is too large for these parameters: {diverged} trajectories of the "
                f"Euler-Maruyama chain diverged (|x| > {math.sqrt(escape):.3g}); use a smaller dt"
            )
        return {"states": last}

    def _escape(self) -> float:
        """Squared radius beyond which a trajectory of the chain counts as diverged (4x the bulk's)."""
        return (4.0 * max(self.radial_range[1], 1.0)) ** 2

    def _extra_metadata(self) -> dict[str, Any]:
        return {}

    def metadata(self) -> dict[str, Any]:
        """The sidecar's model-specific keys (sampler protocol)."""
        return {
            "model": self.model_name,
            "state": "continuous",
            "n_states": None,
            "parameters": self.parameters,
            "dt": self.dt,
            "ep_rate_exact": self.ep_rate,
            "ep_per_step_continuous": self.ep_per_step,
            **self._chain_metadata(),
            "ep_rate_linear": self.linear_ep_rate,
            **self._extra_metadata(),
            "hidden": False,
            "continuous_time": False,
            "notes": self._notes,
        }
