"""Chunked, parallel, reproducible simulation into memory-mapped ``.npy`` files.

Generic over the sampler protocol (``outputs``, ``fill``, ``metadata``; see
``Sampler``), which :class:`BeadSpring` and :class:`RatchetView` implement.

How the work is cut. The output ``(M, L, ...)`` is tiled into blocks of
``tb`` trajectories by ``lb`` steps, chosen from the shape and the bytes of
the states only (never from the number of workers, nor from ``exact_ep``), so
that a block of states is about 2 MiB. Short trajectories: ``lb = L``,
chunks over trajectories. Long ones (``M = 1``, ``L = 5 x 10^7``): ``tb = 1``
and blocks along time, each continuing from the state the previous one ended
in. Block ``(b, t)`` draws from its own
``Generator(PCG64(SeedSequence(seed, spawn_key=(b, t))))``, so the output is
byte-identical for any number of workers or Numba threads. Blocks of
different trajectories run concurrently on a thread pool (the kernels release
the GIL); blocks of one trajectory run in order. Memory: the output is written
in place into ``numpy.lib.format.open_memmap`` files, a few blocks at a time.

Atomicity. Every file is written under a temporary name in the target folder
and renamed when all of them are complete; on any exception, Ctrl-C included,
the temporary files are removed and nothing is left behind.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import math
import numbers
import os
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.lib.format import open_memmap

__all__ = ["Sampler", "SimulationResult", "simulate_to_file", "simulate_to_arrays", "chunk_plan", "FORMAT"]

FORMAT = "neep-trajectories/1"
#: Target size of one block of states; small enough to balance two threads
#: over many blocks and to answer Ctrl-C quickly, large enough that the
#: per-block overhead (a Generator, a kernel call) is negligible.
_CHUNK_BYTES = 2 * 1024 * 1024
# Companion files, by output name: PATH.npy -> PATH.ep.npy, PATH.times.npy, PATH.json.
_SUFFIXES = {"states": ".npy", "ep": ".ep.npy", "times": ".times.npy"}

Progress = Callable[[int, int], None]


class Sampler(Protocol):
    """What :func:`simulate_to_file` needs from a model (see the project contract)."""

    def outputs(self, trajectories: int, steps: int, exact_ep: bool) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """Shapes and dtypes of the arrays to write ("states", "ep", "times")."""

    def fill(
        self, rng: np.random.Generator, out: dict[str, np.ndarray], initial: dict[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray] | None:
        """Fill a chunk in place; optionally return the state to continue from."""

    def metadata(self) -> dict[str, Any]:
        """The sidecar's model-specific keys."""


@dataclass(frozen=True)
class SimulationResult:
    """What :func:`simulate_to_file` wrote.

    Attributes
    ----------
    path : Path
        The states file (``PATH.npy``).
    sidecar : Path
        ``PATH.json``.
    ep_path, times_path : Path or None
        ``PATH.ep.npy`` / ``PATH.times.npy`` when written.
    shape : tuple of int
        Shape of the states array.
    dtype : str
        Its dtype.
    nbytes : int
        Size on disk of every file written, sidecar included.
    seconds : float
        Wall time of the simulation and writing.
    metadata : dict
        The sidecar's content.
    """

    path: Path
    sidecar: Path
    ep_path: Path | None
    times_path: Path | None
    shape: tuple[int, ...]
    dtype: str
    nbytes: int
    seconds: float
    metadata: dict[str, Any]


def _count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def chunk_plan(
    trajectories: int,
    steps: int,
    state_bytes_per_step: int,
    chunk_trajectories: int | None = None,
    chunk_steps: int | None = None,
) -> tuple[int, int]:
    """Block size ``(tb, lb)``: trajectories by steps, about 2 MiB of states per block.

    Depends only on its arguments (not on the machine), so the same call
    always tiles the same way and seeds the same streams.
    """
    per_trajectory = steps * state_bytes_per_step
    if chunk_steps is None:
        chunk_steps = steps if per_trajectory <= _CHUNK_BYTES else max(1, _CHUNK_BYTES // state_bytes_per_step)
    chunk_steps = min(chunk_steps, steps)
    if chunk_trajectories is None:
        chunk_trajectories = max(1, _CHUNK_BYTES // (chunk_steps * state_bytes_per_step)) if chunk_steps == steps else 1
    return min(chunk_trajectories, trajectories), chunk_steps


def _block_generator(seed: int, block: int, time_block: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(block, time_block))))


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _validate(trajectories: Any, steps: Any, seed: Any, workers: Any, chunk_trajectories: Any, chunk_steps: Any):
    trajectories = _count("trajectories", trajectories, 1)
    steps = _count("steps", steps, 1)
    seed = _count("seed", seed, 0)
    workers = _default_workers() if workers is None else _count("workers", workers, 1)
    if chunk_trajectories is not None:
        chunk_trajectories = _count("chunk_trajectories", chunk_trajectories, 1)
    if chunk_steps is not None:
        chunk_steps = _count("chunk_steps", chunk_steps, 1)
    return trajectories, steps, seed, workers, chunk_trajectories, chunk_steps


