"""Ragged sets: trajectories of different lengths, from several files, npz keys, a folder or a list.

A ``TrajectorySet`` is a tuple of rectangular parts (``Trajectories``, each
``(M_i, L_i[, d])``, memory-mapped where its file allows: nothing is copied
into RAM). It answers the same questions as ``Trajectories`` (``discrete``,
``dim``, ``dt``, ``split``, ``check_seq_len``...) and its ``states`` /
``exact_ep`` are tuples of the parts' arrays. The estimators accept such
tuples wherever they take states:

* training windows are drawn uniformly over all windows of all parts and
  never cross a trajectory boundary (``data.windows.iter_window_blocks``);
* the held-out split is by trajectory, weighted by length (``split``);
* per-step EP is a tuple of per-part ``(M_i, K_i)`` arrays (``map_parts``);
  the rate weights each trajectory by its time: the ratio estimator of
  ``stats.uncertainty.block_statistics`` with trajectory ``m``'s slope weighted by
  its number of steps ``K_m`` (for equal lengths, the plain slope estimator);
  bootstrap blocks are whole trajectories (32 or more), else time blocks;
* the monitor's in-memory subset (``held_out_subset``) cuts whole
  trajectories into pieces of a common length that overlap by one state, so
  every pair (every tiling window) is kept once.

Labels (discrete states) and dt are made common to all parts when the set is
built (``load_set``): one mapping for the union of labels; dt must agree
(jump data: the pooled mean waiting time).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .labels import describe_labels, encode
from .readers import read_arrays
from .trajectories import Trajectories, build_trajectories, check_dt, load_trajectories

__all__ = ["TrajectorySet", "load_set", "load_data", "as_data", "map_parts", "flat", "shape_of",
           "sample_states", "ragged_subset", "per_trajectory", "SKIPPED_SUFFIXES"]

# Companion files that a folder of trajectories may hold beside the data.
SKIPPED_SUFFIXES = (".json", ".ep.npy", ".times.npy", ".md", ".txt.log")


@dataclasses.dataclass(frozen=True)
class TrajectorySet:
    """Several rectangular parts of one kind of trajectories (see module doc).

    Attributes
    ----------
    parts : tuple of Trajectories
        Same kind of states, dimension, labels and dt.
    """

    parts: tuple

    def _first(self) -> Trajectories:
        return self.parts[0]

    discrete = property(lambda self: self._first().discrete)
    n_states = property(lambda self: self._first().n_states)
    labels = property(lambda self: self._first().labels)
    dt = property(lambda self: self._first().dt)
    dt_known = property(lambda self: self._first().dt_known)
    dim = property(lambda self: self._first().dim)
    path = None
    describe_states = Trajectories.describe_states

    @property
    def states(self) -> tuple:
        return tuple(p.states for p in self.parts)

    @property
    def exact_ep(self) -> tuple | None:
        eps = [p.exact_ep for p in self.parts]
        return None if any(e is None for e in eps) else tuple(eps)

    def _common(self, field: str) -> float | None:
        values = {getattr(p, field) for p in self.parts}
        return values.pop() if len(values) == 1 else None

    @property
    def ep_per_step_exact(self) -> float | None:
        return self._common("ep_per_step_exact")

    @property
    def ep_rate_exact(self) -> float | None:
        return self._common("ep_rate_exact")

    @property
    def metadata(self) -> dict:
        return {"parts": [p.metadata for p in self.parts]}

    @property
    def name(self) -> str:
        names = [p.name for p in self.parts]
        return names[0] if len(set(names)) == 1 else f"{names[0]} and {len(self.parts) - 1} more"

    @property
    def n_trajectories(self) -> int:
        return sum(p.n_trajectories for p in self.parts)

    @property
    def lengths(self) -> np.ndarray:
        """States per trajectory, in order, ``(M,)``."""
        return np.concatenate([p.lengths for p in self.parts])

    @property
    def n_steps(self) -> int:
        """The shortest trajectory's number of states."""
        return int(self.lengths.min())

    def check_seq_len(self, seq_len: int) -> None:
        """Raise ``ValueError`` when a trajectory is shorter than one window."""
        for p in self.parts:
            if p.n_steps < seq_len:
                raise ValueError(f"{p.name}: trajectories have {p.n_steps} steps, fewer than one window "
                                 f"(seq_len={seq_len})")

    def split(self, fraction: float = 0.5, min_steps: int = 2) -> tuple[Any, Any]:
        """(train, held-out) by trajectory, the cut placed so the training share of *steps* is ``fraction``.

        With one trajectory in all, by time (``Trajectories.split``). A part
        that ends up alone is returned as plain ``Trajectories``.
        """
        if not 0 < fraction < 1:
            raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
        if self.n_trajectories == 1:
            return self._first().split(fraction, min_steps)
        cumulative = np.cumsum(self.lengths - 1)
        cut = int(np.argmin(np.abs(cumulative[:-1] - fraction * cumulative[-1]))) + 1
        return _rows(self.parts, 0, cut), _rows(self.parts, cut, self.n_trajectories)


