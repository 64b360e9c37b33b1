"""The closed-form linear current against the exact EP of the bead chain (linear forces)."""

import numpy as np
import pytest

from neep.estimators import block_statistics, bootstrap_replicates, fit_linear_current
from neep.estimators.stats.rates import ep_rate_from_cumulative, r_squared
from neep.estimators.baselines.estimates import current_basis, iter_pairs


@pytest.fixture(scope="module")
def chain():
    from neep.simulators import BeadSpring

    beads = BeadSpring(n=2)
    x = beads.simulate(200, 2000, seed=11)
    return beads, x


@pytest.mark.parametrize("method", ["j", "tur"])
def test_linear_current_recovers_the_exact_ep_of_linear_forces(chain, method):
    beads, x = chain
    train, test = x[:100], x[100:]
    flat = train.reshape(-1, 2)
    lc = fit_linear_current(train, mean=flat.mean(0), std=flat.std(0), method=method)
    estimate = lc.delta_s(test)
    assert estimate.shape == (100, 1999)
    # The estimate's error has two parts of the same size: the held-out sampling error
    # (bootstrap SE over trajectories) and the fitted coefficients' error from an equally
    # large training set; 4 x sqrt(2) x the first bounds both. TUR is exact only as dt -> 0:
    # at dt = 0.01 its O(dt) shift (measured ~1.8 % at Tc = 1) is allowed for it alone.
    se = np.std(bootstrap_replicates(block_statistics(estimate), 1000, seed=0)["rate"], ddof=1)
    shift = 0.02 * beads.ep_per_step if method == "tur" else 0.0
    assert abs(ep_rate_from_cumulative(estimate) - beads.ep_per_step) < 4 * np.sqrt(2) * se + shift
    # The exact per-step EP of the chain lies in the span: R^2 is limited by coefficient noise only.
    assert r_squared(estimate, beads.stochastic_ep(test)) > 0.999


def test_newton_improves_the_objective_over_tur(chain):
    _, x = chain
    j = fit_linear_current(x[:100], method="j")
    tur = fit_linear_current(x[:100], method="tur")
    assert j.objective >= tur.objective - 1e-12 and j.pairs == tur.pairs == 100 * 1999


def test_pairs_come_in_order_whatever_the_chunk(rng):
    x = rng.normal(size=(3, 50, 2))
    mean, std = np.array([0.5, -1.0]), np.array([2.0, 0.5])
    whole = np.concatenate([np.concatenate(p, axis=1) for p in iter_pairs(x, mean, std, chunk=10**6)])
    pieces = list(iter_pairs(x, mean, std, chunk=7))
    assert len(pieces) > 3
    z = (x - mean) / std
    direct = np.concatenate([z[:, :-1].reshape(-1, 2), z[:, 1:].reshape(-1, 2)], axis=1)
    np.testing.assert_allclose(whole, direct)
    # small chunks cut along time: same pairs, trajectory by trajectory
    assert sum(p[0].shape[0] for p in pieces) == 3 * 49
    assert current_basis(direct[:, :2], direct[:, 2:]).shape == (147, 6)


@pytest.mark.parametrize("bad", [np.zeros((3, 5), np.int64), np.zeros((2, 1, 2)), np.zeros(4)])
def test_bad_states_are_refused(bad):
    with pytest.raises(ValueError, match="float states"):
        fit_linear_current(bad)
    with pytest.raises(ValueError, match="method"):
        fit_linear_current(np.zeros((2, 5, 1)), method="ols")


def test_the_cheap_paths_reach_the_same_optimum(monkeypatch):
    # Quasi-Newton with the TUR pass's second moments, a Hessian from a subset of the chunks, and a
    # warm start all steer the steps only: the gradient is exact, so each lands on the optimum of J
    # found by exact Newton, to the stopping tolerance (gain < 1e-13: coefficients agree to ~1e-6
    # of their size, J to ~1e-12). A 9-bead chain (p = 90 basis currents) in small chunks.
    import neep.estimators.baselines.currents as currents
    from neep.simulators import BeadSpring

    x = BeadSpring(n=9).simulate(40, 2000, seed=3)
    mean, std = x.reshape(-1, 9).mean(0), x.reshape(-1, 9).std(0)
    exact_newton = currents.maximize_newton
    monkeypatch.setattr(currents, "maximize_newton",
                        lambda objective, w, n, gradient=None, hessian=None: exact_newton(objective, w, n))
    reference = fit_linear_current(x, mean=mean, std=std)
    reference_part = fit_linear_current(x[:30], mean=mean, std=std)
    monkeypatch.undo()
    monkeypatch.setattr(currents, "_PAIRS_PER_CHUNK", 8192)
    monkeypatch.setattr(currents, "HESSIAN_PAIRS", 16384)
    monkeypatch.setattr(currents, "WIDE_BASIS", 64)
    assert currents._stride(x, currents.basis_size(9), sampled=True) > 1  # the subset path is taken
    for fitted, target in ((fit_linear_current(x, mean=mean, std=std), reference),
                           (fit_linear_current(x[:30], mean=mean, std=std, start=reference), reference_part)):
        scale = np.max(np.abs(target.coefficients))
        assert np.max(np.abs(fitted.coefficients - target.coefficients)) < 1e-5 * scale
        assert fitted.objective == pytest.approx(target.objective, abs=1e-11)


