"""Windows of (memory-mapped) trajectories: random windows to train, ordered walks to evaluate (NumPy only).

``iter_window_blocks`` and ``iter_evaluation_batches`` are backend-neutral;
``training.tfdata`` wraps them in tf.data for the TensorFlow backend.
``window_sums`` and ``held_out_subset`` give the exact EP of the evaluation
windows and a fixed in-memory subset of held-out trajectories.

Never ``from_tensor_slices`` on the data: the datasets here draw indices with
NumPy, gather the windows from the (memory-mapped) array with fancy indexing,
and hand batches to TensorFlow through ``from_generator``; only a block or two
of batches is ever in memory.

A window is ``seq_len = n`` consecutive states of ONE trajectory:
``states[m, t : t + n]``; ``n = 2`` gives the pairs ``(s_t, s_{t+1})``.

* Training (``iter_window_blocks``; ``training.tfdata.window_dataset``): (m, t) drawn uniformly
  from all ``M * (L - n + 1)`` windows, with replacement, batched, without
  end, reproducible from ``seed``.
* Evaluation (``iter_evaluation_batches``): every window starting at
  ``t = 0, n-1, 2(n-1), ...`` of every trajectory, in order, exactly once.
  Consecutive windows share their end state, so they tile the trajectory: for
  pairs that is every transition, and the window EPs sum to the cumulative EP.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = [
    "check_window_args",
    "is_discrete",
    "gather_windows",
    "iter_window_blocks",
    "draw_windows",
    "evaluation_starts",
    "count_evaluation_windows",
    "iter_evaluation_batches",
    "window_sums",
    "held_out_subset",
]


def check_window_args(states: np.ndarray, seq_len: int, batch_size: int) -> None:
    if isinstance(states, tuple):  # a ragged set: parts of different lengths (see ``data.sets``)
        for part in states:
            check_window_args(part, seq_len, batch_size)
        return
    if isinstance(seq_len, bool) or int(seq_len) != seq_len or seq_len < 2:
        raise ValueError(f"seq_len must be an integer >= 2, got {seq_len!r}")
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if states.ndim not in (2, 3):
        raise ValueError(f"states must have shape (M, L) or (M, L, d), got {states.shape}")
    if states.shape[1] < seq_len:
        raise ValueError(f"trajectories have {states.shape[1]} steps, fewer than one window (seq_len={seq_len})")


def is_discrete(states: np.ndarray) -> bool:
    return bool(np.issubdtype(states.dtype, np.integer))


def gather_windows(states: np.ndarray, m: np.ndarray, t: np.ndarray, seq_len: int) -> np.ndarray:
    """Windows ``states[m[i], t[i] : t[i] + seq_len]`` as float32 (B, n, d) or int32 (B, n)."""
    m = np.asarray(m, dtype=np.int64)
    t = np.asarray(t, dtype=np.int64)
    if states.flags.c_contiguous:
        # np.take on the flattened (M*L, ...) view: ~7x faster than 2-D fancy indexing.
        flat = states.reshape((-1,) + states.shape[2:])
        out = np.take(flat, (m * states.shape[1] + t)[:, None] + np.arange(seq_len), axis=0)
    else:  # a strided view (never copy the whole array to flatten it)
        out = states[m[:, None], t[:, None] + np.arange(seq_len)]
    return np.asarray(out).astype(np.int32 if is_discrete(states) else np.float32, copy=False)


def draw_windows(rng: np.random.Generator, m_count: int, starts: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` uniform (trajectory, start) draws; int32 when the ranges allow (twice as fast to draw)."""
    dtype = np.int32 if max(m_count, starts) < 2**31 else np.int64
    return (rng.integers(0, m_count, size=count, dtype=dtype), rng.integers(0, starts, size=count, dtype=dtype))


def iter_window_blocks(
    states: np.ndarray, seq_len: int, batch_size: int, seed: int = 0, block: int = 16
) -> Iterator[np.ndarray]:
    """Endless blocks of ``block`` batches of uniformly drawn windows, ``(block, batch, n[, d])`` (NumPy).

    The backend-neutral core of ``window_dataset`` (and of the JAX feed):
    ``block`` batches' indices are drawn and gathered at once (one fancy
    index into the memmap). Same seed, same blocks.
    """
    check_window_args(states, seq_len, batch_size)
    if isinstance(states, tuple):
        yield from _ragged_window_blocks(states, seq_len, batch_size, seed, block)
        return
    m_count = states.shape[0]
    starts = states.shape[1] - seq_len + 1
    rng = np.random.default_rng(seed)
    count = batch_size * block
    while True:
        m, t = draw_windows(rng, m_count, starts, count)
        windows = gather_windows(states, m, t, seq_len)
        yield windows.reshape((block, batch_size) + windows.shape[1:])


