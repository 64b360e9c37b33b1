"""The swirl: exact EP by quadrature against independent 1-D integrals, and the sampler against it.

Statistical tests compare with an exact value at a tolerance of a few standard
errors (plus, for the Euler-Maruyama chain, a measured O(dt) allowance), the
standard error estimated from independent samples or trajectories.
"""

import json
import math

import numpy as np
import pytest
import scipy.integrate
from click.testing import CliRunner

from neep.cli.main import cli
from neep.simulators import Swirl

# Gaussian tail: |z| > 4 has probability 6e-5; with fixed seeds every run is identical.
Z = 4.0


@pytest.fixture(scope="module")
def model():
    return Swirl()


def test_ep_rate_matches_one_dimensional_integrals(model):
    # The Boltzmann density is a product of two 1-D densities p1(x) ~ exp(-(k x^2/2 + a cos q x)/T), so
    # <|f|^2> = 2 w^2 <(k x - a q sin q x)^2>_1 and, by parts, also = 2 w^2 T <k - a q^2 cos q x>_1.
    k, a, q, w, t = model.k, model.a, model.q, model.w, model.temperature

    def mean(h):
        weight = lambda x: h(x) * math.exp(-(0.5 * k * x * x + a * math.cos(q * x)) / t)  # noqa: E731
        return scipy.integrate.quad(weight, -15, 15, epsabs=0, epsrel=1e-13, limit=400)[0]

    z = mean(lambda x: 1.0)
    force2 = mean(lambda x: (k * x - a * q * math.sin(q * x)) ** 2) / z
    laplacian = mean(lambda x: k - a * q * q * math.cos(q * x)) / z
    assert model.ep_rate == pytest.approx(2 * w * w * force2 / (model.gamma * t), rel=1e-10)
    assert force2 == pytest.approx(t * laplacian, rel=1e-10)
    assert model.log_normalization == pytest.approx(2 * math.log(z), abs=1e-11)


def test_polynomial_models_miss_most_of_the_ep(model):
    # The pinned defaults; a cubic weight reveals about a third (nested spaces: monotone in the degree).
    assert model.ep_rate == pytest.approx(1.793694961147, rel=1e-9)
    linear, cubic = model.linear_ep_rate, model.cubic_ep_rate
    assert linear / model.ep_rate == pytest.approx(0.22209, abs=1e-5)
    assert cubic / model.ep_rate == pytest.approx(0.32236, abs=1e-5)
    assert linear <= model.polynomial_ep_rate(2) <= cubic <= model.ep_rate
    # a = 0: the force is linear, the affine weight reveals everything
    plain = Swirl(a=0.0)
    assert plain.linear_ep_rate == pytest.approx(plain.ep_rate, rel=1e-9)


def test_drive_keeps_boltzmann_stationary_and_jacobian(model):
    # div(f e^{-U/T}) = 0 by central differences (h = 1e-4: truncation ~1e-8 of the terms).
    h, points = 1e-4, np.array([[0.3, -0.7], [1.1, 0.4], [-0.9, -1.6]])

    def flux(x):
        return model.drive(x) * np.exp(-model.potential(x) / model.temperature)[..., None]

    d0 = (flux(points + [h, 0])[:, 0] - flux(points - [h, 0])[:, 0]) / (2 * h)
    d1 = (flux(points + [0, h])[:, 1] - flux(points - [0, h])[:, 1]) / (2 * h)
    assert (np.abs(d0 + d1) < 1e-6 * np.maximum(np.abs(d0), np.abs(d1))).all()
    numeric = np.stack([(model.force(points + h * e) - model.force(points - h * e)) / (2 * h) for e in np.eye(2)], -1)
    np.testing.assert_allclose(model.jacobian(points), numeric / model.gamma, atol=1e-6)


def _moments(x):
    return np.stack([x[:, 0] ** 2, x[:, 1] ** 2, np.cos(2.5 * x[:, 0]), np.cos(2.5 * x[:, 1])], axis=1)


def test_initial_states_are_boltzmann(model):
    x = model.sample_stationary(100_000, np.random.default_rng(5))
    values, exact = _moments(x), model.stationary_mean(_moments)
    se = values.std(axis=0, ddof=1) / math.sqrt(len(x))
    assert (np.abs(values.mean(axis=0) - exact) < Z * se).all(), (values.mean(0), exact, se)


def test_chain_keeps_the_stationary_moments(model):
    # 1000 trajectories x 2000 steps from the exact density; per-trajectory time averages
    # (every 20th state) are independent. Allowance: the Euler-Maruyama chain's own
    # stationary law, measured 1.5 % off in <cos q x> at dt = 0.005 (1000 x 4000 steps),
    # O(dt): 4 % of each moment's scale here at dt = 0.01.
    x = model.simulate(trajectories=1000, steps=2000, seed=7).astype(np.float64)
    values = np.stack([_moments(x[i, ::20]).mean(axis=0) for i in range(len(x))])
    exact = model.stationary_mean(_moments)
    se = values.std(axis=0, ddof=1) / math.sqrt(len(values))
    assert (np.abs(values.mean(axis=0) - exact) < Z * se + 0.04 * np.abs(exact)).all(), (values.mean(0), exact, se)


def test_mean_stochastic_ep_matches_ep_rate(model):
    # SE from 2000 independent trajectory means. The chain's mean EP per step was measured
    # at sigma dt (1 + 0.64 % +- 0.37 %) at dt = 0.01 (2000 x 5000 steps); allowance 2 %.
    x, ep = model.simulate(trajectories=2000, steps=1000, seed=11, exact_ep=True)
    per_trajectory = ep.astype(np.float64).mean(axis=1)
    mean, se = per_trajectory.mean(), per_trajectory.std(ddof=1) / math.sqrt(len(per_trajectory))
    assert abs(mean - model.ep_per_step) < Z * se + 0.02 * model.ep_per_step
    np.testing.assert_allclose(model.stochastic_ep(x[:5]), ep[:5], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"k": 0}, "k must be > 0, got 0"),
        ({"q": -1}, "q must be > 0"),
        ({"a": float("nan")}, "a must be finite"),
        ({"w": "1"}, "w must be a real number"),
        ({"dt": 0.3}, "dt must be < 0.220722"),
    ],
)
def test_invalid_parameters_are_named(kwargs, words):
    with pytest.raises(ValueError, match=words):
        Swirl(**kwargs)


def test_cli_writes_file_and_sidecar(tmp_path, model):
    out = tmp_path / "s.npy"
    args = ["simulate", "swirl", "--trajectories", "3", "--steps", "40", "--exact-ep", "--seed", "2", "-o", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.load(out), model.simulate(3, 40, seed=2))
    assert np.load(tmp_path / "s.ep.npy").shape == (3, 39)
    meta = json.loads((tmp_path / "s.json").read_text())
    assert meta["model"] == "swirl" and meta["ep_rate_exact"] == model.ep_rate
    assert meta["ep_rate_linear"] == model.linear_ep_rate and meta["ep_rate_cubic"] == model.cubic_ep_rate
    assert meta["parameters"] == {"k": 1.0, "a": 1.0, "q": 2.5, "w": 0.5, "temperature": 1.0, "gamma": 1.0, "dt": 0.01}
    assert f"{model.ep_rate:.6g}" in result.output
    bad = CliRunner().invoke(cli, ["simulate", "swirl", "--q", "0", "-o", str(tmp_path / "x.npy")])
    assert bad.exit_code != 0 and "--q must be > 0" in bad.output and "Traceback" not in bad.output
    assert not (tmp_path / "x.npy").exists()
