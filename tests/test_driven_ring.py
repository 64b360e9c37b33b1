"""The driven ring: exact EP by quadrature against independent computations, the sampler against it.

Statistical tests compare with an exact value at a tolerance of a few standard
errors (plus, for the Euler-Maruyama chain, a measured O(dt) allowance), the
standard error estimated from independent samples or independent trajectories.
"""

import json
import math

import numpy as np
import pytest
import scipy.integrate
from click.testing import CliRunner

from neep.cli.main import cli
from neep.simulators import DrivenRing, simulate_to_file

# Gaussian tail: |z| > 4 has probability 6e-5; with fixed seeds every run is identical.
Z = 4.0


# ----------------------------------------------------------------- exact values
@pytest.mark.parametrize("r0, w0, w1, temperature, gamma", [(2.0, 0.25, 0.05, 1.0, 1.0), (1.0, -0.5, 0.3, 0.5, 2.0)])
def test_radial_case_matches_one_dimensional_integrals(r0, w0, w1, temperature, gamma):
    # b = 0: U = U(r), f = omega(U) U'(r) e_theta. Independent 1-D adaptive quadrature:
    # Z = int 2 pi r e^{-U/T} dr, sigma = <g^2> / (gamma T) with g = omega(U) U'(r),
    # and only the rotation field r e_theta among the affine fields overlaps f (the
    # others average to zero against it by isotropy): sigma_lin = <g r>^2 / (gamma T <r^2>).
    model = DrivenRing(a=1.0, r0=r0, b=0.0, w0=w0, w1=w1, temperature=temperature, gamma=gamma)

    def u(r):
        return 0.25 * (r * r - r0 * r0) ** 2

    def g(r):
        return (w0 + w1 * math.exp(-u(r))) * r * (r * r - r0 * r0)

    def mean(h):
        return scipy.integrate.quad(lambda r: h(r) * 2 * math.pi * r * math.exp(-u(r) / temperature), 0, 20,
                                    epsabs=0, epsrel=1e-13, limit=200)[0]  # fmt: skip

    z = mean(lambda r: 1.0)
    g2, gr, r2 = mean(lambda r: g(r) ** 2) / z, mean(lambda r: g(r) * r) / z, mean(lambda r: r * r) / z
    assert model.log_normalization == pytest.approx(math.log(z), abs=1e-11)
    assert model.ep_rate == pytest.approx(g2 / (gamma * temperature), rel=1e-10)
    assert model.linear_ep_rate == pytest.approx(gr**2 / (gamma * temperature * r2), rel=1e-9)


def test_ep_rate_matches_monte_carlo_over_boltzmann_samples():
    # Independent of the quadrature: the mean of |f|^2 / (gamma T) over 2 x 10^5 exact
    # Boltzmann samples (rejection sampler), within 4 of its standard errors.
    model = DrivenRing()
    x = model.sample_stationary(200_000, np.random.default_rng(3))
    values = np.sum(model.drive(x) ** 2, axis=-1) / (model.gamma * model.temperature)
    se = values.std(ddof=1) / math.sqrt(len(values))
    assert abs(values.mean() - model.ep_rate) < Z * se
    assert model.ep_rate == pytest.approx(1.1885094724, rel=1e-9)  # the default, pinned
    assert model.linear_ep_rate / model.ep_rate == pytest.approx(0.19579, abs=1e-5)  # a linear model fails


def test_quadrature_satisfies_exact_identities():
    # Integration by parts against e^{-U/T}: <x_i d_j U> = T delta_ij, and with the
    # angular generator L = x_2 d_1 - x_1 d_2 (L U = b x_2): b <x_2^2> = -T <x_1>.
    # Also the local EP density integrates to ep_rate on an independent Cartesian grid.
    model = DrivenRing(b=0.7, temperature=1.3, w0=0.1, w1=0.4)

    def grad(x):  # f = omega R grad U, so grad U = -R f / omega
        omega = model.w0 + model.w1 * np.exp(-model.potential(x))
        return model.drive(x) @ np.array([[0.0, -1.0], [1.0, 0.0]]) / omega[:, None]

    xg = model.stationary_mean(lambda x: (x[:, :, None] * grad(x)[:, None, :]).reshape(len(x), 4))
    np.testing.assert_allclose(xg, model.temperature * np.eye(2).ravel(), atol=1e-10)
    moments = model.stationary_mean(lambda x: np.stack([x[:, 0], x[:, 1] ** 2], axis=1))
    assert model.b * moments[1] == pytest.approx(-model.temperature * moments[0], rel=1e-10)
    grid = np.linspace(-5, 5, 801)
    points = np.stack(np.meshgrid(grid, grid, indexing="ij"), axis=-1)
    total = np.trapezoid(np.trapezoid(model.local_ep_rate(points), grid, axis=1), grid)
    assert total == pytest.approx(model.ep_rate, rel=1e-8)
    assert np.trapezoid(np.trapezoid(model.density(points), grid, axis=1), grid) == pytest.approx(1.0, rel=1e-9)