def _rows(parts: Sequence[Trajectories], begin: int, end: int):
    """Trajectories ``begin..end-1`` of the set, as a set (or one part)."""
    out, offset = [], 0
    for p in parts:
        a, b = max(begin - offset, 0), min(end - offset, p.n_trajectories)
        if a < b:
            ep = None if p.exact_ep is None else p.exact_ep[a:b]
            out.append(dataclasses.replace(p, states=p.states[a:b], exact_ep=ep))
        offset += p.n_trajectories
    return out[0] if len(out) == 1 else TrajectorySet(tuple(out))


# -- building a set ----------------------------------------------------------------------------------
def _expand(sources: Sequence[Any]) -> list[Any]:
    """Folders become their trajectory files (sorted, companions skipped)."""
    out: list[Any] = []
    for source in sources:
        if isinstance(source, (str, Path)) and Path(source).is_dir():
            files = sorted(f for f in Path(source).iterdir() if f.is_file() and not f.name.startswith(".")
                           and not any(f.name.endswith(s) for s in SKIPPED_SUFFIXES))
            if not files:
                raise ValueError(f"folder {str(source)!r} holds no trajectory files")
            out.extend(files)
        else:
            out.append(source)
    return out


def _read_parts(source: Any, options: dict) -> list[Trajectories]:
    if isinstance(source, Trajectories):
        return [source]
    if isinstance(source, TrajectorySet):
        return list(source.parts)
    if isinstance(source, np.ndarray):
        return [Trajectories.from_array(source, dt_known=False)]
    if not isinstance(source, (str, Path)):
        raise ValueError(f"a trajectory source must be a path, an array or Trajectories, got {type(source).__name__}")
    raw = read_arrays(source, **{k: options.get(k) for k in ("key", "columns", "time_column", "waiting_time_column")})
    if len(raw.arrays) == 1:
        return [load_trajectories(source, **options)]
    return [build_trajectories(a, name=n, dt=1.0, dt_known=False, exact_ep=None, n_states=None, ep_per_step_exact=None,
                   ep_rate_exact=None, metadata={}, path=Path(source), validate=True)
            for a, n in zip(raw.arrays, raw.names)]


def _common_labels(parts: list[Trajectories], labels) -> list[Trajectories]:
    if labels is None:
        union = sorted({v for p in parts for v in p.labels}, key=lambda v: (isinstance(v, str), v))
        if any(isinstance(v, str) for v in union) and not all(isinstance(v, str) for v in union):
            raise ValueError("some files hold text labels and others numbers: one kind of labels per set")
        labels = union
    labels = list(labels)
    out = []
    for p in parts:
        if list(p.labels) == labels:
            out.append(p)
            continue
        table = np.asarray(p.labels)  # code -> original label, then encode under the common labels
        codes = encode(table, np.asarray(labels), p.name)
        states = codes[np.asarray(p.states)].astype(codes.dtype)
        out.append(dataclasses.replace(p, states=states, n_states=len(labels), labels=tuple(labels)))
    return out


