"""Localization noise: record ``y_t = x_t + eta_t``, ``eta_t`` white Gaussian, for any continuous sampler.

Experiments record positions with a measurement error. :class:`LocalizationNoise`
wraps any continuous sampler (the sampler protocol of :mod:`neep.simulators.io`)
and adds independent ``N(0, std^2)`` noise to every recorded coordinate,
after the wrapped sampler has filled its chunk: the dynamics, the state each
chunk continues from and the exact EP (sidecar and ``PATH.ep.npy``) are those
of the underlying, noiseless process. The noise is drawn from the chunk's own
generator after the wrapped sampler's draws, so a file is reproducible from
its seed, independent of the number of workers, and its noiseless states are
those of the same seed without noise (up to the float32 rounding of the sum).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import real as _real

__all__ = ["LocalizationNoise"]


class LocalizationNoise:
    """A sampler that adds Gaussian localization noise to another's recorded states.

    Parameters
    ----------
    sampler : Sampler
        A sampler of continuous states (its ``metadata()["state"]`` is
        ``"continuous"``), e.g. ``BeadSpring()``.
    std : float
        Standard deviation of the noise, in the units of the states (>= 0).

    Raises
    ------
    ValueError
        ``std`` negative or not finite; discrete states (noise has no meaning there).

    Examples
    --------
    >>> from neep.simulators import BeadSpring, simulate_to_arrays
    >>> noisy = LocalizationNoise(BeadSpring(n=2), 0.1)
    >>> noisy.metadata()["localization_noise"]
    0.1
    """

    def __init__(self, sampler: Any, std: float) -> None:
        std = _real("noise", std)
        if std < 0:
            raise ValueError(f"noise must be >= 0, got {std!r}")
        meta = sampler.metadata()
        if meta.get("state") != "continuous":
            raise ValueError(
                f"noise must be 0 for discrete states ({meta.get('model', 'this model')}): "
                "localization noise applies to continuous states only"
            )
        self.sampler = sampler
        self.std = std

    def outputs(self, trajectories: int, steps: int, exact_ep: bool) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """Those of the wrapped sampler."""
        return self.sampler.outputs(trajectories, steps, exact_ep)

    def fill(
        self, rng: np.random.Generator, out: dict[str, np.ndarray], initial: dict[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """Let the wrapped sampler fill the chunk, then add noise to ``out["states"]`` in place.

        Returns the noiseless state to continue from (the wrapped sampler's, or
        the chunk's last noiseless states when it returns none).
        """
        carry = self.sampler.fill(rng, out, initial)
        if carry is None:
            carry = {name: np.array(out[name][:, -1]) for name in ("states", "times") if name in out}
        states = out["states"]
        # float64 sum, one rounding to the file's dtype
        np.add(states, self.std * rng.standard_normal(states.shape), out=states, casting="unsafe")
        return carry

    def metadata(self) -> dict[str, Any]:
        """The wrapped sampler's keys, plus ``localization_noise``; the exact EP stays the noiseless process's."""
        meta = dict(self.sampler.metadata())
        meta["localization_noise"] = self.std
        meta["notes"] = (
            meta.get("notes", "")
            + f" Recorded states carry independent Gaussian localization noise of std {self.std:g} on every "
            "coordinate; the exact EP values are those of the noiseless process."
        ).strip()
        return meta
