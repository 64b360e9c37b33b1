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
In 7 or more dimensions ``local_start`` adds a candidate, the velocity current
on local cubic features (``baselines.local``: each coordinate from the ones the
linear current couples it to), and the best of the cubic candidates by
validation J is the one compared (20-bead FPU chain: the shared cubic basis
-23.9 paired errors against the linear current, the local one +11.0).

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

from ..baselines.drift import FULL_CUBIC_FEATURES, DriftCurrent, feature_count, fit_drift_current
from ..baselines.estimates import DRIFT_MAX_FEATURES
from ..baselines.local import coupling_hoods, fit_local_current
from ..data.sets import flat, map_parts
from ..stats.uncertainty import mean_stderr
from .noise import closed_form_start

__all__ = ["ClosedFormStart", "polynomial_start", "local_start", "choose_start", "current_start", "is_cubic", "MARGIN"]

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
        if fitted.hoods is not None:  # the same hoods
            return _as_start(self.name, fit_local_current(states, fitted.hoods, mean=fitted.mean, std=fitted.std))
        return _as_start(self.name, _fit(states, fitted.mean, fitted.std))


def _fit(states: Any, mean, std) -> DriftCurrent:
    return fit_drift_current(states, mean=mean, std=std, midpoint=True)


def _as_start(name: str, fitted: DriftCurrent) -> ClosedFormStart:
    d = fitted.mean.size
    force = fitted.coefficients @ fitted.precision  # F(z) = features(z) @ force: 1, z_0 .. z_{d-1}, higher
    terms = _drift_terms(d) if fitted.terms is None else [tuple(int(i) for i in t) for t in fitted.terms[d + 1 :]]
    return ClosedFormStart(name, force[1 : d + 1], force[0], terms, force[d + 1 :], fitted)


def polynomial_start(states: Any, mean, std) -> ClosedFormStart | None:
    """The cubic velocity current of ``states`` (module doc), or None where its features are too many."""
    d = (states[0] if isinstance(states, tuple) else states).shape[2]
    if feature_count(d) > DRIFT_MAX_FEATURES:
        return None
    return _as_start("velocity_current", _fit(states, np.asarray(mean, float), np.asarray(std, float)))


def local_start(states: Any, mean, std, linear) -> ClosedFormStart | None:
    """The velocity current on local cubic features (``baselines.local``), hoods from ``linear``'s couplings.

    None where the full cubic basis is used (d <= 5) or every hood holds every
    coordinate (nothing local to gain).
    """
    d = (states[0] if isinstance(states, tuple) else states).shape[2]
    if linear is None or math.comb(d + 2, 3) <= FULL_CUBIC_FEATURES:
        return None
    hoods = coupling_hoods(linear.kernel)
    if all(len(h) == d for h in hoods):
        return None
    fitted = fit_local_current(states, hoods, mean=np.asarray(mean, float), std=np.asarray(std, float))
    return _as_start("local_velocity_current", fitted)


def _objective_values(start, sub_states) -> Any:
    """``dS - exp(-dS)`` of every validation pair, float64, shaped like the states' pairs (tuple for parts)."""
    return map_parts(lambda part: _j(start.delta_s(part)), sub_states)


def _j(delta_s: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return delta_s - np.exp(-delta_s)


def choose_start(linear, cubic, sub_states: Any, margin: float = MARGIN) -> tuple[Any, dict]:
    """The start with the higher validation J, the linear one unless a cubic one wins by ``margin`` paired errors.

    ``cubic``: a ``ClosedFormStart``, a list of them (the one with the highest
    validation J is the candidate) or None. The paired error is
    ``stats.uncertainty.mean_stderr`` of the per-pair differences: over
    trajectories, or over time blocks when there are few (one long trajectory
    is the common experiment).

    Returns
    -------
    start : LinearCurrent or ClosedFormStart
    record : dict
        ``start`` (its name), ``gain_sigmas`` (the best cubic's lead in paired
        standard errors of the validation J; None without a cubic), ``gain``
        (per pair) and, with several candidates, ``candidates`` (each one's
        lead in paired errors, by name).
    """
    candidates = [c for c in (cubic if isinstance(cubic, (list, tuple)) else [cubic]) if c is not None]
    if not candidates:
        return linear, {"start": "linear_current", "gain": None, "gain_sigmas": None}
    lin = _objective_values(linear, sub_states)
    leads = [_lead(_objective_values(c, sub_states), lin) for c in candidates]
    best = int(np.argmax([gain for gain, _ in leads]))
    (gain, sigmas), found = leads[best], candidates[best]
    chosen = found if sigmas > margin else linear
    record = {"start": found.name if chosen is found else "linear_current", "gain": gain, "gain_sigmas": sigmas}
    if len(candidates) > 1:
        record["candidates"] = {c.name: s for c, (_, s) in zip(candidates, leads)}
    return chosen, record


def _lead(cub, lin) -> tuple[float, float]:
    """Mean validation J gain per pair of a cubic start over the linear one, and its paired standard errors."""
    diff = tuple(c - l for c, l in zip(cub, lin)) if isinstance(lin, tuple) else cub - lin
    values = flat(diff)
    if not np.all(np.isfinite(values)):  # a cubic force that explodes somewhere: not a start
        return -math.inf, -math.inf
    gain = float(np.mean(values))
    stderr = mean_stderr(diff)
    return gain, gain / stderr if stderr > 0 else (math.inf if gain > 0 else 0.0)


def is_cubic(start: Any) -> bool:
    """Whether a fit's start has the polynomial part (a ``ClosedFormStart``), not only a linear one."""
    return getattr(start, "terms", None) is not None


def current_start(prepared, linear, cubic: bool = True, choose: bool = True,
                  warm: list | None = None) -> tuple[Any, dict | None]:
    """The start of a fit's networks and its record: ``linear`` (None: no start) unless the current model's is better.

    The current network (``prepared.kind == "current"``): with localization noise
    corrected (``prepared.noise_variance``), the noise-robust linear current
    (``training.noise.closed_form_start``); else ``choose_start`` between
    ``linear`` and the cubic starts, full and local (``cubic=False``: the linear
    one; ``choose=False``: a cubic one whenever ``cubic``, as for a warm start
    from a network that has the polynomial part: the one whose monomials are as
    many as that part's rows in ``warm``, its weights). Other kinds: ``linear``
    itself, record None.
    """
    if linear is None or prepared.kind != "current":
        return linear, None
    if prepared.noise_variance is not None:
        robust = closed_form_start(prepared.train.states, prepared.noise_variance, prepared.mean, prepared.std)
        return robust, {"start": "robust_current", "gain": None, "gain_sigmas": None}
    found = [polynomial_start(prepared.train.states, prepared.mean, prepared.std),
             local_start(prepared.train.states, prepared.mean, prepared.std, linear)] if cubic else []
    found = [f for f in found if f is not None]
    if found and not choose:  # a warm start from a network with the polynomial part: its own kind
        d = prepared.train.dim
        rows = {np.shape(w)[0] for w in warm or [] if np.ndim(w) == 2 and np.shape(w)[1] == d}
        same = next((f for f in found if len(f.terms) in rows), found[0])
        return same, {"start": same.name, "gain": None, "gain_sigmas": None}
    return choose_start(linear, found, prepared.sub_states)
