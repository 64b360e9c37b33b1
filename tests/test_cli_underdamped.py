"""``neep simulate underdamped trap|oscillators``, ``bead --scheme exact`` and the shared ``--noise``."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from neep.cli.main import cli
from neep.simulators import BeadSpring, CoupledOscillators, LocalizationNoise, RotatingTrap, simulate_to_arrays


def _run(args):
    return CliRunner().invoke(cli, ["simulate", *args])


def test_help_lists_every_option():
    for command, options in (
        ("trap", ("--k", "--torque", "--mass", "--gamma", "--temperature", "--dt")),
        ("oscillators", ("--k", "--coupling", "--mass", "--gamma", "--t1", "--t2", "--dt")),
    ):
        result = _run(["underdamped", command, "--help"])
        assert result.exit_code == 0
        for option in (*options, "--trajectories", "--steps", "--seed", "--exact-ep", "--noise", "--output"):
            assert option in result.output, (command, option)
    assert "--scheme" in _run(["bead", "--help"]).output and "--noise" in _run(["ring", "--help"]).output


def test_trap_writes_file_sidecar_and_summary(tmp_path):
    out = tmp_path / "t.npy"
    result = _run(["underdamped", "trap", "--trajectories", "4", "--steps", "30", "--exact-ep", "--seed", "2",
                   "--dt", "0.05", "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    model = RotatingTrap(dt=0.05)
    x, ep = model.simulate(4, 30, seed=2, exact_ep=True)
    np.testing.assert_array_equal(np.load(out), x)
    np.testing.assert_array_equal(np.load(tmp_path / "t.ep.npy"), ep)
    meta = json.loads((tmp_path / "t.json").read_text())
    assert meta["odd_columns"] == [2, 3] and meta["columns"] == ["x1", "x2", "v1", "v2"]
    assert meta["ep_rate_exact"] == model.ep_rate and meta["parity_kl"] == model.parity_kl
    assert f"{model.ep_rate:.6g}" in result.output and "parity KL" in result.output


def test_oscillators_and_noise(tmp_path):
    out = tmp_path / "o.npy"
    result = _run(["underdamped", "oscillators", "--t1", "2", "--t2", "5", "--trajectories", "3", "--steps", "20",
                   "--noise", "0.1", "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    model = CoupledOscillators(t1=2.0, t2=5.0)
    expected = simulate_to_arrays(LocalizationNoise(model, 0.1), 3, 20, seed=0)["states"]
    np.testing.assert_array_equal(np.load(out), expected)
    meta = json.loads((tmp_path / "o.json").read_text())
    assert meta["localization_noise"] == 0.1 and meta["ep_rate_exact"] == model.ep_rate
    assert "localization noise: std 0.1" in result.output


def test_bead_exact_scheme(tmp_path):
    out = tmp_path / "b.npy"
    result = _run(["bead", "--scheme", "exact", "--dt", "0.1", "--trajectories", "3", "--steps", "20", "-o", str(out)])
    assert result.exit_code == 0, result.output
    model = BeadSpring(dt=0.1, scheme="exact")
    np.testing.assert_array_equal(np.load(out), model.simulate(3, 20, seed=0))
    meta = json.loads((tmp_path / "b.json").read_text())
    assert meta["ep_per_step_exact"] == model.ep_per_step < meta["ep_per_step_continuous"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["underdamped", "trap", "--torque", "2"], "--torque must satisfy mass * torque^2 < gamma^2 * k"),
        (["underdamped", "trap", "--k", "0"], "--k must be > 0, got 0.0"),
        (["underdamped", "oscillators", "--t1", "0"], "--t1 must be > 0, got 0.0"),
        (["underdamped", "oscillators", "--dt", "-1"], "--dt must be > 0, got -1.0"),
        (["bead", "--noise", "-1"], "--noise must be >= 0, got -1.0"),
        (["ratchet", "--noise", "0.1"], "--noise must be 0 for discrete states"),
        (["bead", "--scheme", "rk4"], "'rk4' is not one of"),
    ],
)
def test_bad_input_is_one_named_line_and_writes_nothing(tmp_path, args, words):
    result = _run([*args, "-o", str(tmp_path / "x.npy")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and words in errors[0], result.output
    assert list(tmp_path.iterdir()) == []
