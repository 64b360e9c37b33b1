"""The closed-form start of the current network: the linear current, or a cubic one when validation says so.

Why. The current network is ``F = linear + correction`` with the correction a
ReLU network that starts at zero, so training begins at the closed-form linear
current (exact for linear forces). On a nonlinear force the correction must
then learn everything the linear current misses, and it learns slowly where the
EP per step is small: on the 6-bead FPU chain recorded every 0.001 (EP per step
0.002) it never left the linear start (1.61 against 1.99).

What. ``polynomial_start`` fits the *velocity current* (``baselines.drift``,
``fit_drift_current(midpoint=True)``): the increments regressed on cubic
features of the midpoint give the local mean velocity ``v``, and ``dS = 2 v^T
N^-1 dz`` is the total EP of a step (one pass over the data, seconds). Its
force, ``linear + higher monomials``, becomes the network's fixed part
(``nn.networks.current_network(poly_terms=)``) and the correction learns the
rest. ``choose_start`` keeps it only when its validation J beats the linear
current's by ``MARGIN`` paired standard errors: on linear data the two agree
within noise and the linear closed form (the J optimum of its span) stays.

Measured on held-out data (``1 + J`` per unit time, velocity current against
linear current; mean rate of the velocity current): FPU chain at dt 0.001,
1.89 against 1.60 (mean 2.015, exact 1.994); at dt 0.01, 1.807 against 1.476
(mean 1.823; the network from the linear start 1.811); driven ring 1.098
against 0.221; 2-D swirl 0.557 against 0.404; 2-bead chain 2.0149 both.
The drift current (pre-point features, the medium entropy) has the same mean
but a useless J (-56 to -2 per unit time): its fluctuations are the heat's.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import numpy as np

from ..baselines.drift import DriftCurrent, feature_count, fit_drift_current
from ..baselines.estimates import DRIFT_MAX_FEATURES
from .noise import closed_form_start

__all__ = ["ClosedFormStart", "polynomial_start", "choose_start", "current_start", "MARGIN"]

#: The cubic start replaces the linear one when its validation J is higher by this many paired standard errors.
MARGIN = 2.0


def _drift_terms(d: int) -> list[tuple[int, int, int]]:
    """The higher monomials of ``baselines.drift.drift_features`` in its order, as indices into ``[1, z]``."""
    quad = [(i + 1, k + 1, 0) for i in range(d) for k in range(i, d)]
    if math.comb(d + 2, 3) + 1 + d + math.comb(d + 1, 2) == feature_count(d):  # every cubic monomial
        cubic = [(i + 1, j + 1, k + 1) for i, j, k in itertools.combinations_with_replacement(range(d), 3)]
    else:  # z_i^2 z_k for all i, k
        cubic = [(i + 1, i + 1, k + 1) for i in range(d) for k in range(d)]
    return quad + cubic


@dataclasses.dataclass(frozen=True)
class ClosedFormStart:
    """A closed-form current as the current network's start: ``F(z) = z @ kernel + bias + m(z) @ higher``.

    Attributes
    ----------
    name : str
        ``"velocity_current"``.
    kernel, bias : numpy.ndarray
        The linear part ``(d, d)`` and ``(d,)``, in standardized coordinates.
    terms : list of tuple
        The higher monomials (``nn.layers.Monomials``).
    higher : numpy.ndarray
        Their coefficients ``(q, d)``.
    fitted : baselines.DriftCurrent
        The closed form itself (its ``delta_s``).
    """

    name: str
    kernel: np.ndarray
    bias: np.ndarray
    terms: list
    higher: np.ndarray
    fitted: Any

    def delta_s(self, states: np.ndarray) -> np.ndarray:
        """EP of every step of ``states (M, L, d)`` by the closed form, float64 ``(M, L-1)``."""
        return self.fitted.delta_s(states)

    def refit(self, states: Any) -> "ClosedFormStart":
        """The same kind of start fitted on other data (the data check's fractions)."""
        fitted = self.fitted
        return _as_start(self.name, _fit(states, fitted.mean, fitted.std))


def _fit(states: Any, mean, std) -> DriftCurrent:
    return fit_drift_current(states, mean=mean, std=std, midpoint=True)


def _as_start(name: str, fitted: DriftCurrent) -> ClosedFormStart:
    d = fitted.mean.size
    force = fitted.coefficients @ fitted.precision  # F(z) = drift_features(z) @ force
    return ClosedFormStart(name, force[1 : d + 1], force[0], _drift_terms(d), force[d + 1 :], fitted)


def polynomial_start(states: Any, mean, std) -> ClosedFormStart | None:
    """The cubic velocity current of ``states`` (module doc), or None where its features are too many."""
    d = (states[0] if isinstance(states, tuple) else states).shape[2]
    if feature_count(d) > DRIFT_MAX_FEATURES:
        return None
    return _as_start("velocity_current", _fit(states, np.asarray(mean, float), np.asarray(std, float)))


def _objective_rows(start, sub_states, min_blocks: int = 20) -> np.ndarray:
    """``dS - exp(-dS)`` of the validation pairs summed per block, float64: trajectories, or time blocks of
    them when there are fewer than ``min_blocks`` (one long trajectory is the common experiment)."""
    rows = []
    for part in sub_states if isinstance(sub_states, tuple) else (sub_states,):
        values = _j(start.delta_s(part))
        pieces = max(1, min(values.shape[1], math.ceil(min_blocks / values.shape[0])))
        rows.extend(np.sum(block, axis=1) for block in np.array_split(values, pieces, axis=1))
    return np.concatenate(rows)


def _j(delta_s: np.ndarray) -> np.ndarray:
    return delta_s - np.exp(-delta_s)


def choose_start(linear, cubic: ClosedFormStart | None, sub_states: Any, margin: float = MARGIN) -> tuple[Any, dict]:
    """The start with the higher validation J, the linear one unless the cubic wins by ``margin`` paired errors.

    Returns
    -------
    start : LinearCurrent or ClosedFormStart
    record : dict
        ``start`` (its name), ``gain_sigmas`` (the cubic's lead in paired
        standard errors of the validation J; None without a cubic) and
        ``gain`` (per pair).
    """
    if cubic is None:
        return linear, {"start": "linear_current", "gain": None, "gain_sigmas": None}
    lin, cub = _objective_rows(linear, sub_states), _objective_rows(cubic, sub_states)
    pairs = sum(np.shape(s)[0] * (np.shape(s)[1] - 1) for s in (sub_states if isinstance(sub_states, tuple)
                                                                  else (sub_states,)))
    diff = cub - lin
    gain = float(diff.sum() / pairs)
    stderr = float(np.std(diff, ddof=1) * math.sqrt(diff.size) / pairs) if diff.size > 1 else math.inf
    sigmas = gain / stderr if stderr > 0 else (math.inf if gain > 0 else 0.0)
    chosen = cubic if sigmas > margin else linear
    return chosen, {"start": cubic.name if chosen is cubic else "linear_current", "gain": gain,
                    "gain_sigmas": sigmas}


def current_start(prepared, linear, cubic: bool = True, choose: bool = True) -> tuple[Any, dict | None]:
    """The start of a fit's networks and its record: ``linear`` (None: no start) unless the current model's is better.

    The current network (``prepared.kind == "current"``): with localization noise
    corrected (``prepared.noise_variance``), the noise-robust linear current
    (``training.noise.closed_form_start``); else ``choose_start`` between
    ``linear`` and the cubic start (``cubic=False``: the linear one; ``choose=False``:
    the cubic one whenever ``cubic``, as for a warm start from a network that has
    the polynomial part). Other kinds: ``linear`` itself, record None.
    """
    if linear is None or prepared.kind != "current":
        return linear, None
    if prepared.noise_variance is not None:
        robust = closed_form_start(prepared.train.states, prepared.noise_variance, prepared.mean, prepared.std)
        return robust, {"start": "robust_current", "gain": None, "gain_sigmas": None}
    found = polynomial_start(prepared.train.states, prepared.mean, prepared.std) if cubic else None
    if found is not None and not choose:
        return found, {"start": found.name, "gain": None, "gain_sigmas": None}
    return choose_start(linear, found, prepared.sub_states)
