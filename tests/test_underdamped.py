"""Underdamped linear systems: exact EP with odd variables, the pair/parity identity, exact sampling.

Statistical tests compare with exact values at Z standard errors, the error
estimated from independent trajectories (steps within one are correlated),
or from Isserlis' theorem for Gaussian second moments.
"""

import json
import math

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from neep.simulators import CoupledOscillators, RotatingTrap, simulate_to_file

# |z| > 5 has probability 6e-7: a correct sampler essentially never fails; fixed seeds.
Z = 5.0


# ----------------------------------------------------------------- exact values
@pytest.mark.parametrize("k, torque, mass, gamma, temperature", [(1, 0.5, 1, 1, 1), (2, -0.7, 0.5, 1.3, 4), (0.4, 0.2, 2, 0.8, 0.3)])
def test_trap_ep_rate_closed_form_and_heat(k, torque, mass, gamma, temperature):
    # Closed form (derived from the Lyapunov covariance by hand; T drops out) and the heat
    # released into the bath over T: three independent routes, agreement to rounding.
    trap = RotatingTrap(k=k, torque=torque, mass=mass, gamma=gamma, temperature=temperature)
    closed = 2 * torque**2 * gamma / (gamma**2 * k - mass * torque**2)
    assert trap.ep_rate == pytest.approx(closed, rel=1e-9)
    assert trap.ep_rate_heat == pytest.approx(closed, rel=1e-9)
    # the work of the rotational force, torque <(R x) . v> / T, is the same heat
    c, n = trap.covariance, 2
    work = torque * (-c[1, n] + c[0, n + 1]) / temperature  # R x = (-x2, x1)
    assert work == pytest.approx(closed, rel=1e-9)


@pytest.mark.parametrize("k, coupling, mass, gamma, t1, t2", [(1, 1, 1, 1, 1, 10), (0.5, 2, 1.5, 0.7, 3, 1), (2, 0.3, 1, 2, 1, 1.2)])
def test_oscillators_ep_rate_closed_form_and_heat(k, coupling, mass, gamma, t1, t2):
    model = CoupledOscillators(k=k, coupling=coupling, mass=mass, gamma=gamma, t1=t1, t2=t2)
    current = coupling**2 * gamma * (t2 - t1) / (2 * (mass * coupling**2 + gamma**2 * (k + coupling)))
    assert model.ep_rate == pytest.approx(current * (1 / t1 - 1 / t2), rel=1e-9)
    assert model.ep_rate_heat == pytest.approx(model.ep_rate, rel=1e-9)
    # heat flows from the hot bath to the cold one, and the two heats cancel (no work)
    assert model.heat_rates[0] == pytest.approx(-model.heat_rates[1], rel=1e-9)
    assert np.sign(model.heat_rates[0]) == np.sign(t2 - t1)


@pytest.mark.parametrize("model", [RotatingTrap(torque=0.0, temperature=2.0), CoupledOscillators(t1=3.0, t2=3.0)])
def test_equilibrium_has_no_ep_and_boltzmann_covariance(model):
    for value in (model.ep_rate, model.ep_rate_heat, model.parity_kl, model.pair_kl, model.ep_per_step):
        assert abs(value) < 1e-12
    t = model.temperatures[0]
    expected = np.block([[t * np.linalg.inv(model.stiffness), np.zeros((2, 2))], [np.zeros((2, 2)), t / model.masses[0] * np.eye(2)]])
    np.testing.assert_allclose(model.covariance, expected, atol=1e-12)


@pytest.mark.parametrize("cls", [RotatingTrap, CoupledOscillators])
def test_pair_minus_parity_kl_is_sigma_dt(cls):
    # Pair KL - parity KL = the recorded chain's EP per step. It equals sigma dt to rounding
    # for dt <= 0.01 and sits below it by a relative deficit that scales as dt^4 (0.1 -> 0.2: 16x).
    deficits = {}
    for dt in (0.001, 0.01, 0.1, 0.2):
        model = cls(dt=dt)
        deficits[dt] = 1 - (model.pair_kl - model.parity_kl) / (model.ep_rate * dt)
        assert model.ep_per_step == pytest.approx(model.pair_kl - model.parity_kl, rel=1e-12)
        assert model.parity_kl > 0.1  # finite as dt -> 0
    assert abs(deficits[0.001]) < 1e-9 and abs(deficits[0.01]) < 1e-9
    assert 0 < deficits[0.1] < deficits[0.2] < 1e-4
    assert 14 < deficits[0.2] / deficits[0.1] < 18


