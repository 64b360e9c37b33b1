"""Trajectory files in, validated ``Trajectories`` out (the estimators' side of the data contract).

A trajectory file holds continuous states, float ``(M, L, d)`` (also
``(L, d)`` and ``(L,)``, read as M = 1), or discrete states, integer or text
labels ``(M, L)`` / ``(L,)``. Its format (.npy, .npz, HDF5, CSV/TSV) is read
by ``data.readers``; discrete labels are mapped to the codes ``0..K-1`` by
``labels`` (the mapping is kept in ``Trajectories.labels``). Optional beside
it: the sidecar ``PATH.json`` (dt, exact EP rate and per-step value,
``ep_file``) and ``PATH.ep.npy``, the exact per-step EP ``(M, L-1)``.

Jump data: one column of discrete states with a time (or waiting-time)
column is a continuous-time jump trajectory. Each step is one jump; dt is
set to the mean waiting time, so that the EP rate per unit time is the EP per
jump divided by the mean time per jump. That holds for a stationary Markov
jump process: the EP of a jump, ``ln(w_ab / w_ba)``, differs from the
jump chain's ``ln(P_ab / P_ba)`` by ``ln(lambda_a / lambda_b)`` (escape
rates), which telescopes along a trajectory and averages to zero in steady
state; the waiting times themselves carry no EP when they depend on the
current state only (exponential, the Markov assumption). Semi-Markov data
(waiting times that depend on the next state) would need more.

Files are opened memory-mapped where the format allows and never loaded
whole; validation scans them in chunks. Every problem raises ``ValueError``
with one line naming it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from .labels import describe_labels, encode, observed_labels
from .readers import read_arrays

__all__ = ["Trajectories", "load_trajectories", "sidecar_path", "read_sidecar", "check_dt", "build_trajectories"]

_CHUNK = 1 << 22  # elements per validation chunk (16 MiB of float32)


def sidecar_path(path: str | Path) -> Path:
    """``x.npy`` -> ``x.json``."""
    path = Path(path)
    return path.with_suffix(".json")


def check_dt(dt: Any) -> float:
    try:
        value = float(dt)
    except (TypeError, ValueError):
        raise ValueError(f"dt must be a number > 0, got {dt!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"dt must be > 0, got {dt!r}")
    return value


def _normalise_shape(states: np.ndarray, name: str) -> tuple[np.ndarray, bool]:
    """Return states as (M, L, d) float or (M, L) int, and whether discrete."""
    dtype = states.dtype
    if dtype == object:
        raise ValueError(f"{name}: object dtype is not supported, expected float or integer states")
    if np.issubdtype(dtype, np.bool_) or not (
        np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer) or dtype.kind in "US"
    ):
        raise ValueError(f"{name}: dtype {dtype} is not supported, expected float or integer states")
    discrete = bool(np.issubdtype(dtype, np.integer)) or dtype.kind in "US"
    ndim = states.ndim
    if discrete:
        if ndim == 1:
            states = states[None, :]
        elif ndim != 2:
            raise ValueError(f"{name}: discrete states (integers or labels) must have shape (M, L) or (L,), "
                             f"got {states.shape}")
    else:
        if ndim == 1:
            states = states[None, :, None]
        elif ndim == 2:
            states = states[None, :, :]
        elif ndim != 3:
            raise ValueError(f"{name}: float states must have shape (M, L, d), (L, d) or (L,), got {states.shape}")
    if states.shape[0] < 1 or states.shape[1] < 2 or (not discrete and states.shape[2] < 1):
        raise ValueError(f"{name}: need at least one trajectory of 2 steps, got shape {states.shape}")
    return states, discrete


def _scan(states: np.ndarray, name: str) -> None:
    """Chunked check of continuous states: every value finite."""
    m_count, length = states.shape[:2]
    per_traj = int(np.prod(states.shape[1:]))
    steps_per_chunk = max(1, _CHUNK // max(1, per_traj // length))
    for m in range(m_count):
        for start in range(0, length, steps_per_chunk):
            block = np.asarray(states[m, start : start + steps_per_chunk])
            finite = np.isfinite(block)
            if not finite.all():
                bad = np.argwhere(~finite)[0]
                value = block[tuple(bad)]
                raise ValueError(f"{name}: non-finite value {value} in trajectory {m} at step {start + int(bad[0])}")


@dataclasses.dataclass(frozen=True)
class Trajectories:
    """Validated trajectories, memory-mapped when they come from a file.

    Attributes
    ----------
    states : np.ndarray
        ``(M, L, d)`` floating (continuous; cast to float32 when gathered) or
        ``(M, L)`` integer (discrete) states; a read-only memmap for files.
    discrete : bool
    n_states : int or None
        Number of discrete states K (the sidecar's ``n_states``, else the
        number of distinct labels).
    labels : tuple or None
        Discrete states: the original label of each code ``0..K-1`` (ints or
        str; ``(0, ..., K-1)`` when the data were codes already). None for
        continuous states.
    dt : float
        Time per step (explicit > sidecar > 1.0).
    dt_known : bool
        False when dt defaulted to 1 (rates are then per step).
    exact_ep : np.ndarray or None
        Exact per-step EP ``(M, L-1)``.
    ep_per_step_exact, ep_rate_exact : float or None
        Exact mean EP per recorded step and per unit time (from the sidecar).
    metadata : dict
        The sidecar (empty if none).
    path : Path or None
    """

    states: np.ndarray
    discrete: bool
    n_states: int | None = None
    dt: float = 1.0
    dt_known: bool = False
    exact_ep: np.ndarray | None = None
    ep_per_step_exact: float | None = None
    ep_rate_exact: float | None = None
    metadata: dict = dataclasses.field(default_factory=dict)
    path: Path | None = None
    labels: tuple | None = None

    @property
    def n_trajectories(self) -> int:
        """M."""
        return int(self.states.shape[0])

    @property
    def n_steps(self) -> int:
        """L, the number of states per trajectory."""
        return int(self.states.shape[1])

    @property
    def dim(self) -> int | None:
        """d for continuous states, None for discrete."""
        return None if self.discrete else int(self.states.shape[2])

    @property
    def name(self) -> str:
        return str(self.path) if self.path is not None else "states"

    @property
    def lengths(self) -> np.ndarray:
        """States per trajectory, ``(M,)`` int64 (all equal here; see ``data.sets.TrajectorySet``)."""
        return np.full(self.n_trajectories, self.n_steps, dtype=np.int64)

    def describe_states(self) -> str:
        """``"continuous, d = 2"`` or ``"discrete, 3 states: 5, 17, 42"``."""
        if not self.discrete:
            return f"continuous, d = {self.dim}"
        labels = self.labels if self.labels is not None else range(self.n_states)
        return f"discrete, {describe_labels(list(labels))}"

    def check_seq_len(self, seq_len: int) -> None:
        """Raise ``ValueError`` when trajectories are shorter than one window."""
        if self.n_steps < seq_len:
            raise ValueError(
                f"{self.name}: trajectories have {self.n_steps} steps, fewer than one window (seq_len={seq_len})"
            )

    @classmethod
    def from_array(
        cls,
        states: np.ndarray,
        dt: float = 1.0,
        exact_ep: np.ndarray | None = None,
        *,
        n_states: int | None = None,
        ep_per_step_exact: float | None = None,
        ep_rate_exact: float | None = None,
        metadata: dict | None = None,
        dt_known: bool = True,
        validate: bool = True,
        labels=None,
    ) -> "Trajectories":
        """Wrap in-memory (or memory-mapped) states, validated like a file.

        ``labels``: for discrete states, the labels to code them with (e.g. a
        trained model's); a state outside them is an error. Default: the
        distinct values of ``states``.
        """
        return build_trajectories(
            np.asarray(states) if not isinstance(states, np.memmap) else states,
            name="states",
            dt=check_dt(dt),
            dt_known=dt_known,
            exact_ep=exact_ep,
            n_states=n_states,
            ep_per_step_exact=ep_per_step_exact,
            ep_rate_exact=ep_rate_exact,
            metadata=metadata or {},
            path=None,
            validate=validate,
            labels=labels,
        )

    def _subset(self, states: np.ndarray, exact_ep: np.ndarray | None) -> "Trajectories":
        return dataclasses.replace(self, states=states, exact_ep=exact_ep)

    def split(self, fraction: float = 0.5, min_steps: int = 2) -> tuple["Trajectories", "Trajectories"]:
        """Split into (train, held-out): by trajectory when M > 1, by time when M = 1.

        ``fraction`` is the training share. By time, the pair straddling the
        cut belongs to neither part. Raises ``ValueError`` when a part would
        be empty or shorter than ``min_steps`` states.
        """
        if not 0 < fraction < 1:
            raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
        m_count, length = self.n_trajectories, self.n_steps
        ep = self.exact_ep
        if m_count > 1:
            cut = int(round(m_count * fraction))
            cut = min(max(cut, 1), m_count - 1)
            return (
                self._subset(self.states[:cut], None if ep is None else ep[:cut]),
                self._subset(self.states[cut:], None if ep is None else ep[cut:]),
            )
        cut = int(round(length * fraction))
        if cut < min_steps or length - cut < min_steps:
            raise ValueError(
                f"{self.name}: too little data to split: one trajectory of {length} steps "
                f"gives parts shorter than {min_steps} steps"
            )
        return (
            self._subset(self.states[:, :cut], None if ep is None else ep[:, : cut - 1]),
            self._subset(self.states[:, cut:], None if ep is None else ep[:, cut:]),
        )


def _discrete_labels(states: np.ndarray, name: str, n_states, labels):
    """Codes, K and labels of discrete states (see ``labels``)."""
    if labels is not None:
        labels = np.asarray(list(labels))
        return encode(states, labels, name), int(labels.size), tuple(labels.tolist())
    if n_states is not None and states.dtype.kind in "iu":  # a simulator's codes 0..n_states-1
        codes = encode(states, np.arange(int(n_states)), name)
        return codes, int(n_states), tuple(range(int(n_states)))
    found = observed_labels([states])
    return encode(states, found, name), int(found.size), tuple(found.tolist())


def build_trajectories(
    states, *, name, dt, dt_known, exact_ep, n_states, ep_per_step_exact, ep_rate_exact, metadata, path, validate,
    labels=None,
) -> Trajectories:
    states, discrete = _normalise_shape(states, name)
    if discrete:
        states, n_states, labels = _discrete_labels(states, name, n_states, labels)
    else:
        if validate:
            _scan(states, name)
        n_states, labels = None, None
    if exact_ep is not None:
        exact_ep = exact_ep if isinstance(exact_ep, np.memmap) else np.asarray(exact_ep)
        if exact_ep.ndim == 1:
            exact_ep = exact_ep[None, :]
        expected = (states.shape[0], states.shape[1] - 1)
        if exact_ep.shape != expected:
            raise ValueError(f"{name}: exact EP must have shape {expected}, got {exact_ep.shape}")
        if validate:
            _scan(exact_ep[..., None], f"{name} exact EP")
    return Trajectories(
        states=states,
        discrete=discrete,
        n_states=n_states,
        dt=dt,
        dt_known=dt_known,
        exact_ep=exact_ep,
        ep_per_step_exact=None if ep_per_step_exact is None else float(ep_per_step_exact),
        ep_rate_exact=None if ep_rate_exact is None else float(ep_rate_exact),
        metadata=metadata,
        path=path,
        labels=labels,
    )


def _open_npy(path: Path, what: str) -> np.ndarray:
    """A companion .npy (exact EP), memory-mapped."""
    if not path.exists():
        raise ValueError(f"{what} not found: {str(path)!r}")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"{what} {str(path)!r} is not a valid .npy file ({err})") from None


def read_sidecar(path: str | Path) -> dict:
    """The sidecar JSON of ``path`` (``x.npy`` -> ``x.json``) as a dict; empty when there is none."""
    side = sidecar_path(path)
    if not side.exists() or side == Path(path):
        return {}
    try:
        metadata = json.loads(side.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"sidecar {str(side)!r} is not valid JSON ({err})") from None
    if not isinstance(metadata, dict):
        raise ValueError(f"sidecar {str(side)!r} must hold a JSON object")
    return metadata


def load_trajectories(path: str | Path, dt: float | None = None, *, key: str | None = None,
                      columns: str | list | None = None, time_column: str | int | None = None,
                      waiting_time_column: str | int | None = None, labels=None,
                      validate: bool = True) -> Trajectories:
    """Open one trajectory file (any format of ``data.readers``), its sidecar and exact EP, and validate.

    Parameters
    ----------
    path : str or Path
        The trajectory file: .npy (memory-mapped), .npz, HDF5 or CSV/TSV,
        recognised by content.
    dt : float, optional
        Time per step; overrides the sidecar's and a time column's. Default:
        the sidecar's, else an evenly spaced time column's, else the mean
        waiting time of jump data, else 1 (rates are then per step,
        ``dt_known`` False).
    key, columns, time_column, waiting_time_column
        See ``data.readers.read_arrays``. A file with several arrays (``key="*"``)
        is a ragged set: use ``data.sets.load_set``.
    labels : sequence, optional
        Discrete states: code them with these labels (a trained model's);
        an unseen state is an error. Default: the distinct values found.
    validate : bool
        Scan continuous data for NaN/inf. On by default: it reads the file
        once, in chunks.

    Raises
    ------
    ValueError
        One line naming the problem: missing file, unknown format, object
        dtype, wrong rank, non-finite value (with trajectory and step), bad
        dt, bad sidecar, exact-EP shape mismatch, uneven time column, unseen
        label.
    """
    path = Path(path)
    raw = read_arrays(path, key=key, columns=columns, time_column=time_column,
                      waiting_time_column=waiting_time_column)
    if len(raw.arrays) != 1:
        raise ValueError(f"{str(path)!r}: {len(raw.arrays)} arrays selected; a set of trajectories is read by "
                         "neep.estimators.load_set (or `neep fit` with several inputs)")
    states = raw.arrays[0]
    metadata = read_sidecar(path)
    if raw.waiting_times is not None:
        metadata = {**metadata, "jump_data": True, "mean_waiting_time": float(np.mean(raw.waiting_times)),
                    "jumps": int(raw.waiting_times.size)}
    if dt is not None:
        dt_value, dt_known = check_dt(dt), True
    elif metadata.get("dt") is not None:
        dt_value, dt_known = check_dt(metadata["dt"]), True
    elif raw.dt is not None:
        dt_value, dt_known = check_dt(raw.dt), True
    elif raw.waiting_times is not None:
        dt_value, dt_known = check_dt(metadata["mean_waiting_time"]), True
    else:
        dt_value, dt_known = 1.0, False
    side = sidecar_path(path)
    ep_path = None
    if metadata.get("ep_file"):
        ep_path = side.parent / metadata["ep_file"]
        if not ep_path.exists():
            raise ValueError(f"sidecar {str(side)!r} names ep_file {metadata['ep_file']!r}, which does not exist")
    else:
        candidate = path.with_suffix(".ep.npy")
        if candidate.exists() and candidate != path:
            ep_path = candidate
    exact_ep = None if ep_path is None else _open_npy(ep_path, "exact EP file")
    if exact_ep is not None and not np.issubdtype(exact_ep.dtype, np.floating):
        raise ValueError(f"exact EP file {str(ep_path)!r} must hold floats, got {exact_ep.dtype}")
    n_states = metadata.get("n_states")
    name = raw.names[0]
    return build_trajectories(
        states,
        name=name,
        dt=dt_value,
        dt_known=dt_known,
        exact_ep=exact_ep,
        n_states=n_states if metadata.get("state", "discrete") == "discrete" else None,
        ep_per_step_exact=metadata.get("ep_per_step_exact"),
        ep_rate_exact=metadata.get("ep_rate_exact"),
        metadata=metadata,
        path=path,
        validate=validate,
        labels=labels,
    )
