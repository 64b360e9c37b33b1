"""The current network trained against localization noise (training.noise, CurrentAnsatz(noise=...)).

Data: the paper's 2-bead chain (Tc = 1, Th = 10, dt = 0.01) with Gaussian
localization noise added here, so the same trajectories exist clean and noisy.
Tolerances are in standard errors of per-trajectory means (independent
trajectories), fixed seeds.
"""

from __future__ import annotations

import numpy as np
import pytest

from neep.estimators.baselines.currents import fit_linear_current
from neep.estimators.nn.model import NEEPModel
from neep.estimators.nn.networks import build_network, set_linear_current
from neep.estimators.nn.prediction import predict_delta_s, predict_noise_penalty
from neep.simulators import BeadSpring, simulate_to_arrays

DT = 0.01


@pytest.fixture(scope="module")
def chain():
    clean = simulate_to_arrays(BeadSpring(n=2), 48, 3000, seed=5)["states"]
    noise = 0.149  # 45 % of the total rms step, 100 % of the hot coordinate's
    noisy = clean + np.random.default_rng(6).normal(0.0, noise, clean.shape).astype(np.float32)
    return clean, noisy, noise


def _model_at_the_clean_force(clean, noise):
    """A current model whose force is the clean data's fitted linear current, corrected for ``noise``."""
    mean, std = clean.reshape(-1, 2).mean(0), clean.reshape(-1, 2).std(0)
    linear = fit_linear_current(clean, mean=mean, std=std)
    network = build_network("current", dim=2, hidden_units=4, layers=1, seed=0)
    model = NEEPModel(network, mean=mean.tolist(), std=std.tolist(), kind="current",
                      noise_variance=[noise**2, noise**2])
    model(clean[:2, :2])
    set_linear_current(network, linear.kernel, linear.bias)
    return model


def test_corrected_objective_of_noisy_pairs_is_the_clean_one(chain):
    clean, noisy, noise = chain
    model = _model_at_the_clean_force(clean, noise)
    on_clean = predict_delta_s(model, clean).astype(np.float64)
    on_noisy = predict_delta_s(model, noisy).astype(np.float64)
    penalty = predict_noise_penalty(model, noisy).astype(np.float64)
    j_clean = (on_clean - np.exp(-on_clean)).mean(axis=1)
    corrected = (on_noisy - np.exp(-on_noisy - penalty)).mean(axis=1) - j_clean
    plain = (on_noisy - np.exp(-on_noisy)).mean(axis=1) - j_clean

    def z(d):  # the paired difference in standard errors of its mean over the 48 trajectories
        return d.mean() / (d.std(ddof=1) / np.sqrt(d.size))

    # Same trajectories: the corrected objective of the noisy pairs estimates the clean objective (what is
    # left, the midpoint's own noise, adds a term of order S dt: measured -1.4 SE here); 4 SE bound a
    # Gaussian error outside 6e-5 of the time. The plain objective lies far below (measured -41 SE).
    assert abs(z(corrected)) < 4
    assert z(plain) < -10
    # the penalty is F^T S F in standardized units: S = noise^2 / std^2, F the model's force at the midpoint
    mean, std = np.asarray(model.standardize.mean), np.asarray(model.standardize.std)
    z_states = (noisy[:2] - mean) / std
    mid = (z_states[:, :-1] + z_states[:, 1:]) / 2
    force = np.asarray(model.network(mid.reshape(-1, 2).astype(np.float32)))
    expected = (force**2 * noise**2 / std**2).sum(axis=1).reshape(2, -1)
    np.testing.assert_allclose(penalty[:2], expected, rtol=1e-4, atol=1e-9)


def test_penalty_needs_the_current_kind_and_round_trips(tmp_path, chain):
    clean, noisy, noise = chain
    with pytest.raises(ValueError, match="current model only"):
        NEEPModel(build_network("mlp", hidden_units=4, layers=1), kind="mlp", noise_variance=[0.1, 0.1])
    plain = NEEPModel(build_network("current", dim=2, hidden_units=4, layers=1), kind="current")
    assert predict_noise_penalty(plain, clean[:2]) is None  # not corrected: the plain objective
    model = _model_at_the_clean_force(clean, noise)
    path = tmp_path / "m.keras"
    model.save(path)
    import keras

    loaded = keras.saving.load_model(path)
    assert loaded.noise_variance == pytest.approx([noise**2, noise**2])
    np.testing.assert_allclose(predict_noise_penalty(loaded, noisy[:2]), predict_noise_penalty(model, noisy[:2]),
                               rtol=1e-6)


def test_fit_trains_the_current_network_against_the_noise(chain):
    from neep.estimators import NEEP

    _, noisy, noise = chain
    tiny = dict(hidden_units=4, iterations=4, eval_every=2, batch_size=32, verbose=0, data_check=False)
    est = NEEP(**tiny).fit(noisy[:24], noisy[24:])
    # the variance the network was trained against is the report's estimate of the training part (made once),
    # and that estimate holds the true noise within 4 of its standard errors
    found = est.noise_.estimate
    assert est.model_.noise_variance == pytest.approx(np.maximum(found.variance, 0.0).tolist(), rel=1e-12)
    assert np.all(np.abs(found.variance - noise**2) < 4 * found.variance_stderr)
    assert est.noise_.network_corrected and est.noise_.as_dict()["network_corrected"]
    # no "not corrected" warning for a corrected network (a note only if the robust current is reported)
    assert not any("not corrected" in f for f in est.flags_)
    # the start is the noise-robust linear current: the rate at iteration 0 is the corrected one, not the
    # plain linear current's, which the noise halves (the exact EP per step is 0.0204)
    start = [r for r in est.history_ if r["iteration"] == 0][0]["ep_per_step"]
    assert start > 0.016
    for other in (dict(model="mlp"), dict(noise="off")):  # other networks, or asked not to: not corrected
        plain = NEEP(**tiny, **other).fit(noisy[:24], noisy[24:])
        assert plain.model_.noise_variance is None and not plain.noise_.network_corrected
        assert any("not corrected" in f for f in plain.flags_)


def test_a_corrected_network_is_replaced_only_by_a_clearly_higher_robust_current(chain):
    from neep.estimators.baselines.noise_check import check_noise
    from neep.estimators.stats.uncertainty import Interval

    _, noisy, _ = chain
    report = check_noise(noisy[:24], noisy[24:], "auto", dt=DT, network_corrected=True)
    r = report.robust
    net = lambda value: Interval(value, 0.01, 0.01, None)  # noqa: E731
    # within two of the robust current's errors: the corrected network stays, with no warning
    assert report.reported(net(r.value - r.stderr)).value == r.value - r.stderr
    assert report.warning(r.value - r.stderr) is None and report.warning(r.value + 1.0) is None
    # beyond them: the robust current is reported, with a note that says why
    assert report.reported(net(r.value - 3 * r.stderr)) is r.interval
    assert "trained against it" in report.warning(r.value - 3 * r.stderr)
    # summary.json's noise.warning says the same as the flags, given the network's rate
    assert report.as_dict(r.value - 3 * r.stderr)["warning"] and not report.as_dict(r.value - r.stderr)["warning"]