def _ragged_window_blocks(parts: tuple, seq_len: int, batch_size: int, seed: int, block: int
                          ) -> Iterator[np.ndarray]:
    """``iter_window_blocks`` over parts of different lengths: uniform over all windows of all parts.

    A window never crosses a trajectory boundary: the part is drawn with
    probability proportional to its number of windows, then (m, t) within it.
    """
    windows = np.array([p.shape[0] * (p.shape[1] - seq_len + 1) for p in parts], dtype=np.float64)
    rng = np.random.default_rng(seed)
    count = batch_size * block
    shape = (count, seq_len) + parts[0].shape[2:]
    dtype = np.int32 if is_discrete(parts[0]) else np.float32
    while True:
        which = rng.choice(len(parts), size=count, p=windows / windows.sum())
        out = np.empty(shape, dtype=dtype)
        for k, part in enumerate(parts):
            rows = np.flatnonzero(which == k)
            if rows.size:
                m = rng.integers(0, part.shape[0], size=rows.size)
                t = rng.integers(0, part.shape[1] - seq_len + 1, size=rows.size)
                out[rows] = gather_windows(part, m, t, seq_len)
        yield out.reshape((block, batch_size) + shape[1:])


def evaluation_starts(n_steps: int, seq_len: int) -> np.ndarray:
    """Start steps of the evaluation windows of one trajectory: 0, n-1, 2(n-1), ..."""
    count = (n_steps - 1) // (seq_len - 1)
    return np.arange(count, dtype=np.int64) * (seq_len - 1)


def count_evaluation_windows(states: np.ndarray, seq_len: int) -> int:
    """Windows per trajectory of the evaluation walk, ``(L - 1) // (n - 1)``."""
    return (states.shape[1] - 1) // (seq_len - 1)


def iter_evaluation_batches(states: np.ndarray, seq_len: int, batch_size: int) -> Iterator[np.ndarray]:
    """Every evaluation window, trajectory by trajectory, in time order, in batches (NumPy).

    Row ``i`` of the concatenated batches is window ``k = i % K`` of
    trajectory ``i // K`` (``K = count_evaluation_windows``), so the result
    of a model reshapes to ``(M, K)``.
    """
    check_window_args(states, seq_len, batch_size)
    per = count_evaluation_windows(states, seq_len)
    total = states.shape[0] * per
    for begin in range(0, total, batch_size):
        flat = np.arange(begin, min(begin + batch_size, total), dtype=np.int64)
        yield gather_windows(states, flat // per, (flat % per) * (seq_len - 1), seq_len)


def window_sums(exact_ep: np.ndarray, seq_len: int) -> np.ndarray:
    """Exact EP of each evaluation window: sums of ``seq_len - 1`` consecutive steps, (M, K)."""
    ep = np.asarray(exact_ep, dtype=np.float64)
    if ep.ndim == 1:
        ep = ep[None]
    per = (ep.shape[1]) // (seq_len - 1)
    used = ep[:, : per * (seq_len - 1)]
    return used.reshape(ep.shape[0], per, seq_len - 1).sum(axis=2)


def held_out_subset(states, exact_ep=None, max_windows: int = 131072, seq_len: int = 2, seed: int = 0):
    """A fixed, in-memory subset of held-out trajectories with about ``max_windows`` windows.

    Whole trajectories, drawn at random (reproducibly) until enough; if one
    trajectory has more windows than needed, its first part. Returns
    ``(states, exact_ep)`` as NumPy arrays (``exact_ep`` None when not given).
    """
    m_count = states.shape[0]
    per = count_evaluation_windows(states, seq_len)
    if per < 1:
        raise ValueError(f"trajectories have {states.shape[1]} steps, fewer than one window (seq_len={seq_len})")
    if per >= max_windows:
        steps = max_windows * (seq_len - 1) + 1
        pick = np.array([0])
        sub = np.asarray(states[:1, :steps])
        ep = None if exact_ep is None else np.asarray(exact_ep[:1, : steps - 1])
        return sub, ep
    count = min(m_count, -(-max_windows // per))
    pick = np.sort(np.random.default_rng(seed).choice(m_count, size=count, replace=False))
    sub = np.asarray(states[pick])
    ep = None if exact_ep is None else np.asarray(exact_ep[pick])
    return sub, ep
