"""Localization noise: detection (stats.noise), the robust current (baselines.robust) and NEEP(noise=...).

Data: the paper's 2-bead chain (Tc = 1, Th = 10, dt = 0.01), whose rms steps
are 0.141 (cold) and 0.447 (hot), with Gaussian localization noise from
``LocalizationNoise``. Tolerances are in standard errors of the estimator
itself (block errors over independent trajectories), fixed seeds.
"""

from __future__ import annotations

import numpy as np
import pytest

from neep.estimators.baselines.estimates import current_baseline
from neep.estimators.baselines.noise_check import check_noise
from neep.estimators.baselines.robust import fit_robust_current, robust_current_baseline
from neep.estimators.stats.noise import MIN_RATIO, estimate_noise
from neep.estimators.stats.uncertainty import Interval
from neep.simulators import BeadSpring, LocalizationNoise, simulate_to_arrays

DT = 0.01


def _chain(noise: float, trajectories: int, steps: int, seed: int = 0) -> np.ndarray:
    model = BeadSpring(n=2)
    sampler = LocalizationNoise(model, noise) if noise else model
    return simulate_to_arrays(sampler, trajectories, steps, seed=seed)["states"]


@pytest.fixture(scope="module")
def clean():
    return _chain(0.0, 64, 4000, seed=1)


@pytest.fixture(scope="module")
def noisy():
    return _chain(0.05, 64, 4000, seed=2)  # 35 % of the cold bead's step, 11 % of the hot one's


def test_clean_chain_is_quiet(clean):
    found = estimate_noise(clean)
    # Noiseless: s^2 = 0 up to the dynamics' O((a dt)^3) residual (~1e-6 of the hot step variance 0.2,
    # far below one standard error here); 4 SE bounds a Gaussian error outside 6e-5 of the time.
    assert np.all(np.abs(found.variance) < 4 * found.variance_stderr)
    assert not found.significant


def test_noisy_chain_fires_and_measures_the_noise(noisy):
    found = estimate_noise(noisy)
    assert found.significant
    # s^2 = 0.0025 in both coordinates, within 4 of its standard errors.
    assert np.all(np.abs(found.variance - 0.05**2) < 4 * found.variance_stderr)
    assert found.significant_coordinates[0]
    assert found.ratio[0] > MIN_RATIO


def test_chunks_parts_and_one_trajectory_agree(noisy):
    whole = estimate_noise(noisy)
    # chunking and splitting into parts (a ragged set) change only the blocks, never the sums
    pieces = estimate_noise((noisy[:20], noisy[20:, :3001]), chunk=5000)
    longer = estimate_noise(noisy[20:], chunk=777)
    again = estimate_noise(noisy[20:])
    np.testing.assert_allclose(longer.variance, again.variance, rtol=1e-9)
    assert pieces.increments < whole.increments
    assert np.all(np.abs(pieces.variance - 0.05**2) < 4 * pieces.variance_stderr)
    one = estimate_noise(noisy[:1])  # a single trajectory: blocks in time
    assert one.blocks == 64


def test_bad_states_are_refused():
    with pytest.raises(ValueError, match="float states"):
        estimate_noise(np.zeros((2, 10), dtype=np.float32))
    with pytest.raises(ValueError, match="at least 6 states"):
        estimate_noise(np.zeros((2, 5, 1), dtype=np.float32))
    with pytest.raises(ValueError, match="noise_variance"):
        fit_robust_current(np.zeros((2, 10, 2)), [0.1])


def test_robust_current_is_unbiased_where_the_plain_one_is_not():
    # Noise 45 % of the total rms step (0.149): the plain current loses about half the rate.
    x = _chain(0.149, 48, 4000, seed=3)
    train, test = x[:24], x[24:]
    exact = BeadSpring(n=2).metadata()["ep_per_step_exact"] / DT  # the Euler chain's rate, 2.040
    variance = estimate_noise(train).variance
    robust = robust_current_baseline(train, test, variance, dt=DT)
    plain = current_baseline(train, test, dt=DT)
    # 3 standard errors (held-out bootstrap + training term) cover the exact rate 99.7 % of the time, plus the
    # triple form's own O(dt) offset: it targets the continuous rate 2.025, 0.7 % below (module doc).
    assert abs(robust.value - exact) < 3 * robust.stderr + 0.01 * exact
    assert plain.value < exact - 10 * plain.stderr  # the bias the correction removes
    uncorrected = robust_current_baseline(train, test, np.zeros(2), dt=DT)
    assert uncorrected.value < exact - 5 * uncorrected.stderr