def _common_dt(parts: list[Trajectories], dt: float | None) -> list[Trajectories]:
    if dt is not None:
        value = check_dt(dt)
        return [dataclasses.replace(p, dt=value, dt_known=True) for p in parts]
    jumps = [p for p in parts if p.metadata.get("jump_data")]
    if jumps:
        if len(jumps) != len(parts):
            raise ValueError("a set mixes jump data (with times) and data without times")
        total = sum(p.metadata["mean_waiting_time"] * p.metadata["jumps"] for p in parts)
        value = total / sum(p.metadata["jumps"] for p in parts)
        return [dataclasses.replace(p, dt=value, dt_known=True) for p in parts]
    known = {p.dt for p in parts if p.dt_known}
    if len(known) > 1 and (max(known) - min(known)) > 1e-9 * max(known):
        named = ", ".join(f"{p.dt:g} in {p.name}" for p in parts if p.dt_known)
        raise ValueError(f"the files have different time steps ({named}); resample them, or pass --dt to override")
    if not known:
        return parts
    value = known.pop()
    return [dataclasses.replace(p, dt=value, dt_known=True) for p in parts]


def load_set(sources: Sequence[Any], dt: float | None = None, *, key: str | None = None,
             columns: str | list | None = None, time_column: str | int | None = None,
             waiting_time_column: str | int | None = None, labels=None) -> Trajectories | TrajectorySet:
    """Trajectories from several sources: files of any format, folders, arrays, ``Trajectories``.

    Parameters
    ----------
    sources : sequence
        Paths (a folder stands for its trajectory files), arrays
        (``(L[, d])`` one trajectory, ``(M, L[, d])`` several) or
        ``Trajectories``; a 1-element sequence is allowed.
    dt : float, optional
        Time per step for all; default: the files' (they must agree).
    key, columns, time_column, waiting_time_column
        As ``load_trajectories``, applied to every file (``key="*"``: every
        array of an npz or HDF5 file).
    labels : sequence, optional
        Discrete states: the labels to code them with (a trained model's).

    Returns
    -------
    Trajectories or TrajectorySet
        Plain ``Trajectories`` when everything is one rectangular part.
    """
    if isinstance(sources, (str, Path, np.ndarray, Trajectories)):
        sources = [sources]
    options = dict(key=key, columns=columns, time_column=time_column, waiting_time_column=waiting_time_column)
    parts: list[Trajectories] = []
    for source in _expand(list(sources)):
        parts.extend(_read_parts(source, options))
    if not parts:
        raise ValueError("no trajectories given")
    kinds = {(p.discrete, p.dim) for p in parts}
    if len(kinds) > 1:
        described = "; ".join(f"{p.name}: {p.describe_states()}" for p in parts)
        raise ValueError(f"the trajectories are not of one kind ({described})")
    if parts[0].discrete:
        parts = _common_labels(parts, labels)
    parts = _common_dt(parts, dt)
    return parts[0] if len(parts) == 1 else TrajectorySet(tuple(parts))


def as_data(data: Any, dt: float | None = None, labels=None) -> Trajectories | TrajectorySet:
    """The one coercion of the input: ``Trajectories`` / ``TrajectorySet``, an array, a path, or a list of these.

    A list (several files, arrays of different lengths) or a folder is a
    ragged set (``load_set``). ``dt``: the time per step, overriding the
    data's own (a sidecar's, or a ``Trajectories``'); None keeps it (an
    array without one is per step, dt 1). ``labels``: code discrete states
    with these (a trained model's; an unseen state is an error).
    Already-read data are returned as they are when nothing changes.
    """
    if dt is not None and (isinstance(dt, bool) or not isinstance(dt, (int, float, np.integer, np.floating))
                           or not dt > 0):
        raise ValueError(f"dt must be > 0, got {dt!r}")
    if isinstance(data, (Trajectories, TrajectorySet)):
        if labels is not None and data.discrete and list(data.labels) != list(labels):
            data = load_set([data], labels=labels)
        if dt is not None and isinstance(data, Trajectories):
            data = dataclasses.replace(data, dt=float(dt), dt_known=True)
        elif dt is not None:
            data = TrajectorySet(tuple(dataclasses.replace(p, dt=float(dt), dt_known=True) for p in data.parts))
        return data
    if isinstance(data, (str, Path)):
        if Path(data).is_dir():
            return load_set([data], dt=dt, labels=labels)
        return load_trajectories(data, dt=dt, labels=labels)
    if isinstance(data, np.ndarray):
        return Trajectories.from_array(data, dt=1.0 if dt is None else dt, dt_known=dt is not None, labels=labels)
    if isinstance(data, (list, tuple)):
        return load_set(list(data), dt=dt, labels=labels)
    raise ValueError(f"data must be Trajectories, a NumPy array, a path or a list of these, got {type(data).__name__}")


