"""Discrete state labels: arbitrary integers or strings mapped to the codes 0..K-1 a network embeds.

The labels of a data set are the sorted distinct values it holds (integers
numerically, strings lexically); code ``k`` stands for ``labels[k]``. Data
whose labels are already ``0..K-1`` keep their array (a memmap stays one);
others are recoded, in chunks, into the smallest integer dtype that holds K
codes (in memory: a few bytes per state). The labels travel with the model
(``NEEPModel.labels``, ``summary.json``), so new data are recoded the same
way at prediction time, and a state never seen in training is an error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["observed_labels", "encode", "describe_labels", "is_identity", "labels_to_json"]

_CHUNK = 1 << 22


def _chunks(array: np.ndarray):
    flat_rows = array.reshape(-1) if array.flags.c_contiguous else None
    if flat_rows is not None:
        for begin in range(0, flat_rows.size, _CHUNK):
            yield np.asarray(flat_rows[begin : begin + _CHUNK])
    else:
        for row in array:
            yield np.asarray(row).ravel()


def _distinct(chunk: np.ndarray) -> np.ndarray:
    """``np.unique``, by counting for small non-negative integers (about 10x faster than sorting)."""
    if chunk.dtype.kind in "iu" and chunk.size:
        low, high = int(chunk.min()), int(chunk.max())
        if low >= 0 and high < 1 << 16:
            return np.flatnonzero(np.bincount(chunk.astype(np.int64, copy=False), minlength=high + 1)).astype(
                chunk.dtype)
    return np.unique(chunk)


def observed_labels(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Sorted distinct values of integer or string arrays (read in chunks)."""
    found: np.ndarray | None = None
    for array in arrays:
        for chunk in _chunks(array):
            values = _distinct(chunk)
            found = values if found is None else np.union1d(found, values)
    if found is None:
        raise ValueError("no states to label")
    return found


def is_identity(labels: Sequence) -> bool:
    """True when ``labels`` are the integers ``0..K-1`` in order (no recoding needed)."""
    labels = np.asarray(labels)
    return labels.dtype.kind in "iu" and bool(np.array_equal(labels, np.arange(labels.size)))


def _code_dtype(count: int) -> np.dtype:
    for dtype in (np.int8, np.int16, np.int32):
        if count <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def encode(array: np.ndarray, labels: Sequence, name: str = "states") -> np.ndarray:
    """Codes ``0..K-1`` of ``array``'s values under ``labels``; ``ValueError`` naming an unseen state.

    With identity labels and integer data in range, ``array`` itself is
    returned (a memmap stays mapped).
    """
    labels = np.asarray(labels)
    kind = array.dtype.kind
    if (kind in "US") != (labels.dtype.kind in "US"):
        raise ValueError(f"{name}: states are {'labels (text)' if kind in 'US' else 'numbers'}, "
                         f"the model knows {describe_labels(labels)}")
    if is_identity(labels) and kind in "iu":
        top, low = -1, 0
        for chunk in _chunks(array):
            top, low = max(top, int(chunk.max())), min(low, int(chunk.min()))
        if top < labels.size and low >= 0:
            return array
    out = np.empty(array.shape, dtype=_code_dtype(labels.size))
    flat_out = out.reshape(-1)
    pos = 0
    for chunk in _chunks(array):
        codes = np.searchsorted(labels, chunk)
        np.clip(codes, 0, labels.size - 1, out=codes)
        unseen = labels[codes] != chunk
        if np.any(unseen):
            index = np.unravel_index(pos + int(np.argmax(unseen)), array.shape)
            where = f" (trajectory {index[0]}, step {index[1]})" if array.ndim >= 2 else f" (step {index[0]})"
            state = labels_to_json([chunk[np.argmax(unseen)]])[0]
            raise ValueError(f"{name}: state {state!r}{where} was never seen in training; "
                             f"the model knows {describe_labels(labels)}")
        flat_out[pos : pos + chunk.size] = codes
        pos += chunk.size
    return out


def labels_to_json(labels: Sequence | None) -> list | None:
    """Labels as plain JSON values (int or str)."""
    if labels is None:
        return None
    return [v.item() if isinstance(v, np.generic) else v for v in np.asarray(labels).tolist()]


def describe_labels(labels: Sequence, limit: int = 12) -> str:
    """``"3 states: 5, 17, 42"`` (long lists shortened with "...")."""
    values = labels_to_json(labels) or []
    shown = [str(v) for v in values[:limit]]
    if len(values) > limit:
        shown.append(f"... {values[-1]}")
    return f"{len(values)} state{'s' if len(values) != 1 else ''}: {', '.join(shown)}"
