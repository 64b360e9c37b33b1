"""RNEEP training options of issue 17: a decaying learning rate, the last weights kept, one refit for windows."""

import numpy as np
import pytest

from neep.estimators import NEEP, make_optimizer
from neep.estimators.assessment import DATA_FRACTIONS, REFIT_FRACTIONS
from neep.estimators.training.config import FitConfig


def test_final_learning_rate_is_checked_and_is_the_last_parameter():
    assert FitConfig().final_learning_rate is None
    assert FitConfig(final_learning_rate=1e-4).final_learning_rate == 1e-4
    for bad in (0.0, -1e-3, True, "1e-3"):
        with pytest.raises(ValueError, match="final_learning_rate"):
            FitConfig(final_learning_rate=bad)
    # new parameters go at the end of both, in the same order
    assert FitConfig.parameter_names()[-2:] == ("final_learning_rate", "warm_start")
    assert list(NEEP().get_params())[-2:] == ["final_learning_rate", "warm_start"]


def test_make_optimizer_decays_geometrically_to_the_final_rate():
    constant = make_optimizer(3e-3)
    assert float(constant.learning_rate) == pytest.approx(3e-3)
    decayed = make_optimizer(3e-3, final_learning_rate=3e-4, steps=100)
    schedule = decayed._learning_rate  # the schedule object, called with the step count
    # float32 schedule arithmetic: relative 1e-6
    assert float(schedule(0)) == pytest.approx(3e-3, rel=1e-6)
    assert float(schedule(50)) == pytest.approx(3e-3 * 0.1**0.5, rel=1e-6)
    assert float(schedule(100)) == pytest.approx(3e-4, rel=1e-6)


def test_windows_keep_the_last_weights_and_refit_on_half_the_data(rng):
    # a tiny 3-state chain, windows of 4: what is checked is the bookkeeping, not the estimate
    states = rng.integers(0, 3, size=(1, 4000)).astype(np.int8)
    est = NEEP(model="gru", seq_len=4, hidden_units=4, embedding_dim=4, batch_size=32, iterations=4, eval_every=2,
               learning_rate=1e-2, final_learning_rate=1e-3, restore_best=False, baseline=False, verbose=0,
               data_check=True).fit(states)
    assert [r["iteration"] for r in est.history_ if r.get("kept")] == [4]
    data = next(d for d in est.diagnostics_ if d.name == "data")
    assert data.details["fractions"] == [*REFIT_FRACTIONS, 1.0] == [0.5, 1.0]
    assert DATA_FRACTIONS == (0.25, 0.5)  # the closed form (cheap) keeps both refits


def test_short_word_length_is_the_longest_well_counted_word_below_the_window():
    from neep.estimators.baselines.estimates import MIN_COUNT_PER_WORD, short_word_length

    assert MIN_COUNT_PER_WORD == 5.0
    # 3^10 * 5 = 295 245 <= 450 001 < 3^11 * 5: the hidden ratchet's training part at n = 32
    assert short_word_length(3, 450_001, 32) == 10
    assert short_word_length(3, 450_001, 8) == 7  # never the window itself
    assert short_word_length(3, 100, 32) is None and short_word_length(3, 10**6, 3) is None


def test_a_window_network_below_the_short_word_plugin_is_flagged():
    # A driven 3-state cycle (Markov: the plug-in KL of 5-words is its EP per step, ln 4 * (0.8 - 0.2) =
    # 0.83 per step), fitted for 2 steps only: the network is near 0, many standard errors below.
    rng = np.random.default_rng(3)
    steps = np.where(rng.random(20_000) < 0.8, 1, -1)
    states = (np.cumsum(steps) % 3).astype(np.int8)[None]
    est = NEEP(model="gru", seq_len=6, hidden_units=4, embedding_dim=4, batch_size=32, iterations=2, eval_every=1,
               verbose=0, data_check=False).fit(states)
    assert "plugin_kl_5_words" in est.baselines_ and est.baselines_["plugin_kl_5_words"].checked
    # 10 000 held-out steps of log-ratio +-ln 4: standard error about 0.011 (1.3 %); 5 % is ~4 of them
    assert est.baselines_["plugin_kl_5_words"].value == pytest.approx(0.6 * np.log(4), rel=0.05)
    baseline = next(d for d in est.diagnostics_ if d.name == "baseline")
    assert baseline.flagged and "plugin kl" in baseline.message