def test_check_noise_modes(clean, noisy):
    quiet = check_noise(clean[:32], clean[32:], "auto", dt=DT)
    assert quiet.correction == "none" and quiet.robust is None and quiet.flag is None
    assert quiet.as_dict()["warning"] is False
    forced = check_noise(clean[:32], clean[32:], "robust", dt=DT)
    assert forced.robust is not None and forced.flag is None
    loud = check_noise(noisy[:32], noisy[32:], "auto", dt=DT)
    assert loud.correction == "robust" and "robust_current" in loud.flag
    off = check_noise(noisy[:32], noisy[32:], "off", dt=DT)
    assert off.robust is None and "--noise robust" in off.flag and off.as_dict()["warning"]
    # Noise biases the network low: a robust current further below it than twice its error is a basis that
    # misses the force, never offered as the number to read (the driven ring at degree 1)
    r = loud.robust
    assert "read robust_current" in loud.warning()  # the network's value unknown: name the robust one
    assert "is no higher" in loud.warning(r.value + r.stderr)  # below the network within its errors
    lower = loud.warning(r.value + 3 * r.stderr)
    assert "misses this force" in lower and "read robust_current" not in lower and "degree 1" in lower
    _, flags = loud.extend({}, [], r.value + 3 * r.stderr)
    assert flags == [lower]
    # the larger of the two is reported: the robust current above the network, else the network
    net = lambda value: Interval(value, 0.01, 0.01, None)  # noqa: E731
    assert loud.reported(net(r.value - 0.1)) is r.interval and "rate reported is" in loud.warning(r.value - 0.1)
    assert loud.reported(net(r.value + 0.1)).value == r.value + 0.1
    assert quiet.reported(net(1.0)).value == 1.0  # no noise: the network, always
    # odd columns: the robust current (a force of even variables) is never fitted nor reported
    odd = check_noise(noisy[:32], noisy[32:], "auto", dt=DT, odd=True)
    assert odd.robust is None and odd.reported(net(0.5)).value == 0.5 and "assumes even variables" in odd.warning(0.5)
    with pytest.raises(ValueError, match="noise must be one of"):
        check_noise(clean, clean, "maybe")


def test_robust_polynomial_current_holds_the_linear_one():
    # The chain's forces are linear: a degree-2 force adds only terms that are 0 in truth, so its
    # corrected fit lands on the same rate, within 3 of its standard errors (+ the 1 % offset above).
    x = _chain(0.05, 32, 3000, seed=4)
    exact = BeadSpring(n=2).metadata()["ep_per_step_exact"] / DT
    robust = robust_current_baseline(x[:16], x[16:], estimate_noise(x[:16]).variance, dt=DT, degree=2)
    assert robust.name == "robust_current_degree_2"
    assert abs(robust.value - exact) < 3 * robust.stderr + 0.01 * exact
    with pytest.raises(ValueError, match="degree"):
        fit_robust_current(x, np.zeros(2), degree=5)


def test_neep_fit_reports_the_noise_and_warns(tmp_path, noisy):
    from neep.estimators import NEEP, fit_to_folder
    from neep.estimators.training.config import FitConfig

    with pytest.raises(ValueError, match="noise must be 'auto', 'robust' or 'off'"):
        FitConfig(noise="maybe")
    # the mlp: a network not trained against the noise (the current model is: test_noise_network)
    tiny = dict(model="mlp", hidden_units=4, iterations=4, eval_every=2, batch_size=32, verbose=0,
                data_check=False)
    np.save(tmp_path / "noisy.npy", noisy[:32])  # training half: 16 x 4000, z of s^2 ~ 9
    est, summary = fit_to_folder(tmp_path / "noisy.npy", tmp_path / "run", plots=False, dt=DT, **tiny)
    assert not summary["noise"]["network_corrected"]
    assert isinstance(est, NEEP) and summary["noise"]["significant"] and summary["noise"]["correction"] == "robust"
    assert summary["noise"]["warning"] and any("localization noise" in f for f in summary["flags"])
    assert "robust_current" in summary["baselines"] and len(summary["noise"]["std"]) == 2
    # the noise biases the network low: the robust current is reported when it is higher (here 4 iterations
    # of an mlp: it has learned little)
    robust, network = summary["baselines"]["robust_current"]["value"], float(np.mean(est.ep_rate_per_seed_))
    assert robust > network and summary["ep_rate"] == pytest.approx(robust)
    assert any("the rate reported is the noise-robust current's" in f for f in summary["flags"])
    off = NEEP(noise="off", **tiny).fit(noisy[:32])
    assert off.noise_.correction == "none" and "robust_current" not in off.baselines_


def test_detection_threshold_keeps_the_false_alarm_chance_in_high_dimension():
    from statistics import NormalDist

    from neep.estimators.stats.noise import Z_DETECT, detection_threshold

    tail = NormalDist().cdf(-Z_DETECT)
    assert detection_threshold(1) == pytest.approx(Z_DETECT)
    for d in (2, 20, 100):  # d coordinates at the threshold share one coordinate's tail (Bonferroni)
        assert d * NormalDist().cdf(-detection_threshold(d)) == pytest.approx(tail, rel=1e-6)
        assert detection_threshold(d) > detection_threshold(d // 2 or 1)
