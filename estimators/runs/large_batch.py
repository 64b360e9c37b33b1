"""Large batches with a matching learning rate: a fit's settings rescaled to another batch size.

A GPU trains many more windows per second at large batches than at the
default 4096 (one H200, MLP 3 x 512, mixed bf16: 19.6 M samples/s at 4096,
43.3 M at 65 536; README, "On a GPU"). Making the batch larger alone changes
the optimization: the same iterations see more windows, and each step
averages away more gradient noise. ``scale_to_batch`` keeps the run
comparable by the square-root rule for Adam (Malladi, Lyu, Panigrahi & Arora,
"On the SDEs and scaling rules for adaptive gradient algorithms", NeurIPS
2022): a batch kappa times larger gets

* the learning rate times sqrt(kappa) (Adam normalizes the gradient by its
  noise scale, so the step's noise shrinks as 1/sqrt(kappa) and the rate
  can grow by as much at the same noise per window seen);
* kappa times fewer iterations: the same number of windows seen;
* an evaluation every kappa times fewer iterations: the same evaluations,
  as many windows apart as before (model selection and the convergence
  checks see the same curve), at most one interval of all iterations;
* a moving average of the weights whose horizon covers the same windows:
  ``1 - ema_momentum`` times kappa (capped at 1/2: an average over fewer
  than about two steps is no average).

Adam's own betas are kept: the rule's ``1 - beta -> kappa (1 - beta)`` is
impossible for beta1 = 0.9 beyond kappa = 10, and the measured estimates
did not need it (benchmarks/large_batch.py; benchmarks/RESULTS-estimators.md,
"Large batches"). Settings the user gave explicitly are left as given.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

__all__ = ["SCALED", "MAX_EMA_STEP", "scale_to_batch"]

#: The settings ``scale_to_batch`` rescales.
SCALED = ("learning_rate", "iterations", "eval_every", "ema_momentum")

#: Largest weight of the newest step in the moving average (1 - ema_momentum).
MAX_EMA_STEP = 0.5


def scale_to_batch(params: Mapping[str, Any], batch_size: int, keep: Collection[str] = ()) -> dict[str, Any]:
    """``training.config`` (a fit's ``NEEP`` settings at their batch size) rescaled to ``batch_size``.

    Parameters
    ----------
    params : mapping
        Resolved settings with ``batch_size``, ``learning_rate``,
        ``iterations``, ``eval_every`` and ``ema_momentum`` (None: no
        average); e.g. ``run.kind_defaults(kind)``.
    batch_size : int
        The new batch size (windows per step), >= 1; larger or smaller.
    keep : collection of str
        Names in ``SCALED`` to leave as they are in ``training.config`` (settings
        the user chose).

    Returns
    -------
    dict
        A copy of ``training.config`` with ``batch_size`` and the settings of
        ``SCALED`` (except ``keep``) rescaled by kappa = batch_size /
        params["batch_size"], as the module describes.

    Raises
    ------
    ValueError
        For a batch size that is not a positive integer, or ``keep`` naming
        something ``scale_to_batch`` does not scale.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch size must be an integer >= 1, got {batch_size!r}")
    unknown = sorted(set(keep) - set(SCALED))
    if unknown:
        raise ValueError(f"keep names settings that are not rescaled: {', '.join(unknown)} "
                         f"(rescaled: {', '.join(SCALED)})")
    missing = [name for name in ("batch_size", *SCALED) if name not in params]
    if missing:
        raise ValueError(f"params lack {', '.join(missing)}")
    kappa = batch_size / int(params["batch_size"])
    scaled = dict(params, batch_size=batch_size)
    if "learning_rate" not in keep:
        scaled["learning_rate"] = float(params["learning_rate"]) * math.sqrt(kappa)
    if "iterations" not in keep:
        scaled["iterations"] = max(1, math.ceil(int(params["iterations"]) / kappa))
    if "eval_every" not in keep:  # never past the last iteration (then one evaluation, at the end)
        scaled["eval_every"] = min(max(1, round(int(params["eval_every"]) / kappa)), int(scaled["iterations"]))
    momentum = params["ema_momentum"]
    if "ema_momentum" not in keep and momentum is not None:
        scaled["ema_momentum"] = 1.0 - min(MAX_EMA_STEP, (1.0 - float(momentum)) * kappa)
    return scaled