def test_drift_current_recovers_the_exact_ep_of_the_linear_chain(chain):
    # Force inference (drift regressed on cubic features, constant diffusion): on the linear chain the
    # regression holds the true drift, so the held-out medium-entropy rate is the EP rate. Its error is
    # the held-out sampling error (bootstrap over trajectories) plus an equal training term from the
    # fitted drift: 4 sqrt(2) SE bounds both (as for the linear current above).
    from neep.estimators.baselines.drift import fit_drift_current

    beads, x = chain
    train, test = x[:100], x[100:]
    flat = train.reshape(-1, 2)
    estimate = fit_drift_current(train, mean=flat.mean(0), std=flat.std(0)).delta_s(test)
    se = np.std(bootstrap_replicates(block_statistics(estimate), 1000, seed=0)["rate"], ddof=1)
    assert abs(ep_rate_from_cumulative(estimate) - beads.ep_per_step) < 4 * np.sqrt(2) * se


def test_the_nonlinear_yardstick_is_a_cubic_current_in_low_and_a_drift_current_in_high_dimension():
    from neep.estimators.baselines.drift import drift_features, feature_count
    from neep.estimators.baselines.estimates import evaluate_baselines
    from neep.simulators import BeadSpring

    for d, name in ((2, "current_degree_3"), (6, "drift_current")):
        x = BeadSpring(n=d).simulate(8, 400, seed=5)
        found = evaluate_baselines(x[:4], x[4:], dt=0.01, nonlinear=True, replicates=50)
        assert name in found and found[name].kind == "estimate"
        assert drift_features(x[0]).shape == (400, feature_count(d))


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_structured_passes_equal_the_explicit_basis(degree, rng):
    # The passes never build the basis; they must give its products exactly.
    import itertools

    import neep.estimators.baselines.currents as currents

    p = currents.basis_size(4, degree)
    w, weights = rng.normal(size=p), rng.uniform(size=300)
    z0, z1 = rng.normal(size=(300, 4)), rng.normal(size=(300, 4))
    phi = current_basis(z0, z1, degree)
    assert phi.shape == (300, p)
    # The documented column order, written out: zbar_i dz_j (i-major), dz_j, then monomial x dz_j.
    mid, dz = 0.5 * (z0 + z1), z1 - z0
    columns = [mid[:, i] * dz[:, j] for i in range(4) for j in range(4)] + [dz[:, j] for j in range(4)]
    for g in range(2, degree + 1):
        columns += [np.prod(mid[:, list(c)], axis=1) * dz[:, j]
                    for c in itertools.combinations_with_replacement(range(4), g) for j in range(4)]
    np.testing.assert_allclose(phi, np.stack(columns, axis=1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(currents._currents(z0, z1, w, degree), phi @ w, rtol=1e-12, atol=1e-12)
    features, dz = currents._pieces(z0, z1, degree)
    np.testing.assert_allclose(currents._outer_sum(features, dz, weights), phi.T @ weights, rtol=1e-12, atol=1e-12)


def test_tur_baseline_reuses_the_fit_s_tur_solution(chain):
    # The TUR current that started the J fit is the TUR baseline's current (same moments, every pair
    # here): reusing it must give the fresh TUR fit's value to rounding.
    from neep.estimators.baselines.estimates import tur_baseline

    _, x = chain
    flat = x[:100].reshape(-1, 2)
    mean, std = flat.mean(0), flat.std(0)
    fitted = fit_linear_current(x[:100], mean=mean, std=std)
    reused = tur_baseline(x[:100], x[100:], mean=mean, std=std, fitted=fitted, replicates=50)
    fresh = tur_baseline(x[:100], x[100:], mean=mean, std=std, replicates=50)
    assert reused.value == pytest.approx(fresh.value, rel=1e-9)
