"""Pieces of the sampler protocol that every continuous-state model shares.

A continuous model writes float32 states (M, L, d) and, with exact EP,
float32 (M, L-1); each chunk starts from the model's stationary draw or from
the float64 state the previous chunk ended in. Used by the bead chain, the
driven ring and the linear Gaussian chains.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["continuous_outputs", "chunk_start", "simulate_in_memory"]


def continuous_outputs(
    trajectories: int, steps: int, dim: int, exact_ep: bool
) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """States float32 (M, L, d) and, if asked, EP float32 (M, L-1)."""
    shapes = {"states": ((trajectories, steps, dim), np.dtype(np.float32))}
    if exact_ep:
        shapes["ep"] = ((trajectories, steps - 1), np.dtype(np.float32))
    return shapes


def chunk_start(
    out: dict[str, np.ndarray], initial: dict[str, np.ndarray] | None, draw: Callable[[int], np.ndarray]
) -> tuple[np.ndarray, bool, np.ndarray]:
    """The chunk's float64 starting states (m, d), whether EP is wanted, and the EP output (or a dummy).

    ``initial=None``: ``draw(m)`` (a stationary draw); otherwise the state the
    previous chunk returned.
    """
    states = out["states"]
    m, dim = states.shape[0], states.shape[2]
    if initial is None:
        x0 = draw(m)
    else:
        x0 = np.ascontiguousarray(initial["states"], dtype=np.float64).reshape(m, dim)
    want_ep = "ep" in out
    return x0, want_ep, out["ep"] if want_ep else np.empty((0, 0), np.float32)


def simulate_in_memory(
    sampler, trajectories: int, steps: int, seed: int, exact_ep: bool, workers: int | None
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """States, or (states, EP) when ``exact_ep``: what :func:`simulate_to_file` would write, in memory."""
    from .io import simulate_to_arrays

    arrays = simulate_to_arrays(sampler, trajectories, steps, seed=seed, exact_ep=exact_ep, workers=workers)
    return (arrays["states"], arrays["ep"]) if exact_ep else arrays["states"]