def test_drive_keeps_boltzmann_stationary():
    # div(f e^{-U/T}) = 0 by central differences with step h: the truncation error is
    # h^2 / 6 times third derivatives, ~1e-7 of the terms' size at h = 1e-3, so 1e-5
    # relative to the largest single term is safe. The conservative part fails it.
    model = DrivenRing(b=0.7, w0=0.3, w1=0.2)
    h = 1e-3
    points = np.array([[2.1, 0.3], [-1.5, 1.2], [0.4, -2.4], [0.7, 0.2], [-2.6, -0.9]])

    def flux(x):
        return model.drive(x) * np.exp(-model.potential(x) / model.temperature)[..., None]

    def conservative(x):
        return (model.force(x) - model.drive(x)) * np.exp(-model.potential(x) / model.temperature)[..., None]

    for field in (flux, conservative):
        d0 = (field(points + [h, 0])[:, 0] - field(points - [h, 0])[:, 0]) / (2 * h)
        d1 = (field(points + [0, h])[:, 1] - field(points - [0, h])[:, 1]) / (2 * h)
        scale = np.maximum(np.abs(d0), np.abs(d1))
        if field is flux:
            assert (np.abs(d0 + d1) < 1e-5 * scale).all(), (d0 + d1, scale)
        else:
            assert (np.abs(d0 + d1) > 1e-2 * scale).any()


def test_jacobian_and_dt_limit():
    model = DrivenRing(b=0.3, w1=0.3, gamma=2.0)
    x, h = np.array([[2.3, -1.1], [0.3, 0.2], [-1.0, 1.9]]), 1e-6
    numeric = np.stack([(model.force(x + h * e) - model.force(x - h * e)) / (2 * h) for e in np.eye(2)], axis=-1)
    np.testing.assert_allclose(model.jacobian(x), numeric / model.gamma, atol=1e-7)
    assert DrivenRing().dt_limit == pytest.approx(0.0528575, abs=1e-7)


def test_stochastic_ep_is_system_entropy_plus_heat(rng):
    # The full form [U(x') - U(x) + F(x_mid) . dx] / T: odd under time reversal, and
    # within O(|dx|^3) of the short form f(x_mid) . dx / T.
    model = DrivenRing()
    x = model.sample_stationary(4, rng)[:, None, :] + 0.05 * np.cumsum(rng.normal(size=(4, 30, 2)), axis=1)
    ep = model.stochastic_ep(x)
    assert ep.shape == (4, 29) and model.stochastic_ep(x[0]).shape == (29,)
    np.testing.assert_allclose(model.stochastic_ep(x[:, ::-1])[:, ::-1], -ep, atol=1e-12)
    mid, dx = 0.5 * (x[:, 1:] + x[:, :-1]), np.diff(x, axis=1)
    short = np.sum(model.drive(mid) * dx, axis=-1) / model.temperature
    assert np.abs(ep - short).max() < 50 * np.abs(dx).max() ** 3
    with pytest.raises(ValueError, match="last axis of length 2"):
        model.stochastic_ep(np.zeros((3, 3)))


# -------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"a": 0}, "a must be > 0, got 0"),
        ({"r0": -1}, "r0 must be >= 0, got -1"),
        ({"b": float("nan")}, "b must be finite, got nan"),
        ({"w0": "1"}, "w0 must be a real number"),
        ({"w1": float("inf")}, "w1 must be finite"),
        ({"temperature": 0}, "temperature must be > 0"),
        ({"gamma": -1}, "gamma must be > 0"),
        ({"dt": 0}, "dt must be > 0"),
        ({"dt": True}, "dt must be a positive number"),
        ({"dt": 0.06}, "dt must be < 0.0528575"),
    ],
)
def test_invalid_parameters_are_named(kwargs, words):
    with pytest.raises(ValueError, match=words):
        DrivenRing(**kwargs)


