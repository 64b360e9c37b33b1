"""What is recorded of a flashing ratchet: the jump chain, continuous time, or the hidden view.

:class:`RatchetView` is the sampler that ``neep.simulators.io`` drives to write
ratchet trajectory files; the physics lives in :mod:`neep.simulators.ratchet`.
"""

from __future__ import annotations

from dataclasses import dataclass
import numbers
from typing import TYPE_CHECKING, Any

import numpy as np

from ._ratchet_kernels import N_SITES, N_STATES

if TYPE_CHECKING:  # pragma: no cover
    from .ratchet import FlashingRatchet

# What a view reads of its ratchet.
_READS = ("kernel_tables", "parameters", "mean_jump_time", "ep_rate", "ep_per_jump")

__all__ = ["RatchetView"]


@dataclass(frozen=True)
class RatchetView:
    """What is recorded of a :class:`FlashingRatchet`: the sampler the file writer drives.

    Implements the ``Sampler`` protocol of ``neep.simulators.io``: ``outputs``,
    ``fill`` and ``metadata``. Every trajectory starts from the stationary
    distribution of the jump chain (also for ``continuous_time``: the record
    is a sequence of jumps, so the first recorded state is the state just
    after a jump in steady state), hence every recorded step is in steady state.

    Parameters
    ----------
    ratchet : FlashingRatchet
    hidden : bool
        Record ``state % 3`` (the paper's partial-information problem). The
        exact EP written with ``exact_ep`` stays the full-information one.
    continuous_time : bool
        Simulate the continuous-time chain by Gillespie and record the time of
        every state (output ``"times"``); the state sequence is still the jump chain.
    """

    ratchet: FlashingRatchet
    hidden: bool = False
    continuous_time: bool = False

    def __post_init__(self) -> None:
        # Duck-typed (this module imports the ratchet for type hints only): what the view reads of it.
        if not all(hasattr(self.ratchet, name) for name in _READS):
            raise ValueError(f"ratchet must be a FlashingRatchet, got {type(self.ratchet).__name__}")

    @property
    def n_states(self) -> int:
        """Number of distinct recorded values: 3 when hidden, else 6."""
        return N_SITES if self.hidden else N_STATES

    def outputs(self, trajectories: int, steps: int, exact_ep: bool) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """Arrays a file of ``trajectories`` x ``steps`` holds: name -> (shape, dtype).

        ``"states"`` int8 ``(M, L)``; ``"ep"`` float32 ``(M, L - 1)`` when
        ``exact_ep``; ``"times"`` float64 ``(M, L)`` when ``continuous_time``.
        """
        for name, value in (("trajectories", trajectories), ("steps", steps)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        m, length = int(trajectories), int(steps)
        shapes = {"states": ((m, length), np.dtype(np.int8))}
        if exact_ep:
            shapes["ep"] = ((m, length - 1), np.dtype(np.float32))
        if self.continuous_time:
            shapes["times"] = ((m, length), np.dtype(np.float64))
        return shapes

    def fill(
        self,
        rng: np.random.Generator,
        out: dict[str, np.ndarray],
        initial: dict[str, np.ndarray] | None = None,
    ) -> dict[str, np.ndarray]:
        """Fill one chunk in place (thread-safe; the kernel releases the GIL).

        Parameters
        ----------
        rng : numpy.random.Generator
            This chunk's stream, used serially.
        out : dict
            ``"states"`` int8 ``(m, l)``, optionally ``"ep"`` float32 and
            ``"times"`` float64 (required when ``continuous_time``): slices of
            the output arrays for this chunk's trajectories and time range.
        initial : dict or None
            None for a first time chunk: the first state is drawn from the
            stationary distribution and ``out["ep"]`` has ``l - 1`` columns.
            Otherwise the previous time chunk's carry (pass the dict the
            previous ``fill`` returned): ``out["states"][:, 0]`` is the successor
            of that state, ``out["ep"]`` has ``l`` columns, times continue. It
            needs ``"states"`` (last full state, 0..5) and ``"times"`` (when
            ``continuous_time``); the hidden view needs ``"full_states"``
            (the recorded ``state % 3`` cannot continue the chain).

        Returns
        -------
        carry : dict
            ``"states"`` (last recorded values), ``"full_states"`` (last full
            states, int8) and ``"times"`` (continuous time): the ``initial`` of
            the next time chunk.
        """
        from neep.simulators import _ratchet_kernels as kernels

        states = out["states"]
        if states.ndim != 2 or states.dtype != np.int8:
            raise ValueError(f"out['states'] must be int8 of shape (m, l), got {states.dtype} {states.shape}")
        m, length = states.shape
        continuing = initial is not None
        if continuing:
            key = "full_states" if self.hidden or "full_states" in initial else "states"
            if key not in initial:
                raise ValueError(
                    "the hidden view continues a time chunk from the full state: pass "
                    "initial['full_states'] (the dict the previous fill returned)"
                )
            start = np.asarray(initial[key]).astype(np.int64).reshape(-1)
            if start.shape != (m,) or (start < 0).any() or (start >= N_STATES).any():
                raise ValueError(f"initial[{key!r}] must hold {m} states in 0..5, got {initial[key]!r}")
        else:
            start = np.zeros(m, dtype=np.int64)
        write_ep = "ep" in out
        if write_ep:
            ep = out["ep"]
            expected = (m, length if continuing else length - 1)
            if ep.shape != expected or ep.dtype != np.float32:
                raise ValueError(f"out['ep'] must be float32 of shape {expected}, got {ep.dtype} {ep.shape}")
        else:
            ep = np.empty((m, 0), dtype=np.float32)
        tables = self.ratchet.kernel_tables
        modulus = self.n_states
        if self.continuous_time:
            times = out.get("times")
            if times is None or times.shape != (m, length) or times.dtype != np.float64:
                raise ValueError(f"out['times'] must be float64 of shape {(m, length)} for the continuous-time view")
            if continuing:
                if "times" not in initial:
                    raise ValueError("initial['times'] is required to continue a continuous-time chunk")
                clock = np.asarray(initial["times"], dtype=np.float64).reshape(-1)
                if clock.shape != (m,):
                    raise ValueError(f"initial['times'] must have shape ({m},), got {clock.shape}")
            else:
                clock = np.zeros(m)
            last = kernels.gillespie_chain(
                rng, tables["targets"], tables["cumulative"], tables["step_ep"], tables["start_cumulative"],
                tables["mean_dwell"], start, clock, continuing, modulus, states, times, ep, write_ep,
            )  # fmt: skip
        else:
            last = kernels.jump_chain(
                rng, tables["targets"], tables["cumulative"], tables["step_ep"], tables["start_cumulative"],
                start, continuing, modulus, states, ep, write_ep,
            )  # fmt: skip
        carry = {"states": states[:, -1].copy(), "full_states": last.astype(np.int8)}
        if self.continuous_time:
            carry["times"] = out["times"][:, -1].copy()
        return carry

    def metadata(self) -> dict[str, Any]:
        """The sidecar's model-specific keys (JSON-ready Python types)."""
        r = self.ratchet
        notes = [
            "states: 0,1,2 potential on at sites 0,1,2 (energies 0, V, 2V); 3,4,5 potential off",
            "rates k_ij = exp(-(V_j - V_i)/(2T)) on, 1 off, switching r; each step is one jump",
            "ep_per_step_exact: total EP per jump of the jump chain (ln pi_a P_ab / pi_b P_ba)",
            "ep_rate_exact: per unit time of the continuous-time chain",
        ]
        if self.continuous_time:
            notes.append("dt is the exact mean time per jump; times holds the time of every state")
        else:
            notes.append("dt null: steps are jumps, an estimate per step compares with ep_per_step_exact")
        if self.hidden:
            notes.append(
                "hidden view (state % 3): the exact EP values and the ep file are the FULL-information "
                "ones, an upper bound for what the observed sequence reveals"
            )
        return {
            "model": "flashing-ratchet",
            "state": "discrete",
            "n_states": self.n_states,
            "parameters": r.parameters,
            "dt": r.mean_jump_time if self.continuous_time else None,
            "ep_rate_exact": r.ep_rate,
            "ep_per_step_exact": r.ep_per_jump,
            "hidden": bool(self.hidden),
            "continuous_time": bool(self.continuous_time),
            "notes": "; ".join(notes),
        }
