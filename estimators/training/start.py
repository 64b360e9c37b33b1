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
from ..data.sets import flat, map_parts
from ..stats.uncertainty import mean_stderr
from .noise import closed_form_start

__all__ = ["ClosedFormStart", "polynomial_start", "choose_start", "current_start", "is_cubic", "MARGIN"]

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


def _objective_values(start, sub_states) -> Any:
    """``dS - exp(-dS)`` of every validation pair, float64, shaped like the states' pairs (tuple for parts)."""
    return map_parts(lambda part: _j(start.delta_s(part)), sub_states)


def _j(delta_s: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return delta_s - np.exp(-delta_s)


def choose_start(linear, cubic: ClosedFormStart | None, sub_states: Any, margin: float = MARGIN) -> tuple[Any, dict]:
    """The start with the higher validation J, the linear one unless the cubic wins by ``margin`` paired errors.

    The paired error is ``stats.uncertainty.mean_stderr`` of the per-pair
    differences: over trajectories, or over time blocks when there are few
    (one long trajectory is the common experiment).

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
    lin, cub = _objective_values(linear, sub_states), _objective_values(cubic, sub_states)
    diff = tuple(c - l for c, l in zip(cub, lin)) if isinstance(lin, tuple) else cub - lin
    values = flat(diff)
    if not np.all(np.isfinite(values)):  # a cubic force that explodes somewhere: not a start
        gain, sigmas = -math.inf, -math.inf
    else:
        gain = float(np.mean(values))
        stderr = mean_stderr(diff)
        sigmas = gain / stderr if stderr > 0 else (math.inf if gain > 0 else 0.0)
    chosen = cubic if sigmas > margin else linear
    return chosen, {"start": cubic.name if chosen is cubic else "linear_current", "gain": gain,
                    "gain_sigmas": sigmas}


def is_cubic(start: Any) -> bool:
    """Whether a fit's start has the polynomial part (a ``ClosedFormStart``), not only a linear one."""
    return getattr(start, "terms", None) is not None


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
