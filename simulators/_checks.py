"""Validation helpers shared by the physical models' dataclasses (one-line ``ValueError`` each)."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = ["real", "positive", "readonly"]


def real(name: str, value: Any) -> float:
    """``value`` as a finite float, or ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def positive(name: str, value: Any) -> float:
    """``value`` as a finite float > 0, or ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


def readonly(array: np.ndarray) -> np.ndarray:
    """The same array, marked read-only (exact properties must not be edited in place)."""
    array.setflags(write=False)
    return array