def test_bad_samples_and_divergence_are_reported():
    model = DrivenRing()
    with pytest.raises(ValueError, match="m must be"):
        model.sample_stationary(-1)
    out = {"states": np.empty((2, 10, 2), np.float32)}
    with pytest.raises(ValueError, match="too large for these parameters: 1 trajectories"):
        model.fill(np.random.default_rng(0), out, initial={"states": np.array([[0.0, 2.0], [40.0, 0.0]])})


# ---------------------------------------------------------------------- sampler
def _moments(x):
    return np.stack([x[:, 0], x[:, 1], x[:, 0] ** 2, x[:, 1] ** 2, x[:, 0] * x[:, 1]], axis=1)


def test_initial_states_are_boltzmann():
    model = DrivenRing()
    x = model.sample_stationary(200_000, np.random.default_rng(5))
    values, exact = _moments(x), model.stationary_mean(_moments)
    se = values.std(axis=0, ddof=1) / math.sqrt(len(x))
    assert (np.abs(values.mean(axis=0) - exact) < Z * se).all(), (values.mean(0), exact, se)


def test_chain_preserves_the_stationary_density():
    # 4000 trajectories from the exact Boltzmann density, 500 steps (5 time units) later.
    # Tolerance: 4 standard errors of the 4000 independent final states, plus 2 % of
    # the exact moment's scale for the Euler-Maruyama chain's own stationary law, whose
    # moments were measured to differ by about 0.9 % at dt = 0.01 (20000 trajectories).
    model = DrivenRing()
    x = model.simulate(trajectories=4000, steps=500, seed=7).astype(np.float64)
    values, exact = _moments(x[:, -1]), model.stationary_mean(_moments)
    se = values.std(axis=0, ddof=1) / math.sqrt(len(values))
    allowance = 0.02 * np.abs(exact).max()
    assert (np.abs(values.mean(axis=0) - exact) < Z * se + allowance).all(), (values.mean(0), exact, se)


def test_mean_stochastic_ep_matches_ep_rate():
    # The standard error comes from the 2000 independent trajectory means. The
    # Euler-Maruyama chain's mean EP per step is sigma dt (1 - 1.36 % +- 0.10 %) at
    # dt = 0.01 (measured over 2 x 10^8 steps; -0.18 % +- 0.22 % at dt = 0.001, so the
    # shift is O(dt)); the allowance is 2 %, that shift with room.
    model = DrivenRing()
    _, ep = model.simulate(trajectories=2000, steps=5000, seed=11, exact_ep=True)
    per_trajectory = ep.astype(np.float64).mean(axis=1)
    mean, se = per_trajectory.mean(), per_trajectory.std(ddof=1) / math.sqrt(len(per_trajectory))
    assert abs(mean - model.ep_per_step) < Z * se + 0.02 * model.ep_per_step
    assert model.ep_per_step == model.ep_rate * model.dt


def _euler_log_ratio(model, x):
    """``ln p(x'|x) - ln p(x|x')`` of every step with the Gaussian Euler transition, in float64."""
    x = x.astype(np.float64)
    h = model.dt / model.gamma
    f = model.force(x) * h
    forward = x[:, 1:] - x[:, :-1] - f[:, :-1]
    backward = x[:, :-1] - x[:, 1:] - f[:, 1:]
    return (np.sum(backward**2, -1) - np.sum(forward**2, -1)) / (4 * model.temperature * h)


def test_chain_reference_matches_the_simulated_chain():
    # The sidecar's chain value (a fixed-seed run of the compiled kernel, its own standard
    # error) against the mean Euler log-ratio of an independent simulation computed here in
    # NumPy from the written float32 states: 1000 trajectories of 40 time units (the first 5
    # dropped: they start from Boltzmann, not the chain's law), the standard error from the
    # independent trajectory means. dt = 0.02 makes the chain's shift from sigma dt 4 %,
    # many standard errors: the test also checks that the value is the chain's, not sigma's.
    model = DrivenRing(dt=0.02)
    ref = model.chain_reference
    x = model.simulate(1000, 2000, seed=3)
    per_trajectory = _euler_log_ratio(model, x)[:, 250:].mean(axis=1) / model.dt
    mean, se = per_trajectory.mean(), per_trajectory.std(ddof=1) / math.sqrt(len(per_trajectory))
    assert abs(mean - ref.rate) < Z * math.hypot(se, ref.error), (mean, se, ref)
    assert ref.rate < model.ep_rate - Z * ref.error  # the O(dt) shift, resolved
    assert model.chain_ep_estimate(trajectories=8, round_time=50.0, precision=1.0, workers=1) == \
        model.chain_ep_estimate(trajectories=8, round_time=50.0, precision=1.0, workers=2)  # seed, not workers


