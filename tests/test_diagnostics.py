"""Diagnostics: each fires when it should and stays quiet when it should."""

import numpy as np
import pytest

from neep.estimators import NEEP, Trajectories
from neep.estimators.stats.diagnostics import (
    check_baseline,
    check_blocks,
    check_bound,
    check_calibration,
    check_convergence,
    check_data_growth,
    check_kept_start,
    check_overfitting,
    without_contradiction,
)


def test_paired_checks_use_the_difference_not_the_shared_noise(rng):
    shared = rng.normal(0, 0.1, size=2000)  # sampling noise both estimates share
    rate_reps = 1.0 + shared
    # 0.03 apart with paired spread 0.005: 6 standard errors, although 0.03 << 0.1 (shared noise)
    base_reps = 1.03 + shared + rng.normal(0, 0.005, size=2000)
    assert check_baseline(1.0, rate_reps, 1.03, base_reps).flagged
    assert not check_baseline(1.0, rate_reps, 1.003, base_reps - 0.027).flagged
    assert check_bound(1.0, rate_reps, 1.03, base_reps).flagged
    assert not check_bound(1.0, rate_reps, 0.97, base_reps - 0.06).flagged
    # 6 paired errors above, but inside the reported interval (upper end 1.04): a note, not a warning
    inside = check_bound(1.0, rate_reps, 1.03, base_reps, upper=1.04)
    assert not inside.flagged and inside.details["note"] and "likely low by 3.0% or more" in inside.message
    outside = check_bound(1.0, rate_reps, 1.03, base_reps, upper=1.02)
    assert outside.flagged and not outside.details["note"] and "above its interval" in outside.message
    assert not check_bound(1.0, rate_reps, 1.003, base_reps - 0.027, upper=1.002).details["note"]  # not significant
    # calibration: the estimate above its bound 1+J, by more than 3 paired errors (here 0.005 each)
    assert check_calibration(1.03, base_reps, 1.0, rate_reps).flagged  # 6 standard errors above
    assert not check_calibration(1.01, base_reps - 0.02, 1.0, rate_reps).flagged  # 2: within the error
    assert not check_calibration(0.97, base_reps - 0.06, 1.0, rate_reps).flagged  # below: check_bound's case
    # 6 errors above, but the excess (0.03) exceeds the estimate (0.01): noise in dS, no bias (see its doc)
    noisy = check_calibration(0.01, base_reps - 1.02, -0.02, rate_reps - 1.0)
    assert not noisy.flagged and "noise" in noisy.message
    assert "likely high, by about 2.9%" in check_calibration(1.03, base_reps, 1.0, rate_reps).message  # 0.03 / 1.03
    # data growth: against the estimate's reported standard error (here 0.02)
    growth = check_data_growth([0.25, 0.5, 1.0], [0.9, 0.97, 1.03], 0.02)
    assert growth.flagged and "still rising with data" in growth.message  # 3 standard errors
    falling = check_data_growth([0.5, 1.0], [1.06, 1.0], 0.02)
    assert falling.flagged and "falling with data" in falling.message
    assert not check_data_growth([0.5, 1.0], [1.0, 1.03], 0.02).flagged  # 1.5 standard errors
    # The held-out share of the error is the difference's own (paired) one where that is larger: a 0.06 drop is
    # 3 errors of a reported 0.02 (all of it sampling), 1.5 when the two fits' paired difference scatters by 0.04;
    # a paired scatter below the reported error leaves the reported error (a 0.03 rise: 1.5 errors, not 3).
    assert check_data_growth([0.5, 1.0], [1.06, 1.0], 0.02, sampling_stderr=0.02, paired_stderr=0.01).flagged
    small = check_data_growth([0.5, 1.0], [1.0, 1.03], 0.02, sampling_stderr=0.02, paired_stderr=0.01)
    assert not small.flagged and small.details["scale"] == pytest.approx(0.02)
    drop = check_data_growth([0.5, 1.0], [1.06, 1.0], 0.02, sampling_stderr=0.02, paired_stderr=0.04)
    assert not drop.flagged and drop.details["scale"] == pytest.approx(0.04)
    # the training-data share (sqrt(0.025^2 - 0.015^2) = 0.02) stays in the scale
    assert check_data_growth([0.5, 1.0], [1.0, 1.07], 0.025, sampling_stderr=0.015,
                             paired_stderr=0.015).details["scale"] == pytest.approx(0.025)
    with pytest.raises(ValueError):
        check_data_growth([1.0], [1.0], 0.02)


