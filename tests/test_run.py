"""neep.estimators.runs: the run folder and file prediction from Python, no CLI involved."""

import json

import numpy as np
import pytest

from neep.estimators import FIT_DEFAULTS, NEEP, fit_to_folder, predict_file, write_run_folder

TINY = dict(hidden_units=4, embedding_dim=2, iterations=4, eval_every=2, batch_size=32, verbose=0)


def ring(rng, m_count=6, length=200):
    steps = np.where(rng.random((m_count, length - 1)) < 0.7, 1, -1)
    states = np.concatenate([np.zeros((m_count, 1), int), np.cumsum(steps, axis=1)], axis=1) % 3
    return states.astype(np.int8), (steps * np.log(0.7 / 0.3)).astype(np.float32)


def test_cli_defaults_are_the_library_ones():
    # cli/fit.py imports them (runs.defaults loads without Keras): one copy, never two that drift
    from neep.cli.fit import FIT_DEFAULTS as CLI_DEFAULTS

    assert CLI_DEFAULTS is FIT_DEFAULTS


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


def test_gru_defaults_are_the_measured_cpu_ones_and_the_cli_says_so():
    # RNEEP sized to finish on a CPU (benchmarks/rneep_cpu.py, RESULTS-estimators.md "RNEEP on a CPU")
    from neep.cli.fit import GRU_DEFAULTS
    from neep.estimators.runs.defaults import kind_defaults

    gru = kind_defaults("gru")
    assert GRU_DEFAULTS == gru
    # issue 17 ("RNEEP: an interval that covers"): 4000 decayed iterations, the last weights, 2 seeds
    measured = {"batch_size": 256, "learning_rate": 3e-3, "embedding_dim": 8, "jit_compile": True,
                "hidden_units": 32, "iterations": 4000, "final_learning_rate": 3e-4, "restore_best": False,
                "seeds": 2, "data_check": False}
    assert {k: gru[k] for k in measured} == measured
    assert {k: v for k, v in gru.items() if k not in measured} == {k: v for k, v in FIT_DEFAULTS.items()
                                                                  if k not in measured}
    for kind in ("current", "mlp", "embedding"):  # the others keep FIT_DEFAULTS and NEEP's embedding/XLA
        other = kind_defaults(kind)
        assert other["batch_size"] == 4096 and other["learning_rate"] == 1e-3
        assert "embedding_dim" not in other and "jit_compile" not in other


def test_resolve_fit_params_none_means_the_kind_default():
    from neep.estimators.runs.defaults import resolve_fit_params

    params = resolve_fit_params(dict(model="gru", seq_len=32, batch_size=None, learning_rate=None,
                                     iterations=None, hidden_units=None, ema_momentum=None), discrete=True)
    assert (params["batch_size"], params["learning_rate"], params["hidden_units"], params["iterations"],
            params["embedding_dim"], params["jit_compile"]) == (256, 3e-3, 32, 4000, 8, True)
    assert params["ema_momentum"] is None  # None there means no moving average, not the default
    given = resolve_fit_params(dict(model="gru", seq_len=8, batch_size=64, learning_rate=1e-2, jit_compile=False),
                               discrete=True)
    assert (given["batch_size"], given["learning_rate"], given["jit_compile"]) == (64, 1e-2, False)
    paper = resolve_fit_params(dict(model="gru", seq_len=8, final_learning_rate=None, seeds=5, data_check=True,
                                    restore_best=True), discrete=True)
    assert (paper["final_learning_rate"], paper["seeds"], paper["data_check"], paper["restore_best"]) == (
        3e-4, 5, True, True)  # None: the default decay; the others as given
    assert resolve_fit_params({}, discrete=True)["model"] == "embedding"
    assert resolve_fit_params(dict(seq_len=4), discrete=False)["model"] == "mlp"
    assert resolve_fit_params({}, discrete=False)["batch_size"] == 4096


def test_fit_to_folder_gru_uses_its_defaults(tmp_path, rng):
    states, _ = ring(rng)
    est, summary = fit_to_folder(states, tmp_path / "run", plots=False, model="gru", seq_len=4, hidden_units=4,
                                 iterations=2, eval_every=1, verbose=0, data_check=False)
    assert (est.batch_size, est.learning_rate, est.embedding_dim, est.jit_compile) == (256, 3e-3, 8, True)
    assert (est.final_learning_rate, est.restore_best, est.seeds) == (3e-4, False, 2)
    assert summary["model"] == "gru" and np.isfinite(summary["ep_rate"])
    assert (summary["final_learning_rate"], summary["restore_best"]) == (3e-4, False)
    # the last averaged weights are kept: the kept evaluation is the last one of each seed
    assert [k["iteration"] for k in summary["kept"]] == [2, 2]
