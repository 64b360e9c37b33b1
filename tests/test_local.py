"""The velocity current on local cubic features (``baselines.local``) and the local start of the current network.

Exactness checks compare with the full-basis regression (the same span); the
statistical one compares with the exact EP of an FPU chain at ``Z`` standard
errors of independent trajectories (fixed seeds).
"""

import math

import numpy as np
import pytest

from neep.estimators.baselines.currents import fit_linear_current
from neep.estimators.baselines.drift import drift_features, fit_drift_current, monomial_features
from neep.estimators.baselines.local import coupling_hoods, fit_local_current, local_terms
from neep.estimators.training.start import choose_start, local_start, polynomial_start
from neep.simulators import FPUChain

Z = 4.0  # Gaussian tail: |z| > 4 has probability 6e-5


def _stats(x):
    flat = x.reshape(-1, x.shape[2]).astype(np.float64)
    return flat.mean(axis=0), flat.std(axis=0)


@pytest.fixture(scope="module")
def fpu8():
    """An 8-bead FPU chain (hot end 10, beta 3): 96 trajectories of 10 000 steps (2 s to simulate)."""
    model = FPUChain(n=8, dt=0.005, beta=3.0)
    return model, model.simulate(trajectories=96, steps=10_000, seed=4)


def test_monomial_features_are_the_drift_features_in_the_layout_of_the_network_layer(rng):
    z = rng.normal(size=(50, 3))
    terms, _ = local_terms([(0, 1, 2)] * 3)  # every monomial of degree <= 3: the full cubic basis of d = 3
    got = monomial_features(z, terms)
    want = drift_features(z)
    assert got.shape == want.shape == (50, 20)
    # the same columns in another order: each of ours is one of theirs (float64 products of the same numbers)
    for k in range(got.shape[1]):
        assert np.min(np.abs(want - got[:, k : k + 1]).max(axis=0)) < 1e-12
    assert [tuple(t) for t in terms[:4]] == [(0, 0, 0), (1, 0, 0), (2, 0, 0), (3, 0, 0)]  # 1, then z in order


def test_coupling_hoods_follow_the_linear_couplings():
    kernel = np.diag([-1.0] * 5) + np.diag([0.5] * 4, 1) + np.diag([0.5] * 4, -1)
    kernel[0, 4] = 0.05  # a coupling of 5 % of the output's largest: not in the hood
    assert coupling_hoods(kernel) == ((0, 1), (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4))
    assert coupling_hoods(np.ones((3, 3))) == ((0, 1, 2),) * 3
    with pytest.raises(ValueError, match="square"):
        coupling_hoods(np.ones((2, 3)))


def test_with_every_coordinate_in_every_hood_it_is_the_full_velocity_current(fpu8):
    # d = 3 (the full cubic basis): same span, same regression, so the same EP of every step
    _, x = fpu8
    y = x[:, :, :3]
    mean, std = _stats(y[:48])
    local = fit_local_current(y[:48], [(0, 1, 2)] * 3, mean=mean, std=std)
    full = fit_drift_current(y[:48], mean=mean, std=std, midpoint=True)
    a, b = local.delta_s(y[48:52]), full.delta_s(y[48:52])
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9 * np.abs(b).max())


def test_the_local_velocity_current_measures_what_the_full_one_does_and_wins_the_start(fpu8):
    model, x = fpu8
    train, test = x[:48], x[48:]
    mean, std = _stats(train)
    linear = fit_linear_current(train, mean=mean, std=std)
    local = local_start(train, mean, std, linear)
    assert local is not None and local.name == "local_velocity_current"
    assert max(len(h) for h in local.fitted.hoods) < 8  # a chain: neighbours, not every bead (measured 3-5)
    # Mean: the full cubic velocity current (test_start: the total EP of the pairs) on the same held-out
    # steps, per trajectory; Z standard errors of the paired difference over 48 independent trajectories.
    full = polynomial_start(train, mean, std)
    diff = local.delta_s(test).mean(axis=1) - full.delta_s(test).mean(axis=1)
    se = diff.std(ddof=1) / math.sqrt(diff.size)
    assert abs(diff.mean()) < Z * se, (diff.mean() / model.dt, se / model.dt)
    # J: with 8 x 84 coefficients on 480 000 pairs the full basis's regression noise costs what its cubic
    # terms bring (measured +2.3 paired errors over the linear current); the local basis (about 8 x 20)
    # keeps the gain (+11.4). The chooser takes it, and reports both candidates' leads.
    chosen, record = choose_start(linear, [full, local], test)
    assert chosen is local and record["start"] == "local_velocity_current" and record["gain_sigmas"] > 2
    assert record["candidates"]["local_velocity_current"] > record["candidates"]["velocity_current"]
    # its refit on other data keeps the hoods
    assert local.refit(test).fitted.hoods == local.fitted.hoods