def test_unpaired_and_history_checks():
    assert check_overfitting(1.3, 0.05, 1.0, 0.05).flagged
    assert not check_overfitting(1.05, 0.05, 1.0, 0.05).flagged
    assert check_blocks(8, False).flagged and not check_blocks(500, True).flagged
    noise = np.random.default_rng(1).normal(0, 0.01, size=21)
    rising = [{"iteration": 100 * i, "ep_rate": 1.0 + 0.002 * i + noise[i]} for i in range(21)]
    assert check_convergence(rising, stderr=0.01).flagged  # +0.02 over the second half, trend ~ 4 sigma
    assert not check_convergence(rising, stderr=0.05).flagged  # the same rise, below the claimed error
    settled = [{"iteration": 100 * i, "ep_rate": 1.0 + noise[i]} for i in range(21)]
    assert not check_convergence(settled, stderr=0.01).flagged
    # A step up where the learning rate dropped (iteration 1800), flat after it: over the second half of
    # the whole training that reads as a trend; after the drop it is none. A real trend after it still is.
    noise = np.random.default_rng(2).normal(0, 0.01, size=31)
    stepped = [{"iteration": 100 * i, "ep_rate": 1.0 + 0.05 * (i > 18) + noise[i]} for i in range(31)]
    assert check_convergence(stepped, stderr=0.01).flagged
    stepped[18]["learning_rate_drop"] = 0.1
    assert not check_convergence(stepped, stderr=0.01).flagged
    rising_after = [dict(r, ep_rate=r["ep_rate"] + 0.01 * max(i - 18, 0)) for i, r in enumerate(stepped)]
    assert check_convergence(rising_after, stderr=0.01).flagged
    assert "after the learning rate dropped" in check_convergence(rising_after, stderr=0.01).message
    # After the drop a rise must exceed AFTER_DROP_RISE reported errors: the tail (iterations 2400-3000) rises
    # by 0.06, flagged at stderr 0.025 (2.4 errors), not at 0.035 (1.7 errors).
    assert check_convergence(rising_after, stderr=0.025).flagged
    assert not check_convergence(rising_after, stderr=0.035).flagged
    # The first rising history (+0.017 fitted over its second half): 1.1 errors at stderr 0.015 is a trend that
    # matters without a drop, and not after one (the drop at iteration 100 leaves the same second half).
    assert check_convergence(rising, stderr=0.015).flagged
    rising[1]["learning_rate_drop"] = 0.1
    assert not check_convergence(rising, stderr=0.015).flagged
    # A kept start (iteration 0): the rate's rise counts only while the validation J rises with it.
    noise = np.random.default_rng(3).normal(0, 1e-4, size=21)
    start = {"iteration": 0, "ep_rate": 1.0, "kept": True, "test_objective": -0.99, "trained_rate_gain_stderr": 0.005}
    climbing = [start] + [{"iteration": 100 * i, "ep_rate": 1.0 + 0.005 * i,
                           "test_objective": -0.99 + 1e-4 * i + noise[i]} for i in range(1, 21)]
    assert check_convergence(climbing, stderr=0.01).flagged  # J +1e-3 over the half, ~10 of its errors
    # ... and only when the rise (0.05) is resolved on those pairs: 1 paired error of training's rate is not
    unresolved = [dict(r, trained_rate_gain_stderr=0.05) if r["iteration"] == 0 else r for r in climbing]
    assert not check_convergence(unresolved, stderr=0.01).flagged
    falling = [dict(r, test_objective=-0.99 - 1e-4 * r["iteration"] / 100 + noise[i]) for i, r in enumerate(climbing)]
    quiet = check_convergence(falling, stderr=0.01)
    assert not quiet.flagged and "start was kept" in quiet.message
    unkept = [dict(r, kept=False) for r in falling]
    assert check_convergence(unkept, stderr=0.01).flagged  # trained weights kept: the rate's trend alone


def test_a_data_starved_fit_is_flagged():
    # A tiny general MLP trained 40 steps on 16 short 2-bead trajectories: far below the
    # exact rate. Its interval misses the exact value; the diagnostics must say so.
    from neep.simulators import BeadSpring

    beads = BeadSpring(n=2)
    x = beads.simulate(16, 400, seed=3)
    data = Trajectories.from_array(x, dt=beads.dt, exact_ep=beads.stochastic_ep(x),
                                   ep_per_step_exact=beads.ep_per_step)
    est = NEEP(model="mlp", hidden_units=8, layers=1, iterations=40, eval_every=10, batch_size=256,
               learning_rate=1e-3, seed=0, verbose=0).fit(data)
    names = {d.name for d in est.diagnostics_ if d.flagged}
    assert est.entropy_production_rate_ < 0.7 * est.ep_rate_exact_
    assert not est.ep_rate_interval_.covers(est.ep_rate_exact_)
    assert "baseline" in names  # the closed-form linear current is near exact here
    assert est.flags_ and all(isinstance(f, str) for f in est.flags_)
    data = [d for d in est.diagnostics_ if d.name == "data"][0]  # the refits ran
    assert data.details["fractions"] == [0.5, 1.0] and len(data.details["rates"]) == 2  # one network refit


