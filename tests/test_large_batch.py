"""Large batches with a matching learning rate: ``scale_to_batch``, ``resolve_fit_params`` and ``--large-batch``.

The rule's effect on the estimate is measured, not tested (it needs full-size
fits): benchmarks/large_batch.py and benchmarks/RESULTS-estimators.md. These
tests pin the arithmetic of the rule and its wiring through the command.
"""

import math

import pytest
from click.testing import CliRunner

from neep.cli.main import cli
from neep.estimators.runs.large_batch import MAX_EMA_STEP, scale_to_batch
from neep.estimators.runs.defaults import kind_defaults, resolve_fit_params

BASE = {"batch_size": 4096, "learning_rate": 1e-3, "iterations": 2000, "eval_every": 100, "ema_momentum": 0.99,
        "hidden_units": 128}


def test_square_root_rule_keeps_windows_seen_and_averaging_horizon():
    scaled = scale_to_batch(BASE, 65536)
    kappa = 16
    assert scaled["batch_size"] == 65536
    assert scaled["learning_rate"] == pytest.approx(1e-3 * math.sqrt(kappa), rel=1e-12)
    assert scaled["iterations"] * 65536 == 2000 * 4096  # the same windows seen (2000 / 16 = 125)
    assert scaled["eval_every"] * 65536 == pytest.approx(100 * 4096, rel=0.05)  # 100 / 16 = 6.25 -> 6
    # the moving average's horizon in windows, 1 / (1 - m) * batch, is kept
    assert 65536 / (1 - scaled["ema_momentum"]) == pytest.approx(4096 / (1 - 0.99), rel=1e-9)
    assert scaled["hidden_units"] == 128  # everything else as it was
    assert BASE["batch_size"] == 4096  # the input is not changed


def test_smaller_batches_scale_down_and_iterations_round_up():
    scaled = scale_to_batch(BASE, 1024)
    assert scaled["learning_rate"] == pytest.approx(5e-4)
    assert (scaled["iterations"], scaled["eval_every"]) == (8000, 400)
    # with the iterations kept, the interval between evaluations stops at all of them
    assert scale_to_batch(BASE, 1024, keep=("iterations",))["eval_every"] == 400
    assert scale_to_batch({**BASE, "iterations": 300}, 1024, keep=("iterations",))["eval_every"] == 300
    assert scale_to_batch({**BASE, "iterations": 1001}, 8192)["iterations"] == 501  # never fewer windows


def test_given_settings_are_kept_and_limits_hold():
    scaled = scale_to_batch(BASE, 65536, keep=("learning_rate", "iterations"))
    assert (scaled["learning_rate"], scaled["iterations"]) == (1e-3, 2000)
    assert scale_to_batch({**BASE, "ema_momentum": None}, 65536)["ema_momentum"] is None  # off stays off
    huge = scale_to_batch(BASE, 4096 * 1000)
    assert huge["ema_momentum"] == pytest.approx(1 - MAX_EMA_STEP)
    assert (huge["iterations"], huge["eval_every"]) == (2, 1)


@pytest.mark.parametrize("batch", [0, -5, 2.5, True, "8"])
def test_bad_batch_sizes_are_refused(batch):
    with pytest.raises(ValueError, match="batch size"):
        scale_to_batch(BASE, batch)


def test_bad_keep_and_missing_settings_are_refused():
    with pytest.raises(ValueError, match="hidden_units"):
        scale_to_batch(BASE, 8192, keep=("hidden_units",))
    with pytest.raises(ValueError, match="eval_every"):
        scale_to_batch({k: v for k, v in BASE.items() if k != "eval_every"}, 8192)


def test_resolve_fit_params_scales_the_kinds_defaults():
    for kind, discrete in (("current", False), ("gru", True)):
        defaults = kind_defaults(kind)
        params = resolve_fit_params({"model": kind, "learning_rate": None}, discrete, large_batch=8192)
        kappa = 8192 / defaults["batch_size"]
        assert params["batch_size"] == 8192
        assert params["learning_rate"] == pytest.approx(defaults["learning_rate"] * math.sqrt(kappa))
        assert params["iterations"] == math.ceil(defaults["iterations"] / kappa)
    given = resolve_fit_params({"learning_rate": 2e-3, "ema_momentum": None}, False, large_batch=8192)
    assert (given["learning_rate"], given["ema_momentum"]) == (2e-3, None)
    with pytest.raises(ValueError, match="batch_size or large_batch"):
        resolve_fit_params({"batch_size": 512}, False, large_batch=8192)


def test_cli_hands_large_batch_over_and_keeps_only_given_settings(tmp_path, monkeypatch):
    import numpy as np

    import neep.cli.fit as fit_module

    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).normal(size=(4, 50, 2)).astype(np.float32))
    seen = {}

    def capture(data, output, **options):
        seen.update(options)
        raise KeyboardInterrupt  # stop before any training

    monkeypatch.setattr(fit_module, "run_fit", capture)
    CliRunner().invoke(cli, ["fit", str(path), "--large-batch", "16384", "-o", str(tmp_path / "run")])
    assert seen["large_batch"] == 16384
    # the command's own defaults of --eval-every and --ema are not "given": they are rescaled
    assert "eval_every" not in seen and "ema_momentum" not in seen
    seen.clear()
    CliRunner().invoke(cli, ["fit", str(path), "--large-batch", "16384", "--eval-every", "50",
                             "-o", str(tmp_path / "run2")])
    assert seen["eval_every"] == 50


def test_cli_refuses_batch_size_with_large_batch(tmp_path):
    import numpy as np

    path = tmp_path / "x.npy"
    np.save(path, np.zeros((2, 10, 2), np.float32))
    result = CliRunner().invoke(cli, ["fit", str(path), "--large-batch", "16384", "--batch-size", "64",
                                      "-o", str(tmp_path / "run")])
    assert result.exit_code == 2 and "not both" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()
