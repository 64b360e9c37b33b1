"""``neep simulate bead|ratchet`` through click's CliRunner, in a temporary folder."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from neep.cli.main import cli
from neep.simulators import BeadSpring, FlashingRatchet


def _run(args):
    return CliRunner().invoke(cli, ["simulate", *args])


def test_help_lists_every_option():
    bead = _run(["bead", "--help"])
    assert bead.exit_code == 0
    for option in ("--n", "--t-cold", "--t-hot", "--k", "--gamma", "--dt", "--trajectories", "--steps", "--seed",
                   "--exact-ep", "--force", "--output", "--workers"):  # fmt: skip
        assert option in bead.output, option
    ratchet = _run(["ratchet", "--help"])
    assert ratchet.exit_code == 0
    for option in ("--potential", "--switching-rate", "--temperature", "--trajectories", "--steps", "--seed",
                   "--hidden", "--continuous-time", "--exact-ep", "--force", "--output", "--workers"):  # fmt: skip
        assert option in ratchet.output, option
    # the paper's defaults
    assert "1000" in bead.output and "10000" in bead.output and "1000000" in ratchet.output


def test_bead_writes_file_and_summary(tmp_path):
    out = tmp_path / "b.npy"
    result = _run(["bead", "--n", "3", "--trajectories", "4", "--steps", "50", "--exact-ep", "--seed", "3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    x = np.load(out)
    assert x.shape == (4, 50, 3) and x.dtype == np.float32
    assert np.load(tmp_path / "b.ep.npy").shape == (4, 49)
    meta = json.loads((tmp_path / "b.json").read_text())
    model = BeadSpring(n=3)
    assert meta["ep_rate_exact"] == model.ep_rate and meta["seed"] == 3
    assert "(4, 50, 3)" in result.output and f"{model.ep_rate:.6g}" in result.output
    np.testing.assert_array_equal(x, model.simulate(4, 50, seed=3))


def test_seed_and_workers_reproduce_bytes(tmp_path):
    files = []
    for name, workers in (("a", "1"), ("b", "2")):
        path = tmp_path / f"{name}.npy"
        result = _run(["bead", "--trajectories", "6", "--steps", "30", "--workers", workers, "--seed", "5", "-o", str(path)])
        assert result.exit_code == 0, result.output
        files.append(path.read_bytes())
    assert files[0] == files[1]


def test_ratchet_views(tmp_path):
    out = tmp_path / "r.npy"
    result = _run(["ratchet", "--steps", "2000", "--hidden", "--continuous-time", "--exact-ep", "-o", str(out)])
    assert result.exit_code == 0, result.output
    states, times, ep = np.load(out), np.load(tmp_path / "r.times.npy"), np.load(tmp_path / "r.ep.npy")
    assert states.shape == (1, 2000) and states.dtype == np.int8 and set(np.unique(states)) <= {0, 1, 2}
    assert times.shape == (1, 2000) and (np.diff(times) > 0).all() and ep.shape == (1, 1999)
    meta = json.loads((tmp_path / "r.json").read_text())
    ratchet = FlashingRatchet()
    assert meta["hidden"] and meta["continuous_time"] and meta["n_states"] == 3
    assert meta["ep_per_step_exact"] == ratchet.ep_per_jump and meta["dt"] == ratchet.mean_jump_time
    assert "full information" in result.output
    plain = _run(["ratchet", "--potential", "3", "--steps", "500", "-o", str(tmp_path / "p.npy")])
    assert plain.exit_code == 0, plain.output
    assert np.load(tmp_path / "p.npy").max() <= 5 and json.loads((tmp_path / "p.json").read_text())["dt"] is None


@pytest.mark.parametrize(
    "args, words",
    [
        (["bead", "--n", "0"], "--n must be >= 1, got 0"),
        (["bead", "--t-cold", "0"], "--t-cold must be > 0, got 0.0"),
        (["bead", "--t-hot", "-1"], "--t-hot must be > 0, got -1.0"),
        (["bead", "--k", "0"], "--k must be > 0"),
        (["bead", "--gamma", "-1"], "--gamma must be > 0"),
        (["bead", "--dt", "0"], "--dt must be > 0, got 0.0"),
        (["bead", "--dt", "0.9"], "--dt must be < 0.666667"),
        (["bead", "--trajectories", "0"], "--trajectories must be >= 1, got 0"),
        (["bead", "--steps", "0"], "--steps must be >= 1, got 0"),
        (["bead", "--seed", "-1"], "--seed must be >= 0, got -1"),
        (["bead", "--workers", "0"], "--workers must be >= 1, got 0"),
        (["ratchet", "--switching-rate", "-1"], "--switching-rate must be > 0, got -1.0"),
        (["ratchet", "--temperature", "0"], "--temperature must be > 0, got 0.0"),
        (["ratchet", "--potential", "nan"], "--potential must be finite, got nan"),
        (["ratchet", "--steps", "0"], "--steps must be >= 1, got 0"),
        (["ratchet", "--trajectories", "0"], "--trajectories must be >= 1, got 0"),
        (["bead", "--n", "two"], "'two' is not a valid integer"),
    ],
)
def test_bad_input_is_one_named_line_and_writes_nothing(tmp_path, args, words):
    result = _run([*args, "-o", str(tmp_path / "x.npy")])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # handled, not a crash
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and words in errors[0], result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("target, words", [("missing/x.npy", "does not exist"), ("x.txt", "must end with .npy")])
def test_bad_output_path(tmp_path, target, words):
    result = _run(["bead", "--steps", "5", "-o", str(tmp_path / target)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and words in errors[0] and "--output" in errors[0]
    assert list(tmp_path.iterdir()) == []


def test_existing_output_needs_force(tmp_path):
    out = str(tmp_path / "x.npy")
    assert _run(["ratchet", "--steps", "10", "--exact-ep", "-o", out]).exit_code == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    again = _run(["ratchet", "--steps", "10", "--seed", "1", "-o", out])
    assert again.exit_code != 0 and "exists" in again.output and "--force" in again.output
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    forced = _run(["ratchet", "--steps", "10", "--seed", "1", "--force", "-o", out])
    assert forced.exit_code == 0, forced.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.npy"]
