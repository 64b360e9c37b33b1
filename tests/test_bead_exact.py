"""The bead chain's exact scheme: the continuous process recorded every dt, with its exact per-step KL."""

import json
import math

import numpy as np
import pytest

from neep.simulators import BeadSpring, simulate_to_file

Z = 5.0  # Gaussian tail 6e-7; fixed seeds


def _block_kl(model):
    """KL between (x, x') and (x', x) from the textbook formula on the 2n x 2n covariances."""
    c, e, n = model.covariance, model.exact_chain.transition, model.n
    forward = np.block([[c, c @ e.T], [e @ c, c]])
    backward = np.block([[c, e @ c], [c @ e.T, c]])
    return 0.5 * (np.trace(np.linalg.solve(backward, forward)) - 2 * n)  # equal log-determinants


@pytest.mark.parametrize("n, dt", [(2, 0.1), (5, 0.05), (3, 1.0)])
def test_ep_per_step_is_the_exact_chains_kl(n, dt):
    model = BeadSpring(n=n, t_cold=1.0, t_hot=10.0, dt=dt, scheme="exact")
    assert model.ep_per_step == pytest.approx(_block_kl(model), rel=1e-9)
    assert 0 < model.ep_per_step < model.ep_rate * dt  # the recorded chain sees less than the path


def test_per_step_kl_tends_to_sigma_dt():
    # Relative deficit O(dt): shrinking dt 10x shrinks it ~10x (about 2 dt for N = 2).
    deficits = []
    for dt in (0.01, 0.001):
        model = BeadSpring(n=2, dt=dt, scheme="exact")
        deficits.append(1 - model.ep_per_step / (model.ep_rate * dt))
    assert 0 < deficits[1] < deficits[0] < 0.03
    assert 9 < deficits[0] / deficits[1] < 11


def test_no_stability_limit_and_scheme_is_checked():
    BeadSpring(n=2, dt=5.0, scheme="exact")  # far past the Euler-Maruyama limit 2/3
    with pytest.raises(ValueError, match="scheme must be one of euler-maruyama, exact, got 'rk4'"):
        BeadSpring(scheme="rk4")


def test_mean_step_ep_is_the_pair_kl_at_coarse_dt():
    # N = 2, dt = 0.1: pair KL 0.1636 vs sigma dt 0.2025 (-19 %). Standard error from the 400
    # independent trajectory means; the second assertion shows the sample tells them apart.
    model = BeadSpring(n=2, dt=0.1, scheme="exact")
    x, ep = model.simulate(trajectories=400, steps=500, seed=11, exact_ep=True)
    per_trajectory = ep.astype(np.float64).mean(axis=1)
    mean, se = per_trajectory.mean(), per_trajectory.std(ddof=1) / math.sqrt(len(per_trajectory))
    assert abs(mean - model.ep_per_step) < Z * se
    assert abs(mean - model.ep_rate * model.dt) > Z * se
    # The file is the log-ratio of the float64 states; recomputed from the float32 ones
    # (|dx_j| <= u s, u = 2^-24, s = max |x_j|) the residuals x' - E x, x - E x' move by at most
    # (1 + ||E||) u s sqrt(n), their squares after L^-1 by 2 |L^-1 r| ||L^-1|| times that, and
    # x^T C^-1 x by 2 ||C^-1|| s^2 u n; |L^-1 r| <= ||L^-1|| (1 + ||E||) s sqrt(n). In sum
    # <= 2 u n s^2 (||L^-1||^2 (1 + ||E||)^2 + ||C^-1||), plus the float32 rounding u |EP|.
    recomputed = model.step_ep(x[:5])
    chain, u, s, n = model.exact_chain, 2.0**-24, float(np.abs(x[:5]).max()), model.n
    li, e = np.linalg.norm(np.linalg.inv(chain.noise_factor), 2), np.linalg.norm(chain.transition, 2)
    bound = 2 * u * n * s * s * (li**2 * (1 + e) ** 2 + np.linalg.norm(np.linalg.inv(model.covariance), 2))
    assert np.abs(recomputed - ep[:5]).max() < bound + u * np.abs(ep[:5]).max()


def test_exact_samples_far_beyond_the_euler_limit():
    # dt = 1 (Euler-Maruyama would diverge): the state after 20 steps over 4000 independent
    # trajectories has covariance C (Isserlis: var of the sample entry (C_ii C_jj + C_ij^2) / m).
    model = BeadSpring(n=2, dt=1.0, scheme="exact")
    m = 4000
    last = model.simulate(trajectories=m, steps=20, seed=2)[:, -1].astype(np.float64)
    c = model.covariance
    se = np.sqrt((np.outer(np.diag(c), np.diag(c)) + c**2) / m)
    assert (np.abs(last.T @ last / m - c) < Z * se).all()


def test_sidecar_of_the_exact_scheme(tmp_path):
    model = BeadSpring(n=2, dt=0.1, scheme="exact")
    simulate_to_file(model, tmp_path / "b.npy", 2, 5, seed=0)
    meta = json.loads((tmp_path / "b.json").read_text())
    assert meta["parameters"]["scheme"] == "exact" and meta["ep_per_step_exact"] == model.ep_per_step
    assert meta["ep_per_step_continuous"] == model.ep_rate * 0.1
    assert "scheme" not in BeadSpring().metadata()["parameters"]  # Euler-Maruyama sidecars unchanged
