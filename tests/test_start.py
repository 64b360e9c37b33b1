"""The current network's closed-form start: the cubic velocity current, chosen on validation J.

The velocity current regresses increments on cubic features of the midpoint
(``fit_drift_current(midpoint=True)``): the local mean velocity, whose current is
the total EP of a step. Statistical checks compare with the exact EP at ``Z``
standard errors of independent trajectories (fixed seeds).
"""

import math

import numpy as np
import pytest

from neep.estimators.baselines.currents import fit_linear_current
from neep.estimators.baselines.drift import drift_features, fit_drift_current
from neep.estimators.nn.networks import current_network, set_linear_current, set_polynomial_current
from neep.estimators.training.start import choose_start, polynomial_start
from neep.simulators import BeadSpring, FPUChain

Z = 4.0  # Gaussian tail: |z| > 4 has probability 6e-5


@pytest.fixture(scope="module")
def fpu():
    """A 3-bead FPU chain (hot end 10, beta 3): training and held-out trajectories with the exact medium EP."""
    model = FPUChain(n=3, dt=0.002, beta=3.0)
    x, ep = model.simulate(trajectories=96, steps=3000, seed=3, exact_ep=True)
    return model, x, ep


def _stats(x):
    flat = x.reshape(-1, x.shape[2]).astype(np.float64)
    return flat.mean(axis=0), flat.std(axis=0)


def test_the_network_carries_the_velocity_currents_force(fpu):
    _, x, _ = fpu
    mean, std = _stats(x[:48])
    start = polynomial_start(x[:48], mean, std)
    network = current_network(3, 8, 1, seed=0, poly_terms=start.terms)
    set_linear_current(network, start.kernel, start.bias)
    set_polynomial_current(network, start.higher)
    z = np.random.default_rng(0).normal(size=(200, 3))
    expected = drift_features(z) @ (start.fitted.coefficients @ start.fitted.precision)
    got = np.asarray(network(z.astype(np.float32)), dtype=np.float64)  # the correction starts at zero
    np.testing.assert_allclose(got, expected, rtol=2e-4, atol=2e-4 * np.abs(expected).max())


def test_the_velocity_current_is_the_total_ep_and_the_drift_current_only_the_medium_part(fpu):
    model, x, ep = fpu
    train, test, exact = x[:48], x[48:], ep[48:].astype(np.float64)
    mean, std = _stats(train)
    velocity = fit_drift_current(train, mean=mean, std=std, midpoint=True).delta_s(test)
    drift = fit_drift_current(train, mean=mean, std=std).delta_s(test)
    # Means: per held-out trajectory, against the exact medium EP of the same steps (its mean is the EP;
    # the system-entropy term averages out). Tolerance: Z standard errors of the paired difference over
    # 48 independent trajectories (measured: -0.05 %, 0.06 errors; at dt = 0.005 the frame-interval loss
    # of pairs is resolved: -4.7 %, 6.6 errors).
    diff = velocity.mean(axis=1) - exact.mean(axis=1)
    se = diff.std(ddof=1) / math.sqrt(diff.size)
    assert abs(diff.mean()) < Z * se, (velocity.mean() / model.dt, exact.mean() / model.dt, se / model.dt)
    # J: the velocity current's fluctuations are those of the total EP, <exp(-dS)> ~ 1; the drift current's
    # medium entropy keeps the heat's, and its 1 + J is far below its mean. Not a tolerance but two regimes
    # apart (measured: 1 + J is 0.95 of the mean for the velocity current, -5.4 times it for the drift's).
    j_velocity, j_drift = np.mean(velocity - np.exp(-velocity)), np.mean(drift - np.exp(-drift))
    assert 1 + j_velocity > 0.8 * velocity.mean()
    assert 1 + j_drift < 0.0 < drift.mean()


def test_choose_start_takes_the_cubic_only_where_it_wins(fpu):
    _, x, _ = fpu
    mean, std = _stats(x[:48])
    linear = fit_linear_current(x[:48], mean=mean, std=std)
    cubic = polynomial_start(x[:48], mean, std)
    chosen, record = choose_start(linear, cubic, x[48:])  # FPU springs: the cubic force must win (6.5 errors)
    assert chosen is cubic and record["start"] == "velocity_current" and record["gain_sigmas"] > 2
    # a linear chain: the cubic's lead is noise; the linear closed form stays
    chain = BeadSpring(n=2, dt=0.01)
    y = chain.simulate(trajectories=64, steps=2000, seed=5)
    mean, std = _stats(y[:32])
    linear = fit_linear_current(y[:32], mean=mean, std=std)
    chosen, record = choose_start(linear, polynomial_start(y[:32], mean, std), y[32:])
    assert chosen is linear and record["start"] == "linear_current" and record["gain_sigmas"] < 2  # -0.7
    assert choose_start(linear, None, y[32:])[0] is linear