def test_kernel_matches_numpy_reference():
    # The same Generator stream drives a plain NumPy Euler-Maruyama loop.
    model = DrivenRing(dt=0.02, w1=0.2)
    x0 = np.array([[2.0, 0.5], [-1.0, -1.5]])
    out = {"states": np.empty((2, 40, 2), np.float32), "ep": np.empty((2, 40), np.float32)}
    carry = model.fill(np.random.default_rng(7), out, initial={"states": x0})
    rng = np.random.default_rng(7)
    ref = np.empty((2, 41, 2))
    for i in range(2):
        ref[i, 0] = x0[i]
        for t in range(40):
            noise = math.sqrt(2 * model.temperature * model.dt / model.gamma) * rng.standard_normal(2)
            ref[i, t + 1] = ref[i, t] + model.dt / model.gamma * model.force(ref[i, t]) + noise
    np.testing.assert_allclose(out["states"], ref[:, 1:], rtol=2**-23, atol=1e-12)
    np.testing.assert_allclose(out["ep"], model.stochastic_ep(ref), rtol=2**-21, atol=1e-9)
    np.testing.assert_allclose(carry["states"], ref[:, -1], rtol=1e-12)


def test_reproducible_from_seed_and_file_matches_memory(tmp_path):
    model = DrivenRing()
    a = model.simulate(6, 300, seed=4, workers=1)
    np.testing.assert_array_equal(a, model.simulate(6, 300, seed=4, workers=2))
    assert not np.array_equal(a, model.simulate(6, 300, seed=5))
    result = simulate_to_file(model, tmp_path / "r.npy", trajectories=6, steps=300, seed=4, exact_ep=True)
    np.testing.assert_array_equal(np.load(result.path), a)
    assert np.load(result.ep_path).shape == (6, 299)
    meta = json.loads(result.sidecar.read_text())
    assert meta["model"] == "driven-ring" and meta["ep_rate_exact"] == model.ep_rate
    assert meta["ep_per_step_continuous"] == model.ep_rate * model.dt and meta["ep_rate_linear"] == model.linear_ep_rate
    assert meta["ep_per_step_exact"] == model.chain_ep_per_step  # the chain's own pair value
    assert meta["ep_per_step_exact_error"] == model.chain_reference.error * model.dt
    assert meta["parameters"] == {"a": 1.0, "r0": 2.0, "b": 1.0, "w0": 0.25, "w1": 0.05, "temperature": 1.0,
                                  "gamma": 1.0, "dt": 0.01}  # fmt: skip


# -------------------------------------------------------------------------- CLI
def _run(args):
    return CliRunner().invoke(cli, ["simulate", "ring", *args])


def test_cli_writes_file_and_summary(tmp_path):
    out = tmp_path / "ring.npy"
    result = _run(["--b", "0.5", "--trajectories", "3", "--steps", "40", "--exact-ep", "--seed", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    model = DrivenRing(b=0.5)
    np.testing.assert_array_equal(np.load(out), model.simulate(3, 40, seed=2))
    assert np.load(tmp_path / "ring.ep.npy").shape == (3, 39)
    assert json.loads((tmp_path / "ring.json").read_text())["parameters"]["b"] == 0.5
    assert f"{model.ep_rate:.6g}" in result.output and "(3, 40, 2)" in result.output
    help_text = _run(["--help"]).output
    for option in ("--a", "--r0", "--b", "--w0", "--w1", "--temperature", "--gamma", "--dt", "--trajectories",
                   "--steps", "--seed", "--exact-ep", "--force", "--workers", "--output"):  # fmt: skip
        assert option in help_text, option
    assert "1000" in help_text and "10000" in help_text


@pytest.mark.parametrize(
    "args, words",
    [
        (["--a", "0"], "--a must be > 0, got 0.0"),
        (["--r0", "-1"], "--r0 must be >= 0, got -1.0"),
        (["--b", "nan"], "--b must be finite, got nan"),
        (["--temperature", "0"], "--temperature must be > 0"),
        (["--dt", "0.1"], "--dt must be < 0.0528575"),
        (["--steps", "0"], "--steps must be >= 1, got 0"),
    ],
)
def test_cli_bad_input_is_one_line_and_writes_nothing(tmp_path, args, words):
    result = _run([*args, "-o", str(tmp_path / "x.npy")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and words in errors[0], result.output
    assert list(tmp_path.iterdir()) == []
