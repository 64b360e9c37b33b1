"""`neep fit` and `neep predict` through click's CliRunner: the run folder, the summary, bad input.

Tiny data and tiny networks (a few seconds each): these test the command's
wiring and its error handling; the estimator's accuracy is tested in the
estimator tests and measured in benchmarks/accuracy.py.
"""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from neep.cli.main import cli

TINY = ["--hidden-units", "8", "--iterations", "20", "--eval-every", "10", "--batch-size", "256", "--no-data-check"]
SUMMARY_KEYS = {
    "ep_rate", "ep_rate_std", "ep_rate_per_seed", "ep_rate_target", "ep_rate_exact", "lower_bound_j", "lower_bound_dv",
    "r2", "dt", "model", "iterations", "seconds",
}


@pytest.fixture(scope="module")
def beads(tmp_path_factory):
    """2-bead chain, 8 trajectories x 200 steps, with sidecar and exact EP (the simulator's file)."""
    from neep.simulators.bead_spring import BeadSpring
    from neep.simulators.io import simulate_to_file

    path = tmp_path_factory.mktemp("data") / "beads.npy"
    simulate_to_file(BeadSpring(n=2), path, 8, 200, seed=3, exact_ep=True)
    return path


@pytest.fixture(scope="module")
def ring(tmp_path_factory):
    """Biased 3-state ring (forward 0.7, backward 0.3), int8, exact EP beside it, no sidecar."""
    rng = np.random.default_rng(7)
    steps = np.where(rng.random((6, 300)) < 0.7, 1, -1)
    states = np.concatenate([np.zeros((6, 1), int), np.cumsum(steps, axis=1)], axis=1) % 3
    path = tmp_path_factory.mktemp("ring") / "ring.npy"
    np.save(path, states.astype(np.int8))
    np.save(path.with_suffix(".ep.npy"), (steps * np.log(0.7 / 0.3)).astype(np.float32))
    return path


def _invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def _assert_one_line_error(result):
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.output
    return errors[0]