def test_one_long_trajectory_is_judged_in_time_blocks(fpu):
    # A single recorded trajectory (the common experiment): the paired error comes from time blocks,
    # and the cubic still wins on the FPU chain (the same 144 000 validation pairs as above, in one piece).
    model, x, _ = fpu
    long = model.simulate(trajectories=1, steps=144_000, seed=8)
    mean, std = _stats(x[:48])
    linear = fit_linear_current(x[:48], mean=mean, std=std)
    chosen, record = choose_start(linear, polynomial_start(x[:48], mean, std), long)
    assert record["start"] == "velocity_current" and record["gain_sigmas"] > 2


def test_a_fit_starts_at_the_velocity_current_and_its_file_keeps_it(fpu, tmp_path):
    from neep.estimators import NEEP, load_model

    _, x, _ = fpu
    # validation: a quarter of the 48 training trajectories (the cubic's lead there: 3.5 paired errors)
    est = NEEP(model="current", iterations=200, eval_every=100, hidden_units=8, seed=0, verbose=0,
               data_check=False, test_fraction=0.5, validation_fraction=0.25)
    est.fit(x)
    assert est.start_["start"] == "velocity_current"
    names = [layer.name for layer in est.model_.antisymmetric.network.layers]
    assert "poly" in names and "monomials" in names
    # a warm start from it keeps the polynomial part (its weights are odd in number), without a new choice
    warm = NEEP(model="current", iterations=100, eval_every=100, hidden_units=8, seed=1, verbose=0,
                data_check=False, baseline=False, warm_start=est).fit(x)
    assert warm.start_["start"] == "velocity_current" and warm.start_["gain_sigmas"] is None
    path = est.save(tmp_path / "fpu.keras")
    again = load_model(path)
    np.testing.assert_allclose(again.predict(x[:2]), est.predict(x[:2]), rtol=1e-6, atol=1e-7)


def test_a_trained_current_network_is_refitted_on_half_its_data_only_when_it_fits_its_training_data_better(fpu):
    from neep.estimators import NEEP
    from neep.estimators.assessment import REFIT_IF_EXCESS, refit_needed
    from neep.estimators.stats.overfitting import check_overfitting_paired

    # the rule: an in-sample advantage beyond REFIT_IF_EXCESS of its own standard errors
    same = check_overfitting_paired(1.0, 1.0, excess=0.5 * REFIT_IF_EXCESS * 0.01, excess_stderr=0.01, stderr=0.01)
    ahead = check_overfitting_paired(1.0, 1.0, excess=1.5 * REFIT_IF_EXCESS * 0.01, excess_stderr=0.01, stderr=0.01)
    assert not refit_needed(same) and refit_needed(ahead) and refit_needed(None)
    # in a fit: a network trained from zero (no closed-form start to keep) on the FPU chain
    _, x, _ = fpu
    est = NEEP(model="current", iterations=200, eval_every=100, hidden_units=8, seed=0, verbose=0,
               linear_start=False, cubic_start=False, baseline=False).fit(x)
    assert [r["iteration"] for r in est.history_ if r.get("kept")] != [0]
    diagnostics = {d.name: d for d in est.diagnostics_}
    refitted = "rates" in diagnostics["data"].details
    assert refitted == refit_needed(diagnostics["overfitting"])
    assert refitted or "no refit needed" in diagnostics["data"].message


def test_a_kept_cubic_start_is_refitted_by_the_same_rule(fpu):
    from neep.estimators import NEEP
    from neep.estimators.assessment import refit_needed

    _, x, _ = fpu
    # 100 steps cannot beat the cubic start by KEEP_CUBIC_START_UNLESS paired errors: the start is kept
    est = NEEP(model="current", iterations=100, eval_every=100, hidden_units=8, seed=0, verbose=0,
               baseline=False, test_fraction=0.5, validation_fraction=0.25).fit(x)
    assert est.start_["start"] == "velocity_current"
    assert [r["iteration"] for r in est.history_ if r.get("kept")] == [0]
    diagnostics = {d.name: d for d in est.diagnostics_}
    refitted = "rates" in diagnostics["data"].details
    assert refitted == refit_needed(diagnostics["overfitting"])
    assert refitted or "no refit needed (the closed-form start's advantage" in diagnostics["data"].message
