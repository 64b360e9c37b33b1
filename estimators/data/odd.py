"""Variables odd under time reversal (velocities, momenta): naming them, flipping them, spotting them. NumPy only.

With odd columns the time reverse of a step ``(z, z')`` is ``(eps z', eps z)``,
``eps`` flipping the sign of those columns (``neep fit --odd``). Three pieces:

* ``resolve_odd``: the odd columns from names (the sidecar's ``columns``) or
  0-based indices, checked against the data's dimension;
* ``parity_signs`` / ``flip_odd``: the vector ``eps`` and ``eps z``;
* ``find_velocities``: columns that look like the time derivative of others
  (``corr(dx_i / dt, v_j)`` close to 1), for the refusal of ``neep fit``
  when such data come without ``--odd``: reversing a velocity as if it were
  a position makes the pair estimate diverge (issue 16: 9.8e5 for 0.667).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

__all__ = ["resolve_odd", "parity_signs", "flip_odd", "VelocityMatch", "find_velocities", "sidecar_columns",
           "VELOCITY_CORRELATION"]

#: ``corr(dx_i / dt, v_j)`` above this: column ``j`` is taken for the velocity of column ``i``. For a
#: sampled underdamped process the correlation of the finite difference with the velocity is
#: ``1 - O(gamma dt)`` (0.997 for gamma dt = 0.01 in the trap); for two overdamped coordinates it
#: is of order sqrt(dt) (the increment is noise-dominated), far below.
VELOCITY_CORRELATION = 0.9

#: States read for the check (from the start of each trajectory): enough for a correlation to
#: a few 1e-3, few enough to take milliseconds on a memory-mapped file.
_CHECK_STEPS = 20000


def sidecar_columns(data) -> list | None:
    """The column names of ``data`` from its sidecar (``columns``), or None."""
    meta = getattr(data, "metadata", None) or {}
    parts = meta.get("parts")
    if parts:
        meta = parts[0]
    columns = meta.get("columns")
    return list(columns) if columns else None


def resolve_odd(spec, dim: int, columns: Sequence[str] | None = None) -> tuple[int, ...]:
    """Sorted 0-based indices of the odd columns named by ``spec`` ("v1,v2", "2,3" or a sequence).

    Raises
    ------
    ValueError
        For an unknown name, an index out of range, a repeat, or an empty spec.
    """
    items = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    if not items or any(item == "" for item in items):
        raise ValueError(f"odd: give column names or 0-based indices separated by commas, got {spec!r}")
    found = []
    for item in items:
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            index = int(item)
        elif isinstance(item, str) and item.lstrip("-").isdigit():
            index = int(item)
        elif isinstance(item, str) and columns is not None and item in columns:
            index = list(columns).index(item)
        else:
            names = ", ".join(columns) if columns else f"no names known; indices 0..{dim - 1}"
            raise ValueError(f"odd: no column {item!r} (columns: {names})")
        if not 0 <= index < dim:
            raise ValueError(f"odd: column index {index} is out of range (the states have {dim} columns)")
        if index in found:
            raise ValueError(f"odd: column {item!r} is named twice")
        found.append(index)
    return tuple(sorted(found))


def parity_signs(odd: Sequence[int], dim: int, dtype=np.float32) -> np.ndarray:
    """``eps`` as a vector: -1 at the odd columns, +1 elsewhere."""
    signs = np.ones(int(dim), dtype=dtype)
    signs[list(odd)] = -1
    return signs


def flip_odd(states: np.ndarray, odd: Sequence[int]) -> np.ndarray:
    """``eps z`` for states ``(..., d)``: the odd columns negated (exact in floating point)."""
    states = np.asarray(states)
    return states * parity_signs(odd, states.shape[-1], states.dtype)


@dataclasses.dataclass(frozen=True)
class VelocityMatch:
    """Column ``velocity`` looks like the time derivative of column ``position`` (``correlation``)."""

    position: int
    velocity: int
    correlation: float


def find_velocities(states, dt: float, threshold: float = VELOCITY_CORRELATION) -> list[VelocityMatch]:
    """Columns whose values match another column's increments / dt (one match per velocity column).

    Reads at most the first 20000 states of each of the first trajectories
    (``states``: ``(M, L, d)`` array or memmap, or a tuple of them). The
    correlation of ``(x_i(t+1) - x_i(t)) / dt`` with the midpoint value
    ``(v_j(t) + v_j(t+1)) / 2``; ``dt`` only scales, so it does not matter.
    """
    parts = states if isinstance(states, tuple) else (states,)
    first = np.asarray(parts[0])
    if first.ndim != 3 or first.shape[2] < 2 or first.shape[1] < 3:
        return []
    per = max(2, min(first.shape[1], _CHECK_STEPS // max(1, min(first.shape[0], 50))))
    sample = np.asarray(first[:50, :per], dtype=np.float64)
    diff = (sample[:, 1:] - sample[:, :-1]).reshape(-1, sample.shape[2]) / float(dt)
    mid = (0.5 * (sample[:, 1:] + sample[:, :-1])).reshape(-1, sample.shape[2])
    matches = []
    for j in range(sample.shape[2]):
        best = None
        for i in range(sample.shape[2]):
            if i == j:
                continue
            a, b = diff[:, i] - diff[:, i].mean(), mid[:, j] - mid[:, j].mean()
            scale = np.sqrt(np.sum(a * a) * np.sum(b * b))
            corr = float(np.sum(a * b) / scale) if scale > 0 else 0.0
            if corr > threshold and (best is None or corr > best.correlation):
                best = VelocityMatch(i, j, corr)
        if best is not None:
            matches.append(best)
    return matches