def _tiny_gru(states, seq_len, **kw):
    options = dict(model="gru", hidden_units=4, embedding_dim=4, batch_size=32, iterations=20, eval_every=10,
                   learning_rate=1e-2, weight_decay=0.0, baseline=False, data_check=False, verbose=0)
    return NEEP(seq_len=seq_len, **{**options, **kw}).fit(states)


def test_warm_start_starts_a_longer_window_from_a_fitted_network(rng, tmp_path):
    from neep.estimators.runs.fit import fit_to_folder

    states = rng.integers(0, 3, size=(1, 4000)).astype(np.int8)
    short = _tiny_gru(states, 4)
    start = short.model_.antisymmetric.get_weights()
    # A learning rate of 1e-12 moves no weight by more than ~1e-10 (Adam's step is at most about the rate), so
    # the kept (averaged) network is the start: it was copied in, whichever form the start is given in. atol
    # 1e-5: the float32 moving average rounds each of its 20 updates (relative 6e-8, weights below 2 here).
    for source in (short, [w.copy() for w in start]):
        warm = _tiny_gru(states, 8, warm_start=source, learning_rate=1e-12)
        for got, want in zip(warm.model_.antisymmetric.get_weights(), start):
            np.testing.assert_allclose(got, want, atol=1e-5)
    fresh = _tiny_gru(states, 8, learning_rate=1e-12)  # without it: a fresh network, far from the start
    assert max(np.max(np.abs(a - b)) for a, b in zip(fresh.model_.antisymmetric.get_weights(), start)) > 1e-2
    # from a run folder, as `neep fit --warm-start run/` gives it; recorded in summary.json
    fit_to_folder(states, tmp_path / "short", plots=False, model="gru", seq_len=4, hidden_units=4, embedding_dim=4,
                  batch_size=32, iterations=20, eval_every=10, seeds=1, verbose=0)
    est, summary = fit_to_folder(states, tmp_path / "long", plots=False, model="gru", seq_len=8, hidden_units=4,
                                 embedding_dim=4, batch_size=32, iterations=20, eval_every=10, seeds=1, verbose=0,
                                 learning_rate=1e-12, warm_start=str(tmp_path / "short"))
    saved = NEEP.load(tmp_path / "short" / "model.keras").model_.antisymmetric.get_weights()
    for got, want in zip(est.model_.antisymmetric.get_weights(), saved):
        np.testing.assert_allclose(got, want, atol=1e-5)
    assert summary["warm_start"] == str(tmp_path / "short")


def test_warm_start_refuses_what_cannot_start_the_fit(rng, tmp_path):
    states = rng.integers(0, 3, size=(1, 2000)).astype(np.int8)
    short = _tiny_gru(states, 4)
    with pytest.raises(ValueError, match="warm_start: its network has weights of shapes"):
        _tiny_gru(states, 8, hidden_units=8, warm_start=short)  # other sizes
    with pytest.raises(ValueError, match="a gru model cannot start a embedding fit"):
        _tiny_gru(states, 2, model="embedding", warm_start=short)
    with pytest.raises(ValueError, match="not fitted yet"):
        _tiny_gru(states, 8, warm_start=NEEP(model="gru"))
    with pytest.raises(ValueError, match="no model file or run folder"):
        NEEP(model="gru", warm_start=str(tmp_path / "absent")).config()
    with pytest.raises(ValueError, match="warm_start must be"):
        _tiny_gru(states, 8, warm_start=3.5)


def test_long_windows_without_a_start_get_the_curriculum_hint(rng, tmp_path, capsys):
    from neep.estimators.runs.fit import fit_to_folder

    states = rng.integers(0, 3, size=(1, 3000)).astype(np.int8)
    options = dict(plots=False, model="gru", seq_len=34, hidden_units=4, embedding_dim=4, batch_size=16,
                   iterations=2, eval_every=1, seeds=1, verbose=1, baseline=False)
    fit_to_folder(states, tmp_path / "long", **options)
    assert "hint: windows longer than 32" in capsys.readouterr().err
    fit_to_folder(states, tmp_path / "short", **{**options, "seq_len": 32})
    assert "hint:" not in capsys.readouterr().err
