"""What a fitted ``NEEP`` reports beside its number: interval, baseline, diagnostics.

``assess(est, delta_s, ctx)`` runs once at the end of ``NEEP.fit`` on the
ensemble-averaged held-out EP ``delta_s`` (the mean over seeds of each
step's estimate; the slope is linear, so its rate is the mean of the seeds'
rates, and by concavity its objective is at least their mean objective):

* the EP rate with a 95 % interval (block bootstrap over held-out
  trajectories or time blocks, combined with the spread over seeds; see
  ``uncertainty``), and the lower bounds ``1 + J`` and DV with theirs;
* R^2 of the ensemble per-step EP against the exact EP, when known;
* the classical estimators of ``baselines`` (closed-form current and TUR
  for continuous data, plug-in KL for jumps) on the same held-out data,
  paired with the network's estimate; the network below one that measures
  the same quantity is flagged (``diagnostics.check_baselines``);
* the diagnostics of ``diagnostics``, including refits on 1/4 and 1/2 of the
  training data (``NEEP(data_check=True)``).

Rates are per unit time (per step when dt is unknown); all fitted
attributes are set on ``est``.
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np

from .analysis import r_squared
from .baselines import evaluate_baselines
from .diagnostics import (
    Diagnostic,
    check_baselines,
    check_blocks,
    check_bound,
    check_convergence,
    check_data_growth,
    check_overfitting,
)
from .model import predict_delta_s
from .ragged import describe, flat, map_parts
from .uncertainty import block_statistics, bootstrap_replicates, interval

__all__ = ["assess", "DATA_FRACTIONS", "REPLICATES"]

DATA_FRACTIONS = (0.25, 0.5)
REPLICATES = 2000


def _say(est, text: str) -> None:
    if est.verbose:
        print(text, file=sys.stderr, flush=True)


def _replicates(est, delta_s: np.ndarray, layout) -> dict[str, np.ndarray]:
    """Bootstrap replicates (per unit time) on the held-out block layout, paired by the common seed."""
    stats = block_statistics(delta_s)
    if stats.n_blocks != layout:
        raise RuntimeError("held-out block layouts differ")  # same shape in, same blocks out
    scale = 1.0 / ((est.seq_len_ - 1) * est.dt_)
    reps = bootstrap_replicates(stats, REPLICATES, seed=est.seed)
    values = stats.statistics()
    return {key: (float(values[key][0]) * scale, reps[key] * scale) for key in reps}


def assess(est, delta_s: np.ndarray, ctx: dict) -> None:
    """Set the estimate, its interval, the baselines and the diagnostics on a fitted ``est``."""
    test = est.test_
    stats = block_statistics(delta_s)
    layout = stats.n_blocks
    numbers = _replicates(est, delta_s, layout)
    rate, rate_reps = numbers["rate"]
    seed_rates = est.ep_rate_per_seed_
    share = _pairs(test) / _pairs(est.train_)
    est.ep_rate_interval_ = interval(rate, rate_reps, seed_rates if len(seed_rates) > 1 else None, train_share=share)
    est.entropy_production_rate_ = est.ep_rate_interval_.value
    est.entropy_production_rate_std_ = float(np.std(seed_rates, ddof=1)) if len(seed_rates) > 1 else 0.0
    est.ep_per_step_ = est.entropy_production_rate_ * est.dt_
    est.bounds_ = {key: interval(*numbers[key]) for key in ("lower_bound_j", "lower_bound_dv")}
    est.lower_bound_j_ = est.bounds_["lower_bound_j"].value * est.dt_  # per step, as before
    est.lower_bound_dv_ = est.bounds_["lower_bound_dv"].value * est.dt_
    windows = est._exact_windows
    est.r2_ = None if windows is None else r_squared(flat(delta_s), flat(windows))

    diagnostics = [check_blocks(layout, stats.by_trajectory),
                   check_bound(rate, rate_reps, *numbers["lower_bound_j"])]
    est.baselines_ = {}
    if est.baseline:
        _say(est, "baselines: classical estimators on the held-out data")
        current = est.linear_current_ if est.linear_current_ is not None and est.linear_current_.degree == 1 else None
        found = evaluate_baselines(est.train_.states, test.states, seq_len=est.seq_len_, degree=est.baseline_degree,
                                   dt=est.dt_, mean=ctx["mean"], std=ctx["std"], n_states=est.n_states_,
                                   seed=est.seed, replicates=REPLICATES, current=current)
        checked = _checked(est, found)
        est.baselines_ = {name: dataclasses.replace(b, checked=name in checked) for name, b in found.items()}
        diagnostics.append(check_baselines(rate, rate_reps, layout, [found[name] for name in checked]))

    seed_history = [r for r in est.history_ if r["seed"] == est.best_seed_]
    diagnostics.append(check_convergence(seed_history, est.ep_rate_interval_.sampling_stderr))
    kept = [r for r in seed_history if r.get("kept")]
    if kept and kept[0].get("train_ep_rate") is not None and ctx["train_sub"] is not None:
        train_delta = predict_delta_s(est.model_, ctx["train_sub"], est.seq_len_, est.eval_batch_size)
        train_rate, train_reps = _replicates_free(est, train_delta)
        seed_rate, seed_reps = _replicates_free(est, predict_delta_s(
            est.model_, ctx["sub_states"], est.seq_len_, est.eval_batch_size))
        diagnostics.append(check_overfitting(train_rate, float(np.std(train_reps, ddof=1)),
                                             seed_rate, float(np.std(seed_reps, ddof=1))))
    if est.data_check:
        diagnostics.append(_data_check(est, ctx, layout))
    est.diagnostics_ = diagnostics
    est.flags_ = [d.message for d in diagnostics if d.flagged]


def _checked(est, found: dict) -> list[str]:
    """Baselines that measure what the network measures, and that it did not start from.

    Continuous data: the currents fitted by the NEEP objective (estimates of
    the EP per step, in a span the network contains); not the degree-1 one
    when the current model starts there (no independent check), and never
    the TUR (a bound only as dt -> 0: at finite dt it can exceed the EP per
    step). Discrete data: the plug-in KL of words as long as the network's
    windows (pairs, or n-words for a window-n RNEEP), when its table is
    sampled well enough (``Baseline.sampled``).
    """
    if est.n_states_ is not None:
        name = "plugin_kl_pairs" if est.seq_len_ == 2 else f"plugin_kl_{est.seq_len_}_words"
        return [name] if name in found and found[name].sampled else []
    started = est.kind_ == "current" and est.linear_start
    return [n for n in found if (n == "linear_current" and not started) or n.startswith("current_degree_")]


def _pairs(data) -> int:
    return int(np.sum(data.lengths - 1))


def _replicates_free(est, delta_s: np.ndarray) -> tuple[float, np.ndarray]:
    """Rate and replicates on a layout of its own (independent data)."""
    stats = block_statistics(delta_s)
    scale = 1.0 / ((est.seq_len_ - 1) * est.dt_)
    reps = bootstrap_replicates(stats, REPLICATES, seed=est.seed)["rate"] * scale
    return float(stats.statistics()["rate"][0]) * scale, reps


def _data_check(est, ctx: dict, layout: int):
    """Refit the first seed on 1/4 and 1/2 of the training data; compare on the same held-out data."""
    from .baselines import fit_linear_current
    from .training import data_parallel_scope, train_one
    from .training import seed_for as _seed_for

    train, test = est.train_, est.test_
    seed = _seed_for(est.seed, 0)
    rates = []
    for fraction in DATA_FRACTIONS:
        try:
            part = train.split(fraction, min_steps=est.seq_len_)[0]
        except ValueError:
            continue
        _say(est, f"data check: refit on {fraction:g} of the training data ({describe(part)} states)")
        linear = None
        if est.kind_ == "current" and est.linear_current_ is not None and est.linear_start:
            linear = fit_linear_current(part.states, mean=ctx["mean"], std=ctx["std"])
        # No training-set tracking in the refits: only their final estimate is used.
        with data_parallel_scope(est.data_parallel):
            model, _ = train_one(est, part, dict(ctx, train_sub=None), seed, None, linear)
        delta_s = map_parts(lambda s: predict_delta_s(model, s, est.seq_len_, est.eval_batch_size), test.states)
        rates.append(_replicates(est, delta_s, layout)["rate"][0])
    if not rates:
        return Diagnostic("data", False, "data check skipped: too little training data to refit on fractions")
    full = map_parts(lambda s: predict_delta_s(est.models_[0], s, est.seq_len_, est.eval_batch_size), test.states)
    value = _replicates(est, full, layout)["rate"][0]
    fractions = list(DATA_FRACTIONS[: len(rates)]) + [1.0]
    return check_data_growth(fractions, rates + [value], est.ep_rate_interval_.stderr)