def _run(
    sampler: Sampler,
    arrays: dict[str, np.ndarray],
    seed: int,
    plan: tuple[int, int],
    workers: int,
    progress: Progress | None,
) -> None:
    """Fill ``arrays`` (full-size, possibly memmaps) block by block on a thread pool."""
    trajectories, steps = arrays["states"].shape[:2]
    tb, lb = plan
    n_blocks = math.ceil(trajectories / tb)
    n_time = math.ceil(steps / lb)
    total = trajectories * steps
    done = 0

    def work(b: int, t: int, initial: dict[str, np.ndarray] | None) -> tuple[int, int, dict | None, int]:
        b0, b1 = b * tb, min((b + 1) * tb, trajectories)
        t0, t1 = t * lb, min((t + 1) * lb, steps)
        out = {}
        for name, array in arrays.items():
            if name == "ep":  # one entry fewer along time: step s is ep[:, s - 1]
                out[name] = array[b0:b1, max(t0 - 1, 0) : t1 - 1]
            else:
                out[name] = array[b0:b1, t0:t1]
        carry = sampler.fill(_block_generator(seed, b, t), out, initial)
        if t + 1 < n_time:
            if carry is None:
                carry = {name: np.array(out[name][:, -1]) for name in ("states", "times") if name in out}
        else:
            carry = None
        return b, t, carry, (b1 - b0) * (t1 - t0)

    ready = deque((b, 0, None) for b in range(n_blocks))
    running: set[cf.Future] = set()
    in_flight = 4 * workers
    pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="neep-sim")
    try:
        while ready or running:
            while ready and len(running) < in_flight:
                running.add(pool.submit(work, *ready.popleft()))
            finished, running = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for future in finished:
                b, t, carry, count = future.result()  # re-raises a worker's exception
                if carry is not None:
                    ready.appendleft((b, t + 1, carry))  # keep a trajectory's blocks flowing
                done += count
            if progress is not None:
                progress(done, total)
    finally:
        # On error or Ctrl-C: drop pending blocks, let running ones finish
        # (they write into arrays we are about to discard), then return.
        pool.shutdown(wait=True, cancel_futures=True)


def simulate_to_arrays(
    sampler: Sampler,
    trajectories: int,
    steps: int,
    seed: int = 0,
    exact_ep: bool = False,
    chunk_trajectories: int | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    chunk_steps: int | None = None,
) -> dict[str, np.ndarray]:
    """Simulate in memory; the same arrays, byte for byte, as :func:`simulate_to_file` writes."""
    trajectories, steps, seed, workers, chunk_trajectories, chunk_steps = _validate(
        trajectories, steps, seed, workers, chunk_trajectories, chunk_steps
    )
    specs = sampler.outputs(trajectories, steps, exact_ep)
    arrays = {name: np.empty(shape, dtype) for name, (shape, dtype) in specs.items()}
    plan = _plan(specs, trajectories, steps, chunk_trajectories, chunk_steps)
    _run(sampler, arrays, seed, plan, workers, progress)
    return arrays


def _plan(specs, trajectories, steps, chunk_trajectories, chunk_steps) -> tuple[int, int]:
    shape, dtype = specs["states"]
    state_bytes = int(np.prod(shape[2:], dtype=np.int64)) * np.dtype(dtype).itemsize
    return chunk_plan(trajectories, steps, state_bytes, chunk_trajectories, chunk_steps)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("neep")
    except PackageNotFoundError:  # pragma: no cover - source tree without install
        return "unknown"


def _targets(path: Path) -> dict[str, Path]:
    stem = path.name[: -len(".npy")]
    targets = {name: path.with_name(stem + suffix) for name, suffix in _SUFFIXES.items()}
    targets["sidecar"] = path.with_name(stem + ".json")
    return targets


def _temporary(folder: Path, final: Path) -> Path:
    """Create an empty, hidden temporary file beside ``final`` (permissions as for any new file)."""
    while True:
        candidate = folder / f".{final.name}.{secrets.token_hex(4)}.part"
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:  # pragma: no cover - 2^-32 chance
            continue
        return candidate