def test_fit_writes_the_run_folder(beads, tmp_path):
    out = tmp_path / "run"
    result = _invoke(["fit", str(beads), "-o", str(out), "--seeds", "2", *TINY])
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert {"model.keras", "history.csv", "summary.json", "convergence.png"} <= names
    # exact per-step EP is known: scatter and cumulative plots, and the local map for 2-D states
    assert {"ep_scatter.png", "cumulative_ep.png", "local_ep_map.png"} <= names
    summary = json.loads((out / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert summary["model"] == "current" and summary["dt"] == 0.01 and summary["iterations"] == 20
    chain = json.loads(beads.with_suffix(".json").read_text())["ep_per_step_exact"] / 0.01
    assert summary["ep_rate_target"] == pytest.approx(chain)  # the Euler chain's exact rate (2.0403)
    # the continuous process's, under the sidecar's name for it: one key, one meaning in both files
    sidecar = json.loads(beads.with_suffix(".json").read_text())
    assert summary["ep_rate_exact"] == pytest.approx(2.025) == sidecar["ep_rate_exact"]
    assert len(summary["ep_rate_per_seed"]) == 2
    assert summary["ep_rate"] == pytest.approx(np.mean(summary["ep_rate_per_seed"]))
    assert summary["ep_rate_std"] == pytest.approx(np.std(summary["ep_rate_per_seed"], ddof=1))
    assert 0 <= summary["r2"] <= 1
    history = (out / "history.csv").read_text().splitlines()
    assert history[0].startswith("seed,iteration")
    assert len(history) == 1 + 3 * 2  # header + 3 evaluations (iterations 0, 10, 20) x 2 seeds
    assert "ep_rate [per unit time]" in history[0].split(",")  # the header names the unit
    low, high = summary["ep_rate_interval"]
    assert low < summary["ep_rate"] < high and summary["ep_rate_stderr"] > 0
    assert summary["lower_bound_j_stderr"] > 0 and "linear_current" in summary["baselines"]
    assert [k["seed"] for k in summary["kept"]] == [0, 1]
    assert "95 % interval" in result.output and "kept" in result.output
    assert "EP rate" in result.output and "R^2" in result.output and "exact" in result.output
    # no temporary folder left beside the run
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_fit_is_reproducible_and_predict_agrees(beads, tmp_path):
    first = _invoke(["fit", str(beads), "-o", str(tmp_path / "a"), *TINY])
    second = _invoke(["fit", str(beads), "-o", str(tmp_path / "b"), *TINY])
    assert first.exit_code == 0 and second.exit_code == 0
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    b = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert a["ep_rate"] == b["ep_rate"]

    out = tmp_path / "ep.npy"
    result = _invoke(["predict", str(tmp_path / "a" / "model.keras"), str(beads), "-o", str(out)])
    assert result.exit_code == 0, result.output
    ep = np.load(out)
    assert ep.shape == (8, 199) and ep.dtype == np.float32
    # the summary's held-out rate is the predict rate of the held-out half (trajectories 4..7)
    held_out = np.load(beads)[4:]
    held = tmp_path / "held.npy"
    np.save(held, held_out)
    result = _invoke(["predict", str(tmp_path / "a" / "model.keras"), str(held), "--dt", "0.01"])
    assert result.exit_code == 0, result.output
    printed = float(result.output.split("EP rate")[1].split()[0])
    assert printed == pytest.approx(a["ep_rate"], rel=1e-4)
    assert "R^2" in _invoke(["predict", str(tmp_path / "a" / "model.keras"), str(beads)]).output


def test_fit_discrete_picks_embedding_and_rates_per_step(ring, tmp_path):
    out = tmp_path / "run"
    result = _invoke(["fit", str(ring), "-o", str(out), *TINY])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "embedding"
    assert summary["rate_unit"] == "per step" and summary["dt"] == 1.0 and not summary["dt_known"]
    assert summary["ep_per_step_target"] is not None and summary["r2"] is not None
    assert "per step" in result.output
    assert "local_ep_map.png" not in summary["figures"]  # no 2-D map for discrete states


def test_fit_large_batch_trains_with_the_rescaled_settings(beads, tmp_path):
    # --large-batch 512 from the default 4096: the current model's learning rate x sqrt(1/8); --iterations
    # given, so kept
    from neep.estimators.runs.defaults import kind_defaults

    out = tmp_path / "run"
    result = _invoke(["fit", str(beads), "-o", str(out), "--large-batch", "512", "--hidden-units", "8",
                      "--iterations", "20", "--no-data-check"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["batch_size"] == 512 and summary["iterations"] == 20
    assert summary["learning_rate"] == pytest.approx(kind_defaults("current")["learning_rate"] / np.sqrt(8))
    assert summary["eval_every"] == 20  # 100 x 8 windows apart, but not past the last of 20 iterations
    assert "large batch" in result.output


def test_tensorboard_logs_when_asked(ring, tmp_path):
    logs = tmp_path / "tb"
    result = _invoke(["fit", str(ring), "-o", str(tmp_path / "run"), "--tensorboard", str(logs), *TINY])
    assert result.exit_code == 0, result.output
    assert any(p.name.startswith("events.out.tfevents") for p in logs.rglob("*"))
    missing = _invoke(["fit", str(ring), "-o", str(tmp_path / "run2"), "--tensorboard",
                       str(tmp_path / "no" / "tb"), *TINY])
    _assert_one_line_error(missing)
    assert not (tmp_path / "run2").exists()


def test_force_replaces_only_run_files(beads, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = _invoke(["fit", str(beads), "-o", str(out), *TINY])
    assert "--force" in _assert_one_line_error(result)
    result = _invoke(["fit", str(beads), "-o", str(out), "--force", *TINY])
    assert result.exit_code == 0, result.output
    assert (out / "notes.txt").read_text() == "mine" and (out / "summary.json").exists()


def test_help_explains_every_option():
    result = _invoke(["fit", "--help"])
    for option in ("--model", "--hidden-units", "--layers", "--batch-size", "--learning-rate",
                   "--weight-decay", "--iterations", "--eval-every", "--seeds", "--seq-len",
                   "--normalize", "--dt", "--output", "--seed", "--force", "--precision", "--tensorboard"):
        assert option in result.output
    assert "-o" in _invoke(["predict", "--help"]).output


def _bad_files(tmp_path, rng):
    """name -> (path, extra args, expected text in the error line)."""
    cases = {}
    cases["missing"] = (tmp_path / "nothere.npy", [], "not found")
    binary = tmp_path / "data.bin"
    binary.write_bytes(bytes(range(256)))
    cases["not npy"] = (binary, [], "not a format neep reads")
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"this is not numpy")
    cases["corrupt npy"] = (junk, [], "not a valid NumPy .npy")
    obj = tmp_path / "object.npy"
    np.save(obj, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    cases["object dtype"] = (obj, [], "object")
    x = rng.normal(size=(4, 50, 2)).astype(np.float32)
    x[2, 17, 1] = np.nan
    nan = tmp_path / "nan.npy"
    np.save(nan, x)
    cases["nan"] = (nan, [], "trajectory 2 at step 17")
    x = rng.normal(size=(4, 50, 2)).astype(np.float32)
    x[1, 5, 0] = np.inf
    inf = tmp_path / "inf.npy"
    np.save(inf, x)
    cases["inf"] = (inf, [], "trajectory 1 at step 5")
    rank = tmp_path / "rank.npy"
    np.save(rank, np.zeros((2, 3, 4, 5), np.float32))
    cases["wrong rank"] = (rank, [], "shape")
    short = tmp_path / "short.npy"
    np.save(short, rng.normal(size=(4, 5, 2)).astype(np.float32))
    cases["fewer steps than a window"] = (short, ["--seq-len", "8", "--model", "gru"], "window")
    floats = tmp_path / "floats.npy"
    np.save(floats, rng.normal(size=(4, 50, 2)).astype(np.float32))
    cases["float data with embedding"] = (floats, ["--model", "embedding"], "embedding")
    cases["current model on windows"] = (floats, ["--model", "current", "--seq-len", "4"], "reads pairs")
    ints = tmp_path / "ints.npy"
    np.save(ints, rng.integers(0, 3, size=(4, 50)).astype(np.int8))
    cases["current model on discrete data"] = (ints, ["--model", "current"], "float (continuous)")
    cases["dt zero"] = (floats, ["--dt", "0"], "--dt")
    cases["dt negative"] = (floats, ["--dt", "-0.5"], "--dt")
    tiny = tmp_path / "tiny.npy"
    np.save(tiny, rng.normal(size=(3, 2)).astype(np.float32))  # one trajectory of 3 steps
    cases["too little to split"] = (tiny, [], "too little data")
    return cases


@pytest.mark.parametrize("case", [
    "missing", "not npy", "corrupt npy", "object dtype", "nan", "inf", "wrong rank",
    "fewer steps than a window", "float data with embedding", "current model on windows",
    "current model on discrete data", "dt zero", "dt negative",
    "too little to split",
])
def test_fit_bad_input_is_one_line_and_writes_nothing(case, tmp_path, rng):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    path, extra, expected = _bad_files(data_dir, rng)[case]
    before = sorted(p.name for p in data_dir.iterdir())
    result = _invoke(["fit", str(path), "-o", str(tmp_path / "run"), *TINY, *extra])
    line = _assert_one_line_error(result)
    assert expected in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no run folder, no temporary
    assert sorted(p.name for p in data_dir.iterdir()) == before


def test_predict_bad_input(beads, tmp_path):
    missing = _invoke(["predict", str(tmp_path / "none.keras"), str(beads)])
    assert "not found" in _assert_one_line_error(missing)
    not_keras = tmp_path / "model.txt"
    not_keras.write_text("x")
    assert ".keras" in _assert_one_line_error(_invoke(["predict", str(not_keras), str(beads)]))
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    assert "cannot load" in _assert_one_line_error(_invoke(["predict", str(broken), str(beads)]))
    exists = tmp_path / "ep.npy"
    exists.write_bytes(b"")
    result = _invoke(["predict", str(broken), str(beads), "-o", str(exists)])
    assert "exists" in _assert_one_line_error(result)
    assert exists.read_bytes() == b""
    bad_suffix = _invoke(["predict", str(broken), str(beads), "-o", str(tmp_path / "ep.txt")])
    assert ".npy" in _assert_one_line_error(bad_suffix)
    assert "--dt" in _assert_one_line_error(_invoke(["predict", str(broken), str(beads), "--dt", "0"]))


_RUN_ONLY = ("callbacks", "resume", "resume_command", "force", "dt", "large_batch")


def test_fit_gru_gets_the_gru_defaults(ring, tmp_path, monkeypatch):
    # what the command hands to the library resolves to kind_defaults("gru"), unless given
    import neep.cli.fit as fit_module
    from neep.estimators.runs.defaults import kind_defaults, resolve_fit_params

    seen = {}

    def capture(data, output, **options):
        seen.update(options)
        raise KeyboardInterrupt  # stop before any training

    monkeypatch.setattr(fit_module, "run_fit", capture)
    CliRunner().invoke(cli, ["fit", str(ring), "--model", "gru", "--seq-len", "4", "-o", str(tmp_path / "run")])
    params = resolve_fit_params({k: v for k, v in seen.items() if k not in _RUN_ONLY},
                                discrete=True)
    assert {k: params[k] for k in kind_defaults("gru")} == kind_defaults("gru") | {"seq_len": 4}
    seen.clear()
    CliRunner().invoke(cli, ["fit", str(ring), "--model", "gru", "--seq-len", "4", "--batch-size", "64",
                             "--learning-rate", "0.01", "-o", str(tmp_path / "run2")])
    params = resolve_fit_params({k: v for k, v in seen.items() if k not in _RUN_ONLY},
                                discrete=True)
    assert (params["batch_size"], params["learning_rate"], params["embedding_dim"]) == (64, 0.01, 8)
    seen.clear()
    CliRunner().invoke(cli, ["fit", str(ring), "--model", "gru", "--seq-len", "4", "--final-learning-rate", "0.003",
                             "--seeds", "1", "--data-check", "-o", str(tmp_path / "run3")])
    params = resolve_fit_params({k: v for k, v in seen.items() if k not in _RUN_ONLY},
                                discrete=True)
    assert (params["final_learning_rate"], params["seeds"], params["data_check"]) == (0.003, 1, True)
