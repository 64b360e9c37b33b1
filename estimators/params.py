"""``NEEP``'s constructor parameters: their checks, and the network kind they choose for the data.

``check_params(est)`` raises ``ValueError`` on the first invalid parameter
(``NEEP.fit`` and ``run.fit_to_folder`` call it before touching the data);
``model_kind(est, data)`` resolves ``model=None`` to the default kind for the
data and refuses a kind that cannot read them. Both read the parameters off
the estimator (``NEEP`` stores them unchanged, scikit-learn style).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np

from .data import Trajectories
from .networks import MODEL_KINDS

if TYPE_CHECKING:  # pragma: no cover
    from .estimator import NEEP

__all__ = ["PRECISIONS", "check_params", "model_kind"]

#: The compute dtypes of ``NEEP(precision=...)``.
PRECISIONS = ("float32", "mixed_bfloat16")


def check_params(est: NEEP) -> None:
    """Raise ``ValueError`` naming the first invalid constructor parameter of ``est``.

    Parameters
    ----------
    est : NEEP
        The estimator whose stored parameters are checked (see its class doc).
    """
    def positive_int(name):
        value = getattr(est, name)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")

    for name in ("batch_size", "iterations", "eval_every", "eval_samples", "seeds", "embedding_dim", "eval_batch_size"):
        positive_int(name)
    for name in ("hidden_units", "layers", "steps_per_execution"):
        if getattr(est, name) is not None:
            positive_int(name)
    if isinstance(est.seq_len, bool) or not isinstance(est.seq_len, (int, np.integer)) or est.seq_len < 2:
        raise ValueError(f"seq_len must be an integer >= 2, got {est.seq_len!r}")
    if est.model is not None and est.model not in MODEL_KINDS:
        raise ValueError(f"model must be one of {', '.join(MODEL_KINDS)}, got {est.model!r}")
    if not (isinstance(est.learning_rate, (int, float)) and est.learning_rate > 0):
        raise ValueError(f"learning_rate must be > 0, got {est.learning_rate!r}")
    if not (isinstance(est.weight_decay, (int, float)) and est.weight_decay >= 0):
        raise ValueError(f"weight_decay must be >= 0, got {est.weight_decay!r}")
    fraction = est.test_fraction
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)) or not 0 < fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {fraction!r}")
    fraction = est.validation_fraction
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)) or not 0 < fraction < 1:
        raise ValueError(f"validation_fraction must be in (0, 1), got {fraction!r}")
    if est.data_parallel not in (True, False):
        raise ValueError(f"data_parallel must be True or False, got {est.data_parallel!r}")
    if est.stack_seeds not in (True, False, "auto"):
        raise ValueError(f"stack_seeds must be True, False or 'auto', got {est.stack_seeds!r}")
    if est.device not in (True, False, "auto"):
        raise ValueError(f"device must be True, False or 'auto', got {est.device!r}")
    if est.precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {est.precision!r}")
    degree = est.baseline_degree
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or not 1 <= degree <= 4:
        raise ValueError(f"baseline_degree must be an integer in 1..4, got {degree!r}")
    if est.ema_momentum is not None and not 0 < est.ema_momentum < 1:
        raise ValueError(f"ema_momentum must be in (0, 1), got {est.ema_momentum!r}")


def model_kind(est: NEEP, data: Trajectories) -> str:
    """The network kind ``est`` trains on ``data``: ``est.model``, or the default for the data.

    Parameters
    ----------
    est : NEEP
        Reads ``model``, ``seq_len`` and ``verbose``.
    data : Trajectories
        The training data (discrete or continuous states).

    Returns
    -------
    str
        ``est.model`` when set; else "embedding" for integer states,
        "current" for float pairs, "mlp" for float windows. With ``verbose``,
        a note on stderr when a flattening network reads windows.

    Raises
    ------
    ValueError
        When the kind cannot read the data's states.
    """
    default = "embedding" if data.discrete else ("current" if int(est.seq_len) == 2 else "mlp")
    kind = est.model or default
    if kind not in ("gru",) and int(est.seq_len) > 2 and est.verbose:
        print(f"NEEP: {kind} network over windows of {int(est.seq_len)} states (the window is flattened; "
              "gru reads it in order, the paper's RNEEP)", file=sys.stderr, flush=True)
    if kind == "current" and data.discrete:
        raise ValueError("model 'current' needs float (continuous) states, got integer data (use 'embedding')")
    if kind == "embedding" and not data.discrete:
        raise ValueError("model 'embedding' needs integer (discrete) states, got float data")
    if kind == "mlp" and data.discrete:
        raise ValueError("model 'mlp' needs float (continuous) states, got integer data (use 'embedding')")
    return kind