def _gaussian_kl(cov_p, cov_q):
    k = cov_p.shape[0]
    _, logdet_p = np.linalg.slogdet(cov_p)
    _, logdet_q = np.linalg.slogdet(cov_q)
    return 0.5 * (np.trace(np.linalg.solve(cov_q, cov_p)) - k + logdet_q - logdet_p)


@pytest.mark.parametrize("model", [RotatingTrap(dt=0.3), CoupledOscillators(dt=0.5, t1=2.0, t2=0.5)])
def test_kls_against_the_textbook_gaussian_formula(model):
    # At coarse dt the block covariances are well conditioned: the plain formula with
    # log-determinants agrees with the cancellation-free one to ~1e-10.
    c, e, eps = model.covariance, model.chain.transition, np.diag(model.parity)
    forward = np.block([[c, c @ e.T], [e @ c, c]])
    swap = np.block([[np.zeros((4, 4)), eps], [eps, np.zeros((4, 4))]])  # (z, z') -> (eps z', eps z)
    assert model.pair_kl == pytest.approx(_gaussian_kl(forward, swap @ forward @ swap.T), rel=1e-9)
    assert model.parity_kl == pytest.approx(_gaussian_kl(c, eps @ c @ eps), rel=1e-9)


def test_step_ep_against_log_densities(rng):
    # r - (q + q') / 2 from scipy's Gaussian log densities, independently of the residual form.
    model = RotatingTrap(dt=0.1, torque=0.6, mass=0.8)
    c, e, eps = model.covariance, model.chain.transition, model.parity
    pair = multivariate_normal(np.zeros(8), np.block([[c, c @ e.T], [e @ c, c]]))
    single = multivariate_normal(np.zeros(4), c)
    z = model.chain.sample_stationary(6, rng)
    z_next = z @ e.T + rng.standard_normal((6, 4)) @ model.chain.noise_factor.T
    r = pair.logpdf(np.hstack([z, z_next])) - pair.logpdf(np.hstack([eps * z_next, eps * z]))

    def q(x):
        return single.logpdf(x) - single.logpdf(eps * x)

    expected = r - 0.5 * (q(z) + q(z_next))
    got = model.step_ep(np.stack([z, z_next], axis=1))[:, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-10)
    # antisymmetric under (z, z') -> (eps z', eps z)
    reversed_ = model.step_ep(np.stack([eps * z_next, eps * z], axis=1))[:, 0]
    np.testing.assert_allclose(reversed_, -got, rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------------- sampler
def test_kernel_matches_numpy_reference():
    model = CoupledOscillators(dt=0.05)
    chain = model.chain
    z0 = np.array([[0.5, -1.0, 2.0, 0.1], [0.1, 0.2, -0.3, 1.5]])
    out = {"states": np.empty((2, 40, 4), np.float32), "ep": np.empty((2, 40), np.float32)}
    carry = model.fill(np.random.default_rng(7), out, initial={"states": z0})
    rng = np.random.default_rng(7)
    ref = np.empty((2, 41, 4))
    for i in range(2):
        ref[i, 0] = z0[i]
        for t in range(40):
            ref[i, t + 1] = chain.transition @ ref[i, t] + chain.noise_factor @ rng.standard_normal(4)
    # float64 states agree to rounding, so float32 outputs agree to about one float32 ulp
    np.testing.assert_allclose(out["states"], ref[:, 1:], rtol=2**-22, atol=1e-12)
    np.testing.assert_allclose(out["ep"], model.step_ep(ref), rtol=2**-20, atol=1e-8)
    np.testing.assert_allclose(carry["states"], ref[:, -1], rtol=1e-12)


@pytest.mark.parametrize("model", [RotatingTrap(dt=0.5), CoupledOscillators(dt=0.5)])
def test_exact_samples_at_coarse_dt(model):
    # 4000 independent trajectories, 30 steps of dt = 0.5: the last state is N(0, C) and the
    # last pair has cross-covariance E C if the chain is exact. By Isserlis, the sample mean of
    # a_i b_j (zero means) has variance (Var a_i Var b_j + Cov(a_i, b_j)^2) / m.
    m = 4000
    x = model.simulate(trajectories=m, steps=30, seed=3).astype(np.float64)
    c, e = model.covariance, model.chain.transition
    last, before = x[:, -1], x[:, -2]
    var = np.diag(c)
    se = np.sqrt((np.outer(var, var) + c**2) / m)
    assert (np.abs(last.T @ last / m - c) < Z * se).all()
    lagged = e @ c  # E[z' z^T]
    se_lag = np.sqrt((np.outer(var, var) + lagged**2) / m)
    assert (np.abs(last.T @ before / m - lagged) < Z * se_lag).all()


def test_parity_kl_is_the_mean_of_q(rng):
    # q(z) = ln p(z) / p(eps z) over 20000 stationary draws (independent): mean vs parity_kl.
    model = RotatingTrap()
    z = model.chain.sample_stationary(20000, rng)
    c_inv = np.linalg.inv(model.covariance)
    eps = model.parity
    q = -0.5 * np.einsum("mi,ij,mj->m", z, c_inv - eps[:, None] * c_inv * eps[None, :], z)
    assert abs(q.mean() - model.parity_kl) < Z * q.std(ddof=1) / math.sqrt(len(q))


@pytest.mark.parametrize("model", [RotatingTrap(), CoupledOscillators()])
def test_mean_step_ep_is_sigma_dt(model):
    # dt = 0.01: the chain's EP per step is sigma dt to 1e-10. Standard error from 300
    # independent trajectory means (steps within a trajectory are correlated).
    _, ep = model.simulate(trajectories=300, steps=1000, seed=5, exact_ep=True)
    per_trajectory = ep.astype(np.float64).mean(axis=1)
    se = per_trajectory.std(ddof=1) / math.sqrt(len(per_trajectory))
    assert abs(per_trajectory.mean() - model.ep_rate * model.dt) < Z * se
    assert se < 0.2 * model.ep_rate * model.dt  # the test resolves the value


def test_sidecar_names_columns_and_exact_values(tmp_path):
    model = RotatingTrap(dt=0.02)
    result = simulate_to_file(model, tmp_path / "u.npy", 3, 10, seed=1, exact_ep=True)
    meta = json.loads((tmp_path / "u.json").read_text())
    assert meta["columns"] == ["x1", "x2", "v1", "v2"] and meta["odd_columns"] == [2, 3]
    assert meta["model"] == "rotating-trap" and meta["parameters"]["torque"] == 0.5 and meta["dt"] == 0.02
    assert meta["ep_rate_exact"] == model.ep_rate and meta["ep_per_step_exact"] == model.ep_per_step
    assert meta["pair_kl_per_step"] == model.pair_kl and meta["parity_kl"] == model.parity_kl
    assert meta["ep_per_step_continuous"] == model.ep_rate * 0.02
    assert result.shape == (3, 10, 4) and np.load(tmp_path / "u.ep.npy").shape == (3, 9)
    assert json.loads((tmp_path / "u.json").read_text()) == result.metadata


# -------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "cls, kwargs, words",
    [
        (RotatingTrap, {"k": 0}, "k must be > 0, got 0"),
        (RotatingTrap, {"mass": -1}, "mass must be > 0"),
        (RotatingTrap, {"torque": float("nan")}, "torque must be finite"),
        (RotatingTrap, {"torque": 1.0}, "torque must satisfy mass * torque^2 < gamma^2 * k"),
        (RotatingTrap, {"dt": 0}, "dt must be > 0"),
        (CoupledOscillators, {"coupling": 0}, "coupling must be > 0"),
        (CoupledOscillators, {"t1": -1}, "t1 must be > 0"),
        (CoupledOscillators, {"gamma": "1"}, "gamma must be a positive number"),
    ],
)
def test_invalid_parameters_are_named(cls, kwargs, words):
    with pytest.raises(ValueError, match=words.replace("^", r"\^").replace("*", r"\*")):
        cls(**kwargs)
