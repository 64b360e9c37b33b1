"""neep.estimators.run: the run folder and file prediction from Python, no CLI involved."""

import json

import numpy as np
import pytest

from neep.estimators import FIT_DEFAULTS, NEEP, fit_to_folder, predict_file, write_run_folder

TINY = dict(hidden_units=4, embedding_dim=2, iterations=4, eval_every=2, batch_size=32, verbose=0)


def ring(rng, m_count=6, length=200):
    steps = np.where(rng.random((m_count, length - 1)) < 0.7, 1, -1)
    states = np.concatenate([np.zeros((m_count, 1), int), np.cumsum(steps, axis=1)], axis=1) % 3
    return states.astype(np.int8), (steps * np.log(0.7 / 0.3)).astype(np.float32)


def test_cli_defaults_repeat_the_library_ones():
    # cli/fit.py repeats them literally so that `neep --help` needs no TensorFlow
    from neep.cli.fit import FIT_DEFAULTS as CLI_DEFAULTS

    assert CLI_DEFAULTS == FIT_DEFAULTS


def test_fit_to_folder_then_predict_file(tmp_path, rng):
    states, exact = ring(rng)
    np.save(tmp_path / "ring.npy", states)
    np.save(tmp_path / "ring.ep.npy", exact)
    est, summary = fit_to_folder(tmp_path / "ring.npy", tmp_path / "run", plots=False, **TINY)
    assert isinstance(est, NEEP) and est.learning_rate == FIT_DEFAULTS["learning_rate"]
    assert json.loads((tmp_path / "run" / "summary.json").read_text()) == summary
    assert summary["model"] == "embedding" and summary["test_shape"] == [3, 200] and summary["figures"] == []
    assert summary["ep_rate"] == est.entropy_production_rate_
    # the summary's held-out rate is what predict_file reports on the held-out half
    result = predict_file(tmp_path / "run" / "model.keras", est.test_, tmp_path / "ep.npy")
    assert result["ep_rate"] == pytest.approx(summary["ep_rate"], rel=1e-5)
    assert np.load(tmp_path / "ep.npy").shape == (3, 199)
    with pytest.raises(ValueError, match="exists"):
        predict_file(tmp_path / "run" / "model.keras", est.test_, tmp_path / "ep.npy")
    with pytest.raises(ValueError, match="not empty"):
        write_run_folder(est, tmp_path / "run")
    assert write_run_folder(est, tmp_path / "run", force=True, plots=False)["ep_rate"] == summary["ep_rate"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ep.npy", "ring.ep.npy", "ring.npy", "run"]


def test_fit_to_folder_refuses_before_fitting(tmp_path, rng):
    states, _ = ring(rng)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "mine.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        fit_to_folder(states, tmp_path / "run", **TINY)
    with pytest.raises(ValueError, match="dt must be > 0"):
        fit_to_folder(states, tmp_path / "other", dt=0, **TINY)
    assert not (tmp_path / "other").exists()
