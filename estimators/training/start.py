"""The closed-form start of the current model: the linear current, or a cubic one the validation data prefer.

The current model trains ``F = start + correction`` from the closed-form start
(``nn.networks.current_network``). A linear start is exact for linear forces and
leaves the whole nonlinear part to the network; on the driven ring it reveals 20 %
of the EP, and the network spent 4000 of its 12 000 steps climbing to where a cubic
force polynomial fitted by J already is (1.11 of 1.17). For forces that are cubic
polynomials (FPU-type springs, Duffing or Mexican-hat potentials) the cubic current
is the answer itself, in seconds, as the linear one is for the bead chain.

The degree is chosen on the validation subset the monitors use (data the fits did not
see): the cubic start is taken when its objective J beats the linear start's by
``KEEP_START_UNLESS`` paired standard errors, the rule by which trained weights must
beat a start; otherwise the linear start stays (on linear data the extra terms only add
fitting noise). Up to ``FULL_CUBIC_MAX`` basis currents (5 dimensions), like the cubic
yardstick, whose fit is the same and is reused (``assessment``).
"""

from __future__ import annotations

import numpy as np

from ..baselines.currents import LinearCurrent, basis_size, fit_linear_current
from ..baselines.estimates import FULL_CUBIC_MAX
from ..stats.uncertainty import mean_stderr
from .config import FitConfig
from .loop import KEEP_START_UNLESS
from .prepare import PreparedFit

__all__ = ["MIN_PAIRS_PER_CURRENT", "START_DEGREE", "choose_start"]

#: The degree tried beside the linear start.
START_DEGREE = 3
#: Training pairs per basis current below which the cubic start is not tried (its fit would be noise).
MIN_PAIRS_PER_CURRENT = 100


def choose_start(config: FitConfig, prepared: PreparedFit, linear: LinearCurrent | None
                 ) -> tuple[LinearCurrent | None, LinearCurrent | None]:
    """``(start, cubic)``: the current model's start, ``linear`` or the J-fitted cubic current, and the cubic one.

    ``start`` is None when the model does not start from a closed form
    (another kind, ``linear_start=False``, or no ``linear``); ``cubic`` is
    None when it was not fitted (then, or above ``FULL_CUBIC_MAX`` currents).
    """
    if linear is None or prepared.kind != "current" or not config.linear_start:
        return None, None
    d = linear.bias.size
    if prepared.sub_states is None or basis_size(d, START_DEGREE) > FULL_CUBIC_MAX:
        return linear, None
    if int(np.sum(prepared.train.lengths - 1)) < MIN_PAIRS_PER_CURRENT * basis_size(d, START_DEGREE):
        return linear, None  # too few pairs to fit the cubic terms
    cubic = fit_linear_current(prepared.train.states, mean=prepared.mean, std=prepared.std, degree=START_DEGREE)
    values = []
    for current in (linear, cubic):
        delta_s = current.delta_s(np.asarray(prepared.sub_states))
        with np.errstate(over="ignore", invalid="ignore"):
            values.append(delta_s - np.exp(-delta_s))
    gain = values[1] - values[0]
    if not np.all(np.isfinite(gain)) or gain.shape[0] < 2:
        return linear, cubic
    return (cubic if float(np.mean(gain)) > KEEP_START_UNLESS * mean_stderr(gain) else linear), cubic
