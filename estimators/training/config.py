"""The configuration of one fit: ``NEEP``'s parameters as a frozen, validated ``FitConfig`` (no Keras).

``NEEP`` stores its constructor arguments unchanged (scikit-learn style);
``NEEP.fit`` turns them into a ``FitConfig`` first thing, and every step below
it (data preparation, training, assessment) reads that object, never the
estimator. Construction is the one parameter check: it raises ``ValueError``
naming the first invalid parameter, before any data are touched.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..nn.kinds import MODEL_KINDS

__all__ = ["PRECISIONS", "FitConfig"]

#: The compute dtypes of ``NEEP(precision=...)``.
PRECISIONS = ("float32", "mixed_bfloat16")

_POSITIVE = ("batch_size", "iterations", "eval_every", "eval_samples", "seeds", "embedding_dim", "eval_batch_size")
_POSITIVE_OR_NONE = ("hidden_units", "layers", "steps_per_execution", "patience")
_CHOICES = {"data_parallel": (True, False), "stack_seeds": (True, False, "auto"), "device": (True, False, "auto"),
            "noise": ("auto", "robust", "off"), "cubic_start": (True, False)}


def _is_int(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


def _is_fraction(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.floating)) and 0 < value < 1


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """Every hyperparameter of a ``NEEP`` fit, checked on construction (see ``NEEP`` for their meaning).

    Raises
    ------
    ValueError
        Naming the first invalid parameter and its value.
    """

    model: str | None = None
    hidden_units: int | None = None
    layers: int | None = None
    embedding_dim: int = 128
    seq_len: int = 2
    batch_size: int = 4096
    learning_rate: float = 1e-4
    weight_decay: float = 5e-5
    iterations: int = 3000
    eval_every: int = 100
    eval_samples: int = 131072
    seeds: int = 1
    test_fraction: float = 0.5
    track_train: bool = True
    normalize: bool = True
    seed: int = 0
    verbose: int = 1
    callbacks: tuple = ()
    precision: str = "float32"
    decoupled_weight_decay: bool = False
    ema_momentum: float | None = 0.99
    restore_best: bool = True
    eval_batch_size: int = 16384
    baseline: bool = True
    baseline_degree: int = 1
    data_check: bool = True
    validation_fraction: float = 0.1
    linear_start: bool = True
    cubic_start: bool = True
    jit_compile: bool = False
    steps_per_execution: int | None = None
    device: bool | str = "auto"
    stack_seeds: bool | str = "auto"
    data_parallel: bool = False
    patience: int | None = None
    odd: tuple | None = None
    noise: str = "auto"
    final_learning_rate: float | None = None
    warm_start: Any = None

    def __post_init__(self) -> None:
        for name in _POSITIVE + _POSITIVE_OR_NONE:
            value = getattr(self, name)
            if name in _POSITIVE_OR_NONE and value is None:
                continue
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not _is_int(self.seq_len) or self.seq_len < 2:
            raise ValueError(f"seq_len must be an integer >= 2, got {self.seq_len!r}")
        if self.model is not None and self.model not in MODEL_KINDS:
            raise ValueError(f"model must be one of {', '.join(MODEL_KINDS)}, got {self.model!r}")
        if not (isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        final = self.final_learning_rate
        if final is not None and not (isinstance(final, (int, float)) and not isinstance(final, bool) and final > 0):
            raise ValueError(f"final_learning_rate must be > 0 or None, got {final!r}")
        if not (isinstance(self.weight_decay, (int, float)) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        for name in ("test_fraction", "validation_fraction"):
            if not _is_fraction(getattr(self, name)):
                raise ValueError(f"{name} must be in (0, 1), got {getattr(self, name)!r}")
        for name, allowed in _CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                listed = ", ".join(repr(c) if isinstance(c, str) else str(c) for c in allowed)
                words = " or ".join(listed.rsplit(", ", 1))
                raise ValueError(f"{name} must be {words}, got {value!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        degree = self.baseline_degree
        if not _is_int(degree) or not 1 <= degree <= 4:
            raise ValueError(f"baseline_degree must be an integer in 1..4, got {degree!r}")
        if self.ema_momentum is not None and not 0 < self.ema_momentum < 1:
            raise ValueError(f"ema_momentum must be in (0, 1), got {self.ema_momentum!r}")
        object.__setattr__(self, "callbacks", tuple(self.callbacks or ()))
        if self.odd is not None:
            items = [s.strip() for s in self.odd.split(",")] if isinstance(self.odd, str) else list(self.odd)
            if not items or not all(_is_int(i) and i >= 0 or (isinstance(i, str) and i) for i in items):
                raise ValueError(f"odd must be column names or 0-based indices, got {self.odd!r}")
            object.__setattr__(self, "odd", tuple(items))
        if isinstance(self.warm_start, (str, Path)) and not Path(self.warm_start).exists():
            raise ValueError(f"warm_start: no model file or run folder {str(self.warm_start)!r}")
        for name in _POSITIVE + ("seq_len",):
            object.__setattr__(self, name, int(getattr(self, name)))

    @classmethod
    def parameter_names(cls) -> tuple[str, ...]:
        """The names of the parameters, in ``NEEP``'s constructor order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @property
    def eval_interval(self) -> int:
        """Steps between evaluations: ``eval_every``, but never past ``iterations`` (fewer would train more)."""
        return min(self.eval_every, self.iterations)

    @property
    def steps_per_call(self) -> int:
        """Training steps per compiled call: ``steps_per_execution``, else a divisor of the interval <= 25."""
        if self.steps_per_execution is not None:
            return int(self.steps_per_execution)
        return max(d for d in range(1, 26) if self.eval_interval % d == 0)

    @property
    def epochs(self) -> int:
        """Evaluation intervals to train (``iterations`` rounded up to whole intervals)."""
        return math.ceil(self.iterations / self.eval_interval)
