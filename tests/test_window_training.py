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
    assert FitConfig.parameter_names()[-1] == "final_learning_rate"
    assert list(NEEP().get_params())[-1] == "final_learning_rate"


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
