"""The localization noise a current network is trained against, and its closed-form start.

With white localization noise ``y_t = x_t + eta_t`` (variance ``S`` per
coordinate, ``stats.noise``) the NEEP objective of pairs shrinks the force
against the noise's variance: the network's rate is biased low (-14 % at a
noise of 15 % of the step on the 2-bead chain, -54 % at 45 %, -9 % on the
driven ring at 15 %). The current ansatz ``dS = F(ybar) . dy`` can be
corrected exactly for the displacement's noise: the midpoint's noise
``(eta + eta') / 2`` is independent of the displacement's ``eta' - eta``
(equal variances, Gaussian), so given the midpoint the noise adds a Gaussian
term of variance ``2 F^T S F`` to ``dS``, and

    J_c = < dS - exp(-dS - F(ybar)^T S F(ybar)) >

is in expectation the objective of the noiseless pairs, the force evaluated
at the noisy midpoint (``CurrentAnsatz(noise=...)``, ``NEEPModel(noise_variance=...)``).
What is left is the midpoint's own noise (variance ``S / 2``): an O(S) blur of
``F``. Measured in a pilot (500 + 500 trajectories of 10^4 steps, 6000 steps of
training): the driven ring at noise 15 % of the step, plain 1.077, corrected
1.141 (sigma 1.1885, the chain's own value 1.1653); the 2-bead chain at 45 %
(noise std 100 % of the hot coordinate's step), plain 0.92, corrected 1.90
(rate 2.025; a first-order correction for the midpoint's noise, ``g^T S g / 4``
with ``g`` the gradient of ``dS`` in the midpoint, gave 1.95; not adopted: it
needs a gradient in the input inside the training step).

``network_noise`` decides whether a fit corrects (the current model, even
variables, ``noise="robust"``, or ``"auto"`` with significant noise), and
``closed_form_start`` gives the corrected network its start: the noise-robust
linear current (``baselines.robust``, degree 1), whose force has the layout
of the linear current's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..baselines.currents import LinearCurrent, fit_linear_current
from ..baselines.robust import RobustCurrent, fit_robust_current
from ..stats.noise import LAGS, NoiseEstimate, estimate_noise
from .config import FitConfig

__all__ = ["network_noise", "closed_form_start"]


def network_noise(config: FitConfig, train: Any, kind: str) -> tuple[NoiseEstimate | None, list[float] | None]:
    """The noise estimate of ``train`` and the variance per coordinate (data units) the network corrects for.

    The estimate is None unless ``kind`` is ``"current"``, the states are
    continuous, no column is odd, ``config.noise`` is not ``"off"`` and every
    trajectory has at least ``LAGS + 2`` states (``check_noise`` then makes its
    own); the variance is None unless, besides, the noise is significant
    (``"auto"``) or asked for (``"robust"``).
    """
    if kind != "current" or config.noise == "off" or config.odd or train.discrete:
        return None, None
    parts = train.states if isinstance(train.states, tuple) else (train.states,)
    if any(p.shape[1] < LAGS + 2 for p in parts):
        return None, None
    estimate = estimate_noise(train.states)
    if config.noise == "robust" or estimate.significant:
        return estimate, np.maximum(estimate.variance, 0.0).tolist()
    return estimate, None


def closed_form_start(states: Any, noise_variance: list[float] | None, mean, std,
                      linear: LinearCurrent | None = None) -> LinearCurrent | RobustCurrent:
    """The current network's start on ``states``: the linear current, or its noise-robust form.

    ``linear``: a linear current already fitted on more data of the same
    process (it starts the Newton passes; without noise and on the same
    ``states`` pass it as the start directly instead).
    """
    if noise_variance is None:
        return fit_linear_current(states, mean=mean, std=std, start=linear)
    return fit_robust_current(states, noise_variance, mean=mean, std=std, degree=1)
