"""Honest diagnostics (issue 16): the overfitting check compares like with like; a diverging training stops."""

import numpy as np
import pytest

from neep.estimators import NEEP
from neep.estimators.nn.divergence import TrainingDiverged, diverged
from neep.estimators.stats.diagnostics import THRESHOLD, check_overfitting
from neep.estimators.stats.overfitting import overfitting_like_with_like
from neep.estimators.stats.uncertainty import block_statistics, bootstrap_replicates
from neep.simulators import BeadSpring

REPEATS = 60


def _rate_stderr(d):
    stats = block_statistics(d)
    return float(stats.statistics()["rate"][0]), float(np.std(bootstrap_replicates(stats, 500, seed=0)["rate"]))


def _subsets(seed):
    """Two independent subsets of 13 two-bead trajectories (the monitors' size), their exact per-step EP."""
    beads = BeadSpring(n=2)
    _, ep = beads.simulate(26, 500, seed=seed, exact_ep=True)
    return ep[:13].astype(np.float64), ep[13:].astype(np.float64)


@pytest.mark.parametrize("repeats, most", [
    (15, 2),  # 0.35 expected, + 3 x 0.58
    pytest.param(REPEATS, 4, marks=pytest.mark.slow),  # 1.4 expected, + 3 x 1.2
])
def test_like_with_like_overfitting_is_quiet_on_clean_data_and_sees_a_real_advantage(repeats, most):
    # Clean: network and reference are the truth plus independent per-step noise (sd 0.01,
    # against a per-step EP spread of ~0.2): no in-sample advantage. The subsets' own EP
    # differs by several % (their sampling noise), which cancels in each difference.
    # Reported error: the subset's error / 4 (the full held-out set has ~16x the windows).
    # A one-sided test at THRESHOLD = 2 fires at most 2.3 % of the time; 3 binomial
    # standard errors above that over `repeats` draws gives `most` (see the parameters).
    rng = np.random.default_rng(7)
    quiet, naive_missed, seen = 0, 0, 0
    for seed in range(repeats):
        train, test = _subsets(seed)
        net = [x + rng.normal(0, 0.01, x.shape) for x in (train, test)]
        ref = [x + rng.normal(0, 0.01, x.shape) for x in (train, test)]
        stderr = _rate_stderr(test)[1] / 4
        quiet += overfitting_like_with_like(tuple(net), tuple(ref), scale=1.0, stderr=stderr, replicates=500).flagged
        # A real in-sample advantage of 3 reported errors on the training subset: the paired
        # excess is 3 errors with a paired spread ~ 0.01 x sqrt(2 / 6500) per step, far below:
        overfit = (net[0] + 3 * stderr, net[1])
        seen += overfitting_like_with_like(overfit, tuple(ref), scale=1.0, stderr=stderr, replicates=500).flagged
        # ...which the naive comparison misses below the subsets' own noise (~5x larger).
        (tr, tr_err), (te, te_err) = _rate_stderr(overfit[0]), _rate_stderr(overfit[1])
        naive_missed += not check_overfitting(tr, tr_err, te, te_err).flagged
    assert quiet <= most
    assert seen == repeats
    assert naive_missed > repeats // 2


def test_the_paired_check_keeps_the_threshold():
    a = np.zeros((40, 100))
    same = overfitting_like_with_like((a, a), (a, a), scale=1.0, stderr=0.01, replicates=100)
    assert not same.flagged and same.details["excess"] == 0.0
    assert THRESHOLD == 2.0


def _history(js, stderr=1e-3):
    return [{"iteration": 100 * i, "test_objective": j, "test_objective_stderr": stderr, "ep_rate": 1.0,
             "train_loss": 0.5} for i, j in enumerate(js)]


def test_divergence_needs_a_run_of_falls_far_beyond_the_noise():
    # A flat optimum with evaluation noise of one standard error: runs of 5 falls happen
    # (1/32 per window) but never 10 standard errors below the best (a 10-sigma event).
    rng = np.random.default_rng(3)
    flat = list(-0.9 + rng.normal(0, 1e-3, 400))
    assert all(diverged(_history(flat[:n])) is None for n in range(1, 401))
    runaway = [-0.9, -0.9, -0.95, -1.5, -4.0, -30.0, -4.9e4]
    reason = diverged(_history(runaway))
    assert reason is not None and "fell at each of the last 5 evaluations" in reason
    assert diverged(_history(runaway[:-1])) is None  # only 4 falls so far
    assert "is nan" in diverged(_history([-0.9, float("nan")]))
    bad_loss = _history([-0.9, -0.8])
    bad_loss[-1]["train_loss"] = float("inf")
    assert "training loss" in diverged(bad_loss)


def test_a_diverging_training_stops_with_one_line():
    # A learning rate of 10 blows an MLP up within a few evaluations: the fit must refuse to
    # report anything, with the reason, instead of printing bounds of -1e20.
    x = BeadSpring(n=2).simulate(16, 400, seed=3)
    with pytest.raises(TrainingDiverged, match="training diverged and was stopped") as info:
        NEEP(model="mlp", hidden_units=16, layers=2, iterations=400, eval_every=10, batch_size=256,
             learning_rate=10.0, seed=0, verbose=0, data_check=False, baseline=False).fit(x)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)  # the command shows ValueErrors as one line