def test_a_kept_start_is_doubted_only_beyond_its_paired_error_and_the_stated_one():
    def history(gain, gain_stderr):
        return [{"iteration": 0, "ep_rate": 1.0, "trained_rate_gain": gain, "trained_rate_gain_stderr": gain_stderr,
                 "trained_iteration": 900}, {"iteration": 100, "ep_rate": 1.1}]

    # 0.2 above the kept start, 10 paired SE, and beyond the rate's stated error 0.05: flagged
    assert check_kept_start(history(0.2, 0.02), 0.05).flagged
    # 10 paired SE but within the stated error (the estimate is not off by more than it says): quiet
    assert not check_kept_start(history(0.04, 0.004), 0.05).flagged
    # beyond the stated error but 2 paired SE (training noise): quiet
    assert not check_kept_start(history(0.2, 0.1), 0.05).flagged
    # the start was not kept: no record of a gain, nothing to judge
    assert not check_kept_start([{"iteration": 0, "ep_rate": 1.0}], 0.05).flagged


def test_an_underfit_network_is_not_also_called_likely_high(rng):
    # The estimate above its bound 1+J by 6 paired errors: "likely high" alone; beside a network below a
    # classical estimate (underfit), the two contradict, and the excess is read as noise in dS.
    shared = rng.normal(0, 0.1, size=2000)
    rate_reps, base_reps = 1.0 + shared, 1.03 + shared + rng.normal(0, 0.005, size=2000)
    calibration = check_calibration(1.03, base_reps, 1.0, rate_reps)
    under = check_baseline(1.03, base_reps, 2.0, base_reps + 0.97)
    assert calibration.flagged and under.flagged
    assert without_contradiction([calibration]) == [calibration]  # alone: kept
    kept = without_contradiction([calibration, under])
    assert kept[1] is under and not kept[0].flagged and "not judged" in kept[0].message


def test_a_bound_inside_the_interval_is_printed_as_a_note_not_a_warning(tmp_path):
    import json
    from pathlib import Path

    from neep.cli._report import format_summary

    summary = json.loads((Path(__file__).parent / "data" / "v0.1" / "summary.json").read_text())
    rate_reps = 1.0 + np.random.default_rng(0).normal(0, 0.01, 2000)
    bound = check_bound(1.0, rate_reps, 1.03, rate_reps + 0.03 + np.random.default_rng(1).normal(0, 0.005, 2000),
                        upper=1.04)
    summary.update(diagnostics=[bound.as_dict()], flags=[], ep_rate_target=None, ep_rate_full_information=None)
    text = format_summary(summary, tmp_path, 1.0)
    assert f"note         {bound.message}" in text.splitlines()
    assert "WARNING" not in text


def test_the_frame_check_notes_a_falling_rate_and_never_warns(rng):
    from neep.estimators.stats.diagnostics import FRAME_NOTE, check_frames

    shared = rng.normal(0, 0.05, size=2000)  # the two lags' shared sampling noise
    rate_reps = 1.0 + shared
    # 10 % lower on frames 2 apart, paired spread 0.01: 10 errors and twice FRAME_NOTE
    falls = check_frames(1.0, rate_reps, 0.9, 0.9 + shared + rng.normal(0, 0.01, 2000))
    assert falls.details["note"] and not falls.flagged and "lower bound" in falls.message
    assert falls.details["drop"] == pytest.approx(0.1)
    # a drop below FRAME_NOTE (2 %: the 2-bead chain at dt 0.01), however significant, is not noted
    assert not check_frames(1.0, rate_reps, 1.0 - FRAME_NOTE / 2.5, rate_reps - 0.02).details["note"]
    # 10 % but within the error of unpaired lags (spread 0.07): not noted
    assert not check_frames(1.0, rate_reps, 0.9, 0.9 + rng.normal(0, 0.05, 2000), paired=False).details["note"]


def test_the_report_prints_a_coordinate_that_does_not_move(tmp_path):
    import json
    from pathlib import Path

    from neep.cli._report import format_summary

    # A constant column has no increments: its noise error is None (it was a TypeError, a traceback after the fit).
    summary = json.loads((Path(__file__).parent / "data" / "v0.1" / "summary.json").read_text())
    summary.update(diagnostics=[], flags=[], ep_rate_target=None, ep_rate_full_information=None,
                   noise={"std": [0.0, 0.0], "std_stderr": [0.0049, None], "ratio_to_step": [0.0, None],
                          "significant": False, "mode": "auto", "correction": "none", "robust_current": None,
                          "warning": False, "network_corrected": False})
    text = format_summary(summary, tmp_path, 1.0)
    assert "0 ± 0.005 (0 % of the step), 0 ± n/a (n/a % of the step)" in text
