"""Localization noise: added after the exact EP, reproducible, independent of workers, continuous only."""

import hashlib
import math

import numpy as np
import pytest

from neep.simulators import (
    BeadSpring, DrivenRing, FlashingRatchet, LocalizationNoise, RatchetView, RotatingTrap, simulate_to_arrays,
    simulate_to_file,
)  # fmt: skip

Z = 5.0  # Gaussian tail 6e-7; fixed seeds


@pytest.mark.parametrize("model", [BeadSpring(n=3), RotatingTrap(), DrivenRing()])
def test_noise_is_added_after_the_dynamics_and_the_ep(model):
    # Time blocks of 7 steps: each block continues from the previous one's state. If it
    # continued from a noisy state, the dynamics (and the EP) would differ from the clean run.
    std = 0.3
    clean = simulate_to_arrays(model, 40, 50, seed=4, exact_ep=True, chunk_steps=7)
    noisy = simulate_to_arrays(LocalizationNoise(model, std), 40, 50, seed=4, exact_ep=True, chunk_steps=7)
    np.testing.assert_array_equal(noisy["ep"], clean["ep"])
    eta = (noisy["states"].astype(np.float64) - clean["states"]).ravel()
    # eta is iid N(0, std^2) up to float32 rounding (~1e-7): mean within Z std / sqrt(m),
    # sample variance within Z std^2 sqrt(2 / m) (variance of a Gaussian sample variance).
    m = eta.size
    assert abs(eta.mean()) < Z * std / math.sqrt(m)
    assert abs(eta.var() - std**2) < Z * std**2 * math.sqrt(2 / m)


def test_reproducible_and_independent_of_workers(tmp_path):
    noisy = LocalizationNoise(BeadSpring(n=2), 0.05)
    digests = []
    for workers in (1, 2):
        path = tmp_path / f"w{workers}.npy"
        simulate_to_file(noisy, path, 12, 200, seed=9, workers=workers, chunk_trajectories=1)
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    again = simulate_to_arrays(noisy, 12, 200, seed=9, chunk_trajectories=1)["states"]
    np.testing.assert_array_equal(np.load(tmp_path / "w1.npy"), again)


def test_sidecar_keeps_the_exact_values(tmp_path):
    model = RotatingTrap()
    result = simulate_to_file(LocalizationNoise(model, 0.2), tmp_path / "n.npy", 2, 10, seed=1)
    meta = result.metadata
    assert meta["localization_noise"] == 0.2 and "localization noise" in meta["notes"]
    assert meta["ep_rate_exact"] == model.ep_rate and meta["ep_per_step_exact"] == model.ep_per_step
    assert meta["odd_columns"] == [2, 3]


@pytest.mark.parametrize(
    "sampler, std, words",
    [
        (BeadSpring(), -0.1, "noise must be >= 0, got -0.1"),
        (BeadSpring(), float("inf"), "noise must be finite"),
        (RatchetView(FlashingRatchet()), 0.1, "noise must be 0 for discrete states"),
    ],
)
def test_invalid_noise(sampler, std, words):
    with pytest.raises(ValueError, match=words):
        LocalizationNoise(sampler, std)
