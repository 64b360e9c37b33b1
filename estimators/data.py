"""Trajectory files in, validated ``Trajectories`` out (the estimators' side of the data contract).

A trajectory file is ``PATH.npy``: continuous states float ``(M, L, d)`` (also
``(L, d)`` and ``(L,)``, read as M = 1), or discrete states of an integer dtype
``(M, L)`` / ``(L,)`` with values ``0..K-1``. Optional beside it: the sidecar
``PATH.json`` (dt, exact EP rate and per-step value, ``ep_file``) and
``PATH.ep.npy``, the exact per-step EP ``(M, L-1)``.

Files are opened memory-mapped and never loaded whole; validation scans them
in chunks. Every problem raises ``ValueError`` with one line naming it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Trajectories", "load_trajectories", "sidecar_path"]

_CHUNK = 1 << 22  # elements per validation chunk (16 MiB of float32)


def sidecar_path(path: str | Path) -> Path:
    """``x.npy`` -> ``x.json``."""
    path = Path(path)
    return path.with_suffix(".json")


def _check_dt(dt: Any) -> float:
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
        np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)
    ):
        raise ValueError(f"{name}: dtype {dtype} is not supported, expected float or integer states")
    discrete = bool(np.issubdtype(dtype, np.integer))
    ndim = states.ndim
    if discrete:
        if ndim == 1:
            states = states[None, :]
        elif ndim != 2:
            raise ValueError(f"{name}: integer (discrete) states must have shape (M, L) or (L,), got {states.shape}")
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


def _scan(states: np.ndarray, name: str, discrete: bool) -> int | None:
    """Chunked check: finite floats / non-negative ints. Returns max+1 for ints."""
    m_count, length = states.shape[:2]
    per_traj = int(np.prod(states.shape[1:]))
    steps_per_chunk = max(1, _CHUNK // max(1, per_traj // length))
    top = -1
    for m in range(m_count):
        for start in range(0, length, steps_per_chunk):
            block = np.asarray(states[m, start : start + steps_per_chunk])
            if discrete:
                low = int(block.min())
                if low < 0:
                    t = int(np.argmax(block < 0))
                    raise ValueError(
                        f"{name}: discrete states must be >= 0, got {low} in trajectory {m} at step {start + t}"
                    )
                top = max(top, int(block.max()))
            else:
                finite = np.isfinite(block)
                if not finite.all():
                    bad = np.argwhere(~finite)[0]
                    value = block[tuple(bad)]
                    raise ValueError(f"{name}: non-finite value {value} in trajectory {m} at step {start + int(bad[0])}")
    return top + 1 if discrete else None


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
        Number of discrete states (sidecar's ``n_states``, else max + 1).
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
    ) -> "Trajectories":
        """Wrap in-memory (or memory-mapped) states, validated like a file."""
        return _build(
            np.asarray(states) if not isinstance(states, np.memmap) else states,
            name="states",
            dt=_check_dt(dt),
            dt_known=dt_known,
            exact_ep=exact_ep,
            n_states=n_states,
            ep_per_step_exact=ep_per_step_exact,
            ep_rate_exact=ep_rate_exact,
            metadata=metadata or {},
            path=None,
            validate=validate,
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


def _build(
    states, *, name, dt, dt_known, exact_ep, n_states, ep_per_step_exact, ep_rate_exact, metadata, path, validate
) -> Trajectories:
    states, discrete = _normalise_shape(states, name)
    observed = _scan(states, name, discrete) if validate else None
    if discrete:
        if n_states is None:
            n_states = observed if observed is not None else int(np.max(states)) + 1
        elif observed is not None and observed > n_states:
            raise ValueError(f"{name}: state {observed - 1} found but n_states is {n_states}")
        n_states = max(int(n_states), 1)
    else:
        n_states = None
    if exact_ep is not None:
        exact_ep = exact_ep if isinstance(exact_ep, np.memmap) else np.asarray(exact_ep)
        if exact_ep.ndim == 1:
            exact_ep = exact_ep[None, :]
        expected = (states.shape[0], states.shape[1] - 1)
        if exact_ep.shape != expected:
            raise ValueError(f"{name}: exact EP must have shape {expected}, got {exact_ep.shape}")
        if validate:
            _scan(exact_ep[..., None], f"{name} exact EP", False)
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
    )


def _open_npy(path: Path, what: str) -> np.ndarray:
    if not path.exists():
        raise ValueError(f"{what} not found: {str(path)!r}")
    if path.is_dir():
        raise ValueError(f"{what} {str(path)!r} is a folder, expected a .npy file")
    if path.suffix != ".npy":
        raise ValueError(f"{what} {str(path)!r} is not a .npy file")
    try:
        with open(path, "rb") as handle:
            magic = handle.read(6)
    except OSError as err:
        raise ValueError(f"{what} {str(path)!r} cannot be read ({err.strerror})") from None
    if magic != b"\x93NUMPY":
        raise ValueError(f"{what} {str(path)!r} is not a valid .npy file (no NumPy header)")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as err:
        if "object" in str(err).lower() or "pickle" in str(err).lower():
            raise ValueError(f"{what} {str(path)!r}: object dtype is not supported, expected float or integer states") from None
        raise ValueError(f"{what} {str(path)!r} is not a valid .npy file ({err})") from None
    except (OSError, EOFError) as err:
        raise ValueError(f"{what} {str(path)!r} is not a valid .npy file ({err})") from None


def load_trajectories(path: str | Path, dt: float | None = None, *, validate: bool = True) -> Trajectories:
    """Open ``path`` (``.npy``, memory-mapped), its sidecar and exact EP, and validate.

    Parameters
    ----------
    path : str or Path
        The trajectory file.
    dt : float, optional
        Time per step; overrides the sidecar's. Default: the sidecar's, else 1
        (rates are then per step, ``dt_known`` False).
    validate : bool
        Scan the data for NaN/inf (float) or negative values (integer). On by
        default: it reads the file once, in chunks.

    Raises
    ------
    ValueError
        One line naming the problem: missing file, not .npy, object dtype,
        wrong rank, non-finite value (with trajectory and step), negative
        state, bad dt, bad sidecar, exact-EP shape mismatch.
    """
    path = Path(path)
    states = _open_npy(path, "trajectory file")
    metadata: dict = {}
    side = sidecar_path(path)
    if side.exists():
        try:
            metadata = json.loads(side.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"sidecar {str(side)!r} is not valid JSON ({err})") from None
        if not isinstance(metadata, dict):
            raise ValueError(f"sidecar {str(side)!r} must hold a JSON object")
    if dt is not None:
        dt_value, dt_known = _check_dt(dt), True
    elif metadata.get("dt") is not None:
        dt_value, dt_known = _check_dt(metadata["dt"]), True
    else:
        dt_value, dt_known = 1.0, False
    ep_path = None
    if metadata.get("ep_file"):
        ep_path = side.parent / metadata["ep_file"]
        if not ep_path.exists():
            raise ValueError(f"sidecar {str(side)!r} names ep_file {metadata['ep_file']!r}, which does not exist")
    else:
        candidate = path.with_suffix(".ep.npy")
        if candidate.exists():
            ep_path = candidate
    exact_ep = None if ep_path is None else _open_npy(ep_path, "exact EP file")
    if exact_ep is not None and not np.issubdtype(exact_ep.dtype, np.floating):
        raise ValueError(f"exact EP file {str(ep_path)!r} must hold floats, got {exact_ep.dtype}")
    n_states = metadata.get("n_states")
    return _build(
        states,
        name=str(path),
        dt=dt_value,
        dt_known=dt_known,
        exact_ep=exact_ep,
        n_states=n_states if metadata.get("state", "discrete") == "discrete" else None,
        ep_per_step_exact=metadata.get("ep_per_step_exact"),
        ep_rate_exact=metadata.get("ep_rate_exact"),
        metadata=metadata,
        path=path,
        validate=validate,
    )