def simulate_to_file(
    sampler: Sampler,
    path: str | os.PathLike,
    trajectories: int,
    steps: int,
    seed: int = 0,
    exact_ep: bool = False,
    force: bool = False,
    chunk_trajectories: int | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    chunk_steps: int | None = None,
) -> SimulationResult:
    """Simulate ``trajectories`` x ``steps`` and write ``PATH.npy`` (+ ``.ep.npy``, ``.times.npy``, ``.json``).

    Parameters
    ----------
    sampler : Sampler
        E.g. ``BeadSpring(n=5)`` or ``RatchetView(FlashingRatchet(), hidden=True)``.
    path : path-like
        The states file; must end with ``.npy``, its folder must exist.
    trajectories, steps : int
        ``M >= 1`` trajectories of ``L >= 1`` states each.
    seed : int
        Non-negative; fixes every byte written (together with the block plan,
        which is recorded in the sidecar under ``"chunks"``).
    exact_ep : bool
        Also write the exact per-step stochastic EP, float32 ``(M, L-1)``.
    force : bool
        Overwrite existing files of the same name (stale companions such as an
        old ``PATH.ep.npy`` are removed).
    chunk_trajectories, chunk_steps : int, optional
        Override the block size (changes the random streams, hence the output).
    workers : int, optional
        Threads (default: the CPUs this process may use). Does not change the output.
    progress : callable(done, total), optional
        Called from the calling thread as blocks complete, counting trajectory-steps.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ValueError
        An invalid argument (named, with its value).
    FileExistsError, FileNotFoundError
        Output exists without ``force``; folder missing.
    """
    start = time.perf_counter()
    path = Path(path)
    if path.suffix != ".npy" or path.name == ".npy":
        raise ValueError(f"path must end with .npy, got {str(path)!r}")
    trajectories, steps, seed, workers, chunk_trajectories, chunk_steps = _validate(
        trajectories, steps, seed, workers, chunk_trajectories, chunk_steps
    )
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {str(folder)!r} does not exist")
    targets = _targets(path)
    if not force:
        for target in targets.values():
            if target.exists():
                raise FileExistsError(f"{str(target)!r} exists (use force / --force to overwrite)")
    for target in targets.values():
        if target.is_dir():
            raise IsADirectoryError(f"{str(target)!r} is a folder")

    specs = sampler.outputs(trajectories, steps, exact_ep)
    plan = _plan(specs, trajectories, steps, chunk_trajectories, chunk_steps)
    temporaries: dict[str, Path] = {}
    arrays: dict[str, np.memmap] = {}
    try:
        for name, (shape, dtype) in specs.items():
            temporaries[name] = _temporary(folder, targets[name])
            arrays[name] = open_memmap(temporaries[name], mode="w+", dtype=dtype, shape=shape)
        _run(sampler, arrays, seed, plan, workers, progress)
        for array in arrays.values():
            array.flush()
        arrays.clear()

        shape, dtype = specs["states"]
        metadata = {"format": FORMAT, **sampler.metadata()}
        metadata.update(
            seed=seed,
            shape=list(shape),
            dtype=np.dtype(dtype).name,
            version=_version(),
            states_file=targets["states"].name,
            ep_file=targets["ep"].name if "ep" in specs else None,
            times_file=targets["times"].name if "times" in specs else None,
            chunks={"trajectories": plan[0], "steps": plan[1]},
            generator="PCG64(SeedSequence(seed, spawn_key=(trajectory block, time block)))",
        )
        temporaries["sidecar"] = _temporary(folder, targets["sidecar"])
        with open(temporaries["sidecar"], "w", encoding="utf-8") as handle:
            json.dump(metadata, handle, indent=2, allow_nan=False)
            handle.write("\n")
        # Commit: companions and sidecar first, the states file last, so a
        # finished PATH.npy always has its companions; drop stale ones.
        for name in [*(n for n in temporaries if n not in ("states",)), "states"]:
            os.replace(temporaries.pop(name), targets[name])
        for name, target in targets.items():
            if name not in specs and name != "sidecar" and target.exists():
                target.unlink()
    except BaseException:
        arrays.clear()
        for temporary in temporaries.values():
            temporary.unlink(missing_ok=True)
        raise

    written = [targets[name] for name in (*specs, "sidecar")]
    return SimulationResult(
        path=targets["states"],
        sidecar=targets["sidecar"],
        ep_path=targets["ep"] if "ep" in specs else None,
        times_path=targets["times"] if "times" in specs else None,
        shape=tuple(specs["states"][0]),
        dtype=np.dtype(specs["states"][1]).name,
        nbytes=sum(target.stat().st_size for target in written),
        seconds=time.perf_counter() - start,
        metadata=metadata,
    )
