"""The defaults of ``neep fit`` (and of ``fit_to_folder``), per model kind; no Keras.

``NEEP``'s own defaults are the paper's; ``neep fit`` uses the ones here,
chosen on the accuracy grid. The command line imports them for its help
text, so this module imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ..nn.kinds import MODEL_KINDS, default_kind
from .large_batch import SCALED, scale_to_batch

__all__ = ["FIT_DEFAULTS", "ODD_PATIENCE", "default_hidden_units", "default_iterations", "kind_defaults",
           "resolve_fit_params"]

# Defaults of `neep fit` (and of fit_to_folder), chosen on the accuracy grid
# (benchmarks/accuracy_grid.py, benchmarks/RESULTS-estimators.md): the current model for
# float pairs, lr 1e-3 with a moving average of the weights. NEEP's own defaults are the
# paper's (learning rate 1e-4...); the paper's method and sizes are one option away:
# model="mlp", hidden_units=512, iterations=50000, seeds=5.
FIT_DEFAULTS: Mapping[str, Any] = MappingProxyType({
    "batch_size": 4096,
    "learning_rate": 1e-3,
    "weight_decay": 5e-5,
    "iterations": None,  # per model kind: default_iterations(kind)
    "eval_every": 100,
    "seeds": 1,
    "seq_len": 2,
    "ema_momentum": 0.99,
})
# Hidden units per model kind when not given (paper: mlp 512, embedding 128, gru 128).
# The MLP default is half the paper's width: 4x fewer FLOPs per step, and as accurate
# on the bead data within the same wall time. The GRU's is a quarter (see _KIND_DEFAULTS).
# The current model's correction is 2 x 64 (session 8, benchmarks/RESULTS-estimators.md, "A
# narrower correction"): a step costs 1/1.65 of 2 x 128's on a 2-core CPU, as accurate on the ring
# and the swirl. (At a learning rate of 2e-3 it was faster still, but on the grid's ring data it never
# beat its cubic start within 3000 steps and kept it, 3.8 % low without a flag; at 1e-3 it did by 300.)
_HIDDEN_DEFAULT = {"current": 64, "mlp": 256, "embedding": 128, "gru": 32}
# Iterations per model kind when not given. The current model trains until its validation J
# stops improving (patience, below), 30000 steps at most: a linear force stops at ~1000 (the
# closed-form start is exact and kept), nonlinear ones ran 5000-9700 steps
# (benchmarks/experiments/FINDINGS-nonlinear.md).
_ITERATIONS_DEFAULT = {"current": 30000, "mlp": 3000, "embedding": 3000, "gru": 4000}
# Where a model kind's defaults differ from FIT_DEFAULTS (and from NEEP's embedding_dim and
# jit_compile). RNEEP (gru) on a CPU: its step costs ~30x an MLP pair's per sample (a GRU over
# 2 x n states, both orders), so it gets a narrow GRU (32 units: 3x less CPU per window than 128,
# more accurate than 16 at the same time), an embedding of 8 (3..a few states: more adds cost,
# not expressiveness: the embedding feeds a linear map), small batches at a higher learning rate
# (more updates per window seen), and XLA (about 15-20 % less CPU per step on the GRU, and ~2x
# at large batches). Measured on the hidden ratchet, n = 32: benchmarks/rneep_cpu.py and
# benchmarks/RESULTS-estimators.md ("RNEEP on a CPU"). Then (issue 17, "RNEEP: an interval that covers"):
# the last averaged weights are kept, not the best validation J (J on ~1500 validation windows is so noisy
# that the "best" evaluation was an early, lower one: -10 % against -2 % on the same fit), and 4000
# iterations with the learning rate decayed geometrically 3e-3 -> 3e-4 (2000 at a constant rate, or 3000
# decayed, stayed 4-7 % low on five data sets); two seeds, whose mean halves the training run's scatter and
# whose spread enters the interval, instead of the data check (a refit costs a whole fit here, and the
# half-data refit overshot by 13 %: it measured overfitting at half the data, not the full fit's error).
#
# The current model (FINDINGS-nonlinear.md): no coupled L2 on its correction network (the
# correction's output layer starts at zero, so its hidden layers saw only the L2 gradient, which
# Adam turns into lr-sized shrink steps: 3/4 of the units died within 2000 steps and the network
# never left its linear start on nonlinear forces, -19 % on a 6-bead FPU chain); a moving average
# with a 1000-step horizon (at 0.99 the monitored rate wandered +-3 % between evaluations, so the
# best-J evaluation, and a patience rule, landed anywhere in that band); and training until 10
# evaluations in a row bring no new best validation J.
_KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "gru": {"batch_size": 256, "learning_rate": 3e-3, "embedding_dim": 8, "jit_compile": True,
            "final_learning_rate": 3e-4, "restore_best": False, "seeds": 2, "data_check": False},
    "current": {"weight_decay": 0.0, "ema_momentum": 0.999, "patience": 10},
}

# With odd columns the pair MLP starts at the Gaussian closed form (nn.parity_layers) and keeps it on linear
# data: it trains until its validation objective stops improving, as the current model does (the linear
# trap's fit ran 3000 steps that changed nothing).
ODD_PATIENCE = 10

# Parameters for which None means "the kind's default" (ema_momentum=None means no average).
_NONE_MEANS_DEFAULT = ("batch_size", "learning_rate", "iterations", "hidden_units", "embedding_dim", "jit_compile",
                       "weight_decay", "final_learning_rate", "seeds", "data_check")


def default_iterations(kind: str) -> int:
    """Training iterations ``neep fit`` uses for a model kind when none is given."""
    if kind not in _ITERATIONS_DEFAULT:
        raise ValueError(f"model must be one of {', '.join(MODEL_KINDS)}, got {kind!r}")
    return _ITERATIONS_DEFAULT[kind]


def default_hidden_units(kind: str) -> int:
    """Hidden units ``neep fit`` uses for a model kind when none is given."""
    if kind not in _HIDDEN_DEFAULT:
        raise ValueError(f"model must be one of {', '.join(MODEL_KINDS)}, got {kind!r}")
    return _HIDDEN_DEFAULT[kind]


def kind_defaults(kind: str) -> dict[str, Any]:
    """Every default ``neep fit`` uses for a model kind: ``FIT_DEFAULTS`` with the per-kind values filled in.

    ``iterations`` and ``hidden_units`` (``default_iterations``,
    ``default_hidden_units``), and the kind's own values where they differ:
    gru: ``batch_size`` 256, ``learning_rate`` 3e-3 decayed to
    ``final_learning_rate`` 3e-4, ``embedding_dim`` 8, XLA on, the last
    averaged weights kept (``restore_best`` False), 2 ``seeds``, no
    ``data_check``; current: ``weight_decay`` 0, ``ema_momentum`` 0.999, ``patience`` 10
    (train until the validation J stops improving, ``iterations`` a cap).
    """
    defaults = {**FIT_DEFAULTS, "iterations": default_iterations(kind), "hidden_units": default_hidden_units(kind)}
    defaults.update(_KIND_DEFAULTS.get(kind, {}))
    return defaults


def resolve_fit_params(neep_kwargs: dict[str, Any], discrete: bool, large_batch: int | None = None) -> dict[str, Any]:
    """The ``NEEP`` parameters of a ``neep fit``: ``neep_kwargs`` over the model kind's defaults.

    The kind is ``neep_kwargs["model"]``, else the data's default (embedding
    for discrete states, current for float pairs, mlp for float windows).
    A value of None for a parameter with a default (``batch_size``,
    ``learning_rate``, ``iterations``, ``hidden_units``...) means "the
    default" (``kind_defaults``). ``runs.large_batch``: that many windows per
    step, and the learning rate, iterations, evaluation cadence and moving
    average rescaled from the kind's defaults to match
    (``runs.large_batch.scale_to_batch``); those of them in ``neep_kwargs`` are
    kept as given, and ``batch_size`` must not be given.
    """
    seq_len = neep_kwargs.get("seq_len") or FIT_DEFAULTS["seq_len"]
    kind = neep_kwargs.get("model") or default_kind(discrete, seq_len, bool(neep_kwargs.get("odd")))
    defaults = kind_defaults(kind)
    given = {k: v for k, v in neep_kwargs.items() if not (v is None and k in _NONE_MEANS_DEFAULT)}
    params = {**defaults, **given, "model": kind}
    if kind == "mlp" and params.get("odd") and "patience" not in given:
        params["patience"] = ODD_PATIENCE
    if large_batch is not None:
        if "batch_size" in given:
            raise ValueError("give batch_size or large_batch, not both (large_batch sets the batch size and "
                             "rescales the learning rate and iterations to it)")
        params = scale_to_batch(params, large_batch, keep=[k for k in SCALED if k in given])
    return params
