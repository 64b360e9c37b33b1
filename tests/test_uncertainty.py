"""Intervals of the EP rate and the bounds: block bootstrap against known sampling distributions."""

import numpy as np
import pytest

from neep.estimators import block_statistics, bootstrap_replicates, interval, lower_bound_dv, lower_bound_j
from neep.estimators.stats.rates import ep_rate_from_cumulative
from neep.estimators.stats.uncertainty import slope_weights


def _slope_stderr(sd: float, m_count: int, k_total: int) -> float:
    """Exact standard error of the slope estimator for iid entries of sd ``sd``."""
    return sd * np.sqrt(np.sum(slope_weights(k_total) ** 2) / m_count)


def test_statistics_reproduce_the_point_estimates(rng):
    d = rng.normal(0.3, 1.0, size=(40, 25))
    stats = block_statistics(d)
    values = stats.statistics()
    assert values["rate"][0] == pytest.approx(ep_rate_from_cumulative(d), rel=1e-12)
    assert values["lower_bound_j"][0] == pytest.approx(lower_bound_j(d), rel=1e-12)
    assert values["lower_bound_dv"][0] == pytest.approx(lower_bound_dv(d), rel=1e-12)
    assert stats.by_trajectory and stats.n_blocks == 40
    one = block_statistics(d[:1])  # one trajectory: time blocks, same point estimates
    assert not one.by_trajectory and one.n_blocks == 25  # min(K, 64) blocks
    assert one.statistics()["rate"][0] == pytest.approx(ep_rate_from_cumulative(d[:1]), rel=1e-12)


@pytest.mark.parametrize("shape", [(800, 30), (1, 20_000)])
def test_bootstrap_stderr_matches_the_exact_sampling_error(rng, shape):
    m_count, k_total = shape
    d = rng.normal(0.2, 1.5, size=shape)
    reps = bootstrap_replicates(block_statistics(d), replicates=2000, seed=1)["rate"]
    exact = _slope_stderr(1.5, m_count, k_total)
    # The bootstrap SE is a sample std over B blocks (relative error ~ 1/sqrt(2B)) computed
    # from R = 2000 replicates (~ 1/sqrt(2R)); 4 of those combined is the tolerance.
    blocks = block_statistics(d).n_blocks
    tolerance = 4 * np.hypot(1 / np.sqrt(2 * blocks), 1 / np.sqrt(2 * 2000))
    assert np.std(reps, ddof=1) == pytest.approx(exact, rel=tolerance)


@pytest.mark.parametrize("shape", [(40, 20), (1, 2000)])
def test_interval_covers_the_truth_95_percent_of_the_time(shape):
    rng = np.random.default_rng(2024)
    trials, mean = 300, 0.5
    covered = 0
    for trial in range(trials):
        d = rng.normal(mean, 1.0, size=shape)
        stats = block_statistics(d)
        reps = bootstrap_replicates(stats, replicates=300, seed=trial)["rate"]
        covered += interval(stats.statistics()["rate"][0], reps).covers(mean)
    # Binomial sd of the coverage over 300 trials is 1.26 %; 4 of them, plus 2 % for the
    # normal interval with only 40 / 64 blocks (a t quantile would be ~2 % wider).
    assert abs(covered / trials - 0.95) < 4 * np.sqrt(0.95 * 0.05 / trials) + 0.02


def test_time_blocks_handle_telescoping_terms_conservatively():
    # dS_t = mu + (y_{t+1} - y_t) + noise, the shape of per-step EP (its system-entropy part
    # telescopes): neighbouring steps are anti-correlated. Time blocks sum the pairs away
    # inside a block; each block keeps its own boundary terms, which in truth cancel between
    # adjacent blocks, so the bootstrap may overstate the error by at most those terms
    # (conservative) and must never understate it.
    rng = np.random.default_rng(5)
    k_total, trials, sd_y = 4000, 200, 3.0
    y = rng.normal(0, sd_y, size=(trials, k_total + 1))
    d = 0.1 + np.diff(y, axis=1) + rng.normal(0, 0.5, size=(trials, k_total))
    observed = np.std([ep_rate_from_cumulative(row) for row in d], ddof=1)  # the true sampling error
    boot = np.mean([np.std(bootstrap_replicates(block_statistics(row), 500, seed=i)["rate"], ddof=1)
                    for i, row in enumerate(d[:20])])
    w = slope_weights(k_total)
    edges = np.linspace(0, k_total, 65).round().astype(int)
    boundary = np.sqrt(sum(2 * sd_y**2 * w[a:b].mean() ** 2 for a, b in zip(edges[:-1], edges[1:])))
    # Relative errors: observed over 200 sets 1/sqrt(398) = 5 %, boot over 20 sets of 64 blocks 2 %.
    tol = 4 * np.hypot(0.05, 0.02)
    assert boot > observed * (1 - tol)
    assert boot < np.hypot(observed, boundary) * (1 + tol)
    naive = np.std(d[0], ddof=1) * np.sqrt(np.sum(w**2))
    assert naive > 5 * boot  # what ignoring the correlation would claim


def test_paired_replicates_share_the_sampling_noise(rng):
    d = rng.normal(0.3, 1.0, size=(50, 40))
    a = bootstrap_replicates(block_statistics(d), 500, seed=3)["rate"]
    b = bootstrap_replicates(block_statistics(d + 0.25), 500, seed=3)["rate"]
    np.testing.assert_allclose(b - a, 0.25, atol=1e-12)


def test_interval_adds_the_seed_spread():
    reps = np.random.default_rng(0).normal(1.0, 0.03, size=4000)
    iv = interval(1.0, reps, seed_values=[0.9, 1.0, 1.1])
    assert iv.seed_std == pytest.approx(0.1)
    assert iv.stderr == pytest.approx(np.hypot(iv.sampling_stderr, 0.1))
    assert iv.low == pytest.approx(1.0 - 1.959964 * iv.stderr) and iv.covers(1.2) and not iv.covers(1.3)
    assert interval(1.0, reps).seed_std is None
    # equal training and held-out data: the fitted function's error equals the sampling error
    both = interval(1.0, reps, train_share=1.0)
    assert both.training_stderr == pytest.approx(both.sampling_stderr)
    assert both.stderr == pytest.approx(np.sqrt(2) * both.sampling_stderr)
    scaled = iv.scaled(100.0)
    assert scaled.value == 100.0 and scaled.stderr == pytest.approx(100 * iv.stderr)


@pytest.mark.parametrize("bad", [np.zeros((0, 3)), np.array([[1.0, np.nan]]), np.zeros((2, 2, 2))])
def test_bad_arrays_are_refused(bad):
    with pytest.raises(ValueError):
        block_statistics(bad)