def load_data(paths: Sequence[Any], **options: Any) -> Trajectories | TrajectorySet:
    """``load_set`` under the name the commands use (NumPy only: no TensorFlow is imported)."""
    return load_set(paths, **options)


# -- per-part arithmetic -------------------------------------------------------------------------------
def map_parts(fn: Callable[[np.ndarray], Any], states: Any) -> Any:
    """``fn(states)``, or a tuple of ``fn(part)`` for a tuple of parts."""
    return tuple(fn(s) for s in states) if isinstance(states, tuple) else fn(states)


def flat(values: Any) -> np.ndarray:
    """All entries of an array or of a tuple of arrays, as one 1-D array."""
    if isinstance(values, tuple):
        return np.concatenate([np.asarray(v).ravel() for v in values])
    return np.asarray(values).ravel()


def shape_of(states: Any) -> list:
    """``list(shape)``, or one such list per part."""
    return [list(s.shape) for s in states] if isinstance(states, tuple) else list(states.shape)


def per_trajectory(delta_s: Any) -> list[np.ndarray]:
    """One 1-D array per trajectory (rows of every part, in order)."""
    parts = delta_s if isinstance(delta_s, tuple) else (delta_s,)
    return [np.asarray(row) for part in parts for row in part]


def sample_states(states: Any, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` states drawn uniformly over all steps of all trajectories, float64 ``(count, d)``."""
    parts = states if isinstance(states, tuple) else (states,)
    sizes = np.array([s.shape[0] * s.shape[1] for s in parts], dtype=np.float64)
    which = rng.choice(len(parts), size=count, p=sizes / sizes.sum())
    out = []
    for k, part in enumerate(parts):
        n = int(np.sum(which == k))
        if n:
            m = rng.integers(0, part.shape[0], size=n)
            t = rng.integers(0, part.shape[1], size=n)
            out.append(np.asarray(part[m, t], dtype=np.float64))
    return np.concatenate(out).reshape(count, -1)


def ragged_subset(states: tuple, exact_ep: tuple | None, max_windows: int, seq_len: int, seed: int
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """A rectangular in-memory subset of a ragged set for the monitors (see module doc)."""
    stride = seq_len - 1
    rows = [(k, m) for k, s in enumerate(states) for m in range(s.shape[0])]
    order = np.random.default_rng(seed).permutation(len(rows))
    chosen, windows = [], 0
    for i in order:
        k, m = rows[i]
        chosen.append((k, m))
        windows += (states[k].shape[1] - 1) // stride
        if windows >= max_windows:
            break
    shortest = min(states[k].shape[1] for k, _ in chosen)
    piece = ((shortest - 1) // stride) * stride + 1  # states per piece: whole windows, last state shared
    piece = min(piece, max_windows * stride + 1)
    pieces, eps = [], []
    for k, m in sorted(chosen):
        length = states[k].shape[1]
        for begin in range(0, length - piece + 1, piece - 1):
            pieces.append(np.asarray(states[k][m, begin : begin + piece]))
            if exact_ep is not None:
                eps.append(np.asarray(exact_ep[k][m, begin : begin + piece - 1]))
            if len(pieces) * (piece - 1) // stride >= max_windows:
                break
        if len(pieces) * (piece - 1) // stride >= max_windows:
            break
    return np.stack(pieces), (np.stack(eps) if exact_ep is not None else None)


def describe(data: Any) -> str:
    """``"3 trajectories of 1000..5000"`` or ``"1000 x 10000"`` (states; for messages)."""
    if isinstance(data, TrajectorySet):
        lengths = data.lengths
        return f"{data.n_trajectories} trajectories of {lengths.min()}..{lengths.max()}"
    return f"{data.n_trajectories} x {data.n_steps}"


__all__ += ["describe", "describe_labels"]
