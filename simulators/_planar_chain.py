"""The planar models' own chain value: the mean EP per step of the simulated Euler-Maruyama chain.

:class:`PlanarChainMixin` is a base class (a mixin, no fields, no state of its
own) of :class:`~neep.simulators.driven_ring.DrivenRing` and
:class:`~neep.simulators.swirl.Swirl`.

Why. The data are the Euler-Maruyama chain with step ``dt``, not the continuous
process: its stationary law and its pair statistics differ from Boltzmann's and
from ``sigma dt`` at relative ``O(dt)``. An estimator of the EP per step from
pairs ``(x_t, x_t+dt)`` converges to the chain's own value, the KL divergence
between its forward and reversed pairs,

    D = < ln p(x'|x) - ln p(x|x') >,    p(x'|x) = N(x + h F(x), 2 T h),  h = dt / gamma,

(the system-entropy term averages to zero in the steady state). On the driven
ring at the defaults it is 1.7 % below ``sigma dt``: comparing a pair estimate
with ``sigma dt`` there blamed the estimator for the simulator's discretisation.
No closed form exists, so :meth:`PlanarChainMixin.chain_ep_estimate` measures
``D`` along independent simulated chains with the exact transition densities
(the same fixed-seed protocol as :meth:`~neep.simulators.fpu_chain.FPUChain.ep_estimate`),
and the sidecar's ``ep_per_step_exact`` is that reference value (the bead
chain's sidecar likewise holds its Euler chain's own value), with its standard
error; ``ep_rate_exact`` and ``ep_per_step_continuous`` stay the continuous
process's.

The host supplies ``_chain_kernel`` (its compiled entry point, a static
method), ``_kernel_params()``, ``_escape()`` (``PlanarSamplerMixin``),
``sample_stationary``, ``radial_range``, ``temperature``, ``gamma`` and ``dt``.
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np

from ._rounds import check_round_arguments, run_rounds
from .fpu_chain import EPEstimate

__all__ = ["CHAIN_PRECISION", "PlanarChainMixin"]

#: Relative standard error of the sidecar's reference run.
CHAIN_PRECISION = 0.003
#: Spawn key of the reference run's streams, apart from any file's (block, time) keys.
_REFERENCE_KEY = 0x4543
#: Burn-in in units of the bulk's diffusion time ``R^2 gamma / T`` (R: outer radius of the bulk).
_BURN_IN = 2.0


class PlanarChainMixin:
    """The chain's own mean EP per step, measured with the exact Euler transition densities."""

    def chain_ep_estimate(
        self,
        precision: float = CHAIN_PRECISION,
        trajectories: int = 64,
        seed: int = 0,
        round_time: float = 250.0,
        max_time: float = 20_000.0,
        workers: int | None = None,
    ) -> EPEstimate:
        """Measure the chain's mean EP per step (as a rate: over ``dt``), with its standard error.

        ``trajectories`` chains start from the Boltzmann density, run a burn-in
        of ``2 R^2 gamma / T`` unmeasured (``R``: the bulk's outer radius), then
        are extended ``round_time`` time units at a time, each summing the
        Euler log-ratio of its steps, until the standard error of the mean is at
        most ``precision`` times it (after at least two rounds) or each has run
        ``max_time``. Trajectory ``b`` of round ``r`` draws from
        ``PCG64(SeedSequence(seed, spawn_key=(0x4543, b, r)))``: the result
        depends on the arguments only, not on ``workers``.

        Returns
        -------
        EPEstimate
            ``rate`` and ``error`` per unit time (the mean per step over ``dt``).
        """
        precision, trajectories, seed, round_time, max_time = check_round_arguments(
            precision, trajectories, seed, round_time, max_time)
        m, steps = int(trajectories), max(1, round(round_time / self.dt))
        burn_in = max(1, math.ceil(_BURN_IN * self.radial_range[1] ** 2 * self.gamma / self.temperature / self.dt))
        x, totals, params, escape = np.empty((m, 2)), np.zeros(m), self._kernel_params(), self._escape()

        def work(b: int, r: int) -> int:
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(_REFERENCE_KEY, b, r))))
            if r == 0:
                x[b] = self.sample_stationary(1, rng)[0]
            return self._chain_kernel(rng, x[b : b + 1], params, self.temperature, self.gamma, self.dt, escape,
                                      burn_in if r == 0 else 0, steps, totals[b : b + 1])

        def check(diverged: int) -> None:
            if diverged:
                raise ValueError(f"dt = {self.dt!r} is too large for these parameters: the Euler-Maruyama "
                                 "chain diverged; use a smaller dt")

        rate, error, duration = run_rounds(work, totals, steps * self.dt, precision, max_time, workers, check,
                                           "neep-chain-ep")
        return EPEstimate(rate=rate, error=error, trajectories=m, duration=duration, burn_in=burn_in * self.dt,
                          seed=int(seed))

    @cached_property
    def chain_reference(self) -> EPEstimate:
        """The fixed-seed reference run behind the sidecar: ``chain_ep_estimate()`` at its defaults."""
        return self.chain_ep_estimate()

    @property
    def chain_ep_per_step(self) -> float:
        """The chain's own mean EP per step (the reference run's; :attr:`chain_reference` has its error)."""
        return self.chain_reference.rate * self.dt

    def _chain_metadata(self) -> dict:
        """The sidecar keys of the chain's own value."""
        ref = self.chain_reference
        return {
            "ep_per_step_exact": ref.rate * self.dt,
            "ep_per_step_exact_error": ref.error * self.dt,
            "ep_reference": {
                "method": "mean Euler log-ratio ln p(x'|x) - ln p(x|x') along independent chains (exact "
                          "Gaussian transition densities), from the Boltzmann density after a burn-in",
                "trajectories": ref.trajectories, "duration": ref.duration, "burn_in": ref.burn_in,
                "seed": ref.seed, "precision": CHAIN_PRECISION,
            },
        }
