"""The NEEP objective J and the variational lower bounds it gives, in float64 (NumPy, for reporting).

``nn.objective.neep_objective`` is the training objective on a batch, written with Keras ops
(any backend: TensorFlow, JAX) so gradients flow through it. The NumPy functions compute the same
quantities in float64 on predicted entropy productions, for reporting: with
``dS`` the estimated EP of held-out transitions,

* ``J = E[dS - exp(-dS)]`` (Eq. 2), maximal when dS is the true EP (Eq. 5);
* ``1 + J <= E[true EP]``: the maximum of J is ``E[dS*] - 1`` since
  ``E[exp(-dS*)] = 1`` for the true EP (integral fluctuation theorem), so
  ``1 + J`` is a lower bound of the mean EP per step;
* the Donsker-Varadhan form ``E[dS] - ln E[exp(-dS)]``, a tighter lower bound
  (``ln x <= x - 1``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["objective_values", "objective_numpy", "lower_bound_j", "lower_bound_dv"]


def _as_float64(delta_s: np.ndarray) -> np.ndarray:
    arr = np.asarray(delta_s, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError("delta_s must hold at least one value, got an empty array")
    return arr


def objective_values(delta_s: np.ndarray, penalty: np.ndarray | None = None, objective: str = "neep") -> np.ndarray:
    """Per-entry values whose mean is the objective, float64: ``dS - exp(-dS - q)``, or ``ln sigmoid(dS)``.

    ``objective``: ``"neep"`` (``penalty``: the noise-corrected form's ``q``)
    or ``"logistic"`` (``nn.objective.logistic_objective``, used with odd variables).
    """
    arr = np.asarray(delta_s, dtype=np.float64)
    if objective == "logistic":
        return -np.logaddexp(0.0, -arr)
    shift = 0.0 if penalty is None else np.asarray(penalty, dtype=np.float64)
    return arr - np.exp(-arr - shift)


def objective_numpy(delta_s: np.ndarray, penalty: np.ndarray | None = None) -> float:
    """``J = mean(dS - exp(-dS))`` in float64 (the reference for ``neep_objective``).

    ``penalty``: per-entry ``q`` of the noise-corrected ``mean(dS - exp(-dS - q))``.
    """
    arr = _as_float64(delta_s)
    shift = 0.0 if penalty is None else np.asarray(penalty, dtype=np.float64).ravel()
    return float(np.mean(arr - np.exp(-arr - shift)))


def lower_bound_j(delta_s: np.ndarray) -> float:
    """Lower bound ``1 + J`` of the mean EP per step (float64)."""
    return 1.0 + objective_numpy(delta_s)


def lower_bound_dv(delta_s: np.ndarray) -> float:
    """Donsker-Varadhan lower bound ``E[dS] - ln E[exp(-dS)]`` of the mean EP per step.

    Computed with a log-sum-exp shift so large ``-dS`` does not overflow.
    """
    arr = _as_float64(delta_s)
    neg = -arr
    shift = neg.max()
    log_mean_exp = shift + np.log(np.mean(np.exp(neg - shift)))
    return float(arr.mean() - log_mean_exp)
