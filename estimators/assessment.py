"""What a fitted ``NEEP`` reports beside its number: interval, baseline, diagnostics.

``assess(config, prepared, exact, measures, models, history, linear)`` runs
once at the end of ``NEEP.fit`` on the ensemble-averaged held-out EP
(``measures.mean_delta_s``: the mean over seeds of each step's estimate;
the slope is linear, so its rate is the mean of the seeds' rates, and by
concavity its objective is at least their mean objective):

* the EP rate with a 95 % interval (block bootstrap over held-out
  trajectories or time blocks, combined with the spread over seeds; see
  ``stats.uncertainty``), and the lower bounds ``1 + J`` and DV with theirs;
* R^2 of the ensemble per-step EP against the exact EP, when known;
* the classical estimators of ``baselines`` (closed-form current and TUR
  for continuous data, plug-in KL for jumps) on the same held-out data,
  paired with the network's estimate; the network below one that measures
  the same quantity is flagged (``stats.diagnostics.check_baselines``);
* the diagnostics of ``stats.diagnostics``, including a refit on 1/2 of the
  training data (``NEEP(data_check=True)``; a kept closed form: on 1/4 and 1/2;
  a trained current network only when it shows an in-sample advantage).

Rates are per unit time (per step when dt is unknown). The result is one
frozen ``Assessment``; ``NEEP`` copies it field by field.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import numpy as np

from .baselines.currents import LinearCurrent, fit_linear_current
from .baselines.estimates import evaluate_baselines
from .data.sets import describe, flat, map_parts
from .nn.prediction import predict_delta_s
from .stats.diagnostics import (
    Diagnostic,
    check_baselines,
    check_blocks,
    check_bound,
    check_calibration,
    check_convergence,
    check_data_growth,
    check_frames,
    check_kept_start,
    check_overfitting,
    without_contradiction,
)
from .stats.exact import ExactValues
from .stats.overfitting import REFIT_IF_EXCESS, overfitting_like_with_like, refit_needed
from .stats.rates import r_squared
from .stats.uncertainty import (
    Interval,
    block_statistics,
    bootstrap_replicates,
    interval,
)
from .training.config import FitConfig
from .training.ensemble import SeedMeasures
from .training.loop import data_parallel_scope, train_one
from .training.noise import closed_form_start
from .training.prepare import PreparedFit
from .training.start import is_cubic
from .training.seeds import seed_for

__all__ = ["Assessment", "assess", "DATA_FRACTIONS", "REFIT_FRACTIONS", "REFIT_IF_EXCESS", "REPLICATES",
           "refit_needed"]

#: Shares of the training data the closed form is refitted on when it is the estimate (cheap: Newton passes).
DATA_FRACTIONS = (0.25, 0.5)
#: Shares a network is refitted on: one, half the data. Only the last step (1/2 -> all) decides the flag
#: (``check_data_growth``) and each refit costs a whole training (the 1/4 refit of the current model, shown
#: but never deciding, took about a third of a nonlinear fit: 40-60 s of 175-220 s on the ring and the
#: swirl). neep fit leaves the check off for gru (benchmarks/RESULTS-estimators.md, "RNEEP: an interval
#: that covers").
REFIT_FRACTIONS = (0.5,)
REPLICATES = 2000


@dataclasses.dataclass(frozen=True)
class Assessment:
    """What a fit reports beside its per-seed numbers (see the ``NEEP`` attributes of the same names).

    Attributes
    ----------
    ep_rate_interval : stats.uncertainty.Interval
        The EP rate with its standard error and 95 % interval.
    entropy_production_rate, entropy_production_rate_std, ep_per_step : float
    bounds : dict of str to Interval
        ``lower_bound_j`` and ``lower_bound_dv``, per unit time.
    lower_bound_j, lower_bound_dv : float
        The same, per step.
    r2 : float or None
    baselines : dict of str to baselines.estimates.Baseline
    diagnostics : list of stats.diagnostics.Diagnostic
    flags : list of str
    """

    ep_rate_interval: Interval
    entropy_production_rate: float
    entropy_production_rate_std: float
    ep_per_step: float
    bounds: dict
    lower_bound_j: float
    lower_bound_dv: float
    r2: float | None
    baselines: dict
    diagnostics: list
    flags: list


def _say(config: FitConfig, text: str) -> None:
    if config.verbose:
        print(text, file=sys.stderr, flush=True)


def _replicates(config: FitConfig, prepared: PreparedFit, delta_s: Any, layout, stats=None) -> dict[str, tuple]:
    """Bootstrap replicates (per unit time) on the held-out block layout, paired by the common seed.

    ``stats``: ``block_statistics(delta_s)`` when the caller has it already.
    """
    stats = block_statistics(delta_s) if stats is None else stats
    if stats.n_blocks != layout:
        raise RuntimeError("held-out block layouts differ")  # same shape in, same blocks out
    scale = 1.0 / ((prepared.seq_len - 1) * prepared.dt)
    reps = bootstrap_replicates(stats, REPLICATES, seed=config.seed)
    values = stats.statistics()
    return {key: (float(values[key][0]) * scale, reps[key] * scale) for key in reps}


def _predict(model, states, prepared: PreparedFit, config: FitConfig):
    return map_parts(lambda s: predict_delta_s(model, s, prepared.seq_len, config.eval_batch_size), states)


def assess(config: FitConfig, prepared: PreparedFit, exact: ExactValues, measures: SeedMeasures, models: list,
           history: list[dict], linear: LinearCurrent | None, start: Any = None) -> Assessment:
    """The estimate, its interval, the baselines and the diagnostics of a trained ensemble.

    Parameters
    ----------
    config, prepared
        The fit's configuration and data.
    exact : ExactValues
        The exact values of the held-out data.
    measures : SeedMeasures
        The seeds measured on all held-out data.
    models : list of NEEPModel
        The seeds' models (the best one's history and the first one are re-used).
    history : list of dict
        The training records of every seed (with ``seed``).
    linear : LinearCurrent or None
        The closed-form linear current of the training data, when fitted.
    start : LinearCurrent, training.start.ClosedFormStart or None
        The networks' closed-form start (a cubic one is refitted by the data check).
    """
    delta_s = measures.mean_delta_s
    train, test = prepared.train, prepared.test
    stats = block_statistics(delta_s)
    layout = stats.n_blocks
    numbers = _replicates(config, prepared, delta_s, layout, stats)
    rate, rate_reps = numbers["rate"]
    seed_rates = measures.rates
    share = _pairs(test) / _pairs(train)
    rate_interval = interval(rate, rate_reps, seed_rates if len(seed_rates) > 1 else None, train_share=share)
    bounds = {key: interval(*numbers[key]) for key in ("lower_bound_j", "lower_bound_dv")}
    windows = exact.windows
    r2 = None if windows is None else r_squared(flat(delta_s), flat(windows))

    diagnostics = [check_blocks(layout, stats.by_trajectory),
                   check_bound(rate, rate_reps, *numbers["lower_bound_j"], upper=rate_interval.high)]
    if prepared.kind != "current" and prepared.seq_len == 2:  # a network of the whole log-ratio of pairs
        diagnostics.append(check_calibration(rate, rate_reps, *numbers["lower_bound_j"]))
    baselines = {}
    if config.baseline:
        _say(config, "baselines: classical estimators on the held-out data")
        current = linear if linear is not None and linear.degree == 1 else None
        # The nonlinear yardstick (a cubic current) only where the start is not a cubic current already: from
        # one, the network keeps it unless training beats it (the drift yardstick took 44 s in 20 dimensions).
        found = evaluate_baselines(train.states, test.states, seq_len=prepared.seq_len, degree=config.baseline_degree,
                                   dt=prepared.dt, mean=prepared.mean, std=prepared.std, n_states=prepared.n_states,
                                   seed=config.seed, replicates=REPLICATES, current=current,
                                   nonlinear=prepared.seq_len == 2 and not is_cubic(start))
        checked = _checked(config, prepared, found)
        baselines = {name: dataclasses.replace(b, checked=name in checked) for name, b in found.items()}
        diagnostics.append(check_baselines(rate, rate_reps, layout, [found[name] for name in checked],
                                           stderr=rate_interval.stderr))
        diagnostics = without_contradiction(diagnostics)

    best = measures.best
    if prepared.kind == "current" and not config.odd and not getattr(test, "metadata", {}).get("jump_data"):
        diagnostics.append(_frames(config, prepared, models[best], delta_s if len(models) == 1 else None))
    seed_history = [r for r in history if r["seed"] == best]
    diagnostics.append(check_convergence(seed_history, rate_interval.sampling_stderr))
    if config.odd:  # the pair's r moves at first order where J is flat: its rise says nothing of the EP's
        diagnostics.append(Diagnostic("start", False, "odd columns: the kept start is not judged by the pair's "
                                      "rate (a trained r 120 per unit time higher on a linear system)", {}))
    else:
        diagnostics.append(check_kept_start(seed_history, rate_interval.stderr))
    kept = [r for r in seed_history if r.get("kept")]
    if kept and prepared.train_sub is not None:  # track_train: the training subset was drawn
        diagnostics.append(_overfitting(config, prepared, models[best], linear, rate_interval.stderr))
    if config.data_check:
        closed_form_only = (prepared.kind == "current" and prepared.noise_variance is None
                            and _kept_starts(history, len(models)))
        overfit = next((d for d in diagnostics if d.name == "overfitting"), None)
        # A kept cubic start is gated as a trained network is (``refit_needed``); a kept linear one refits in seconds.
        gated = prepared.kind == "current" and (not closed_form_only or is_cubic(start))
        if config.odd and _kept_starts(history, len(models)):  # the Gaussian start everywhere: nothing trained
            diagnostics.append(Diagnostic("data", False, "data check: no refit needed (every seed kept the Gaussian "
                                          "closed-form start of odd data)", {"refit": False}))
        elif gated and not refit_needed(overfit):
            diagnostics.append(_data_check_skipped(overfit, "closed-form start" if closed_form_only else "network"))
        else:
            # The refits train at most as long as the first seed did (with patience it may have stopped early).
            trained = max([r["iteration"] for r in history if r["seed"] == 0] or [config.iterations])
            refit = dataclasses.replace(config, iterations=max(1, min(config.iterations, trained)))
            # The held-out EP of the fit itself where it is the first seed's (one seed) or the closed form's.
            own = delta_s if len(models) == 1 or closed_form_only else None
            diagnostics.append(_data_check(refit, prepared, start if is_cubic(start) else linear, layout, models[0],
                                           rate_interval.stderr, closed_form_only=closed_form_only, own=own,
                                           sampling_stderr=rate_interval.sampling_stderr))
    value = rate_interval.value
    return Assessment(
        ep_rate_interval=rate_interval,
        entropy_production_rate=value,
        entropy_production_rate_std=float(np.std(seed_rates, ddof=1)) if len(seed_rates) > 1 else 0.0,
        ep_per_step=value * prepared.dt,
        bounds=bounds,
        lower_bound_j=bounds["lower_bound_j"].value * prepared.dt,
        lower_bound_dv=bounds["lower_bound_dv"].value * prepared.dt,
        r2=r2,
        baselines=baselines,
        diagnostics=diagnostics,
        flags=[d.message for d in diagnostics if d.flagged],
    )


#: The frame check reads at most this many held-out pairs at lag 2, from at least this many trajectories.
FRAME_PAIRS, FRAME_TRAJECTORIES = 1 << 19, 20


def _frames(config: FitConfig, prepared: PreparedFit, model, delta_s: Any) -> Diagnostic:
    """``check_frames``: the best seed's force on held-out frames 1 and 2 steps apart (every other state)."""
    states = prepared.test.states
    if delta_s is None:
        delta_s = _predict(model, states, prepared, config)
    if not isinstance(states, tuple) and states.shape[0] > FRAME_TRAJECTORIES:  # enough to resolve a 5 % drop
        rows = max(FRAME_TRAJECTORIES, min(states.shape[0], FRAME_PAIRS // states.shape[1]))
        states, delta_s = states[:rows], delta_s[:rows]
    states2 = map_parts(lambda s: s[:, ::2], states)
    if min(np.shape(s)[1] for s in (states2 if isinstance(states2, tuple) else (states2,))) < 2:
        return Diagnostic("frames", False, "frame interval: not judged (too few states per trajectory)", {})
    delta2 = _predict(model, states2, prepared, config)
    stats1, stats2 = block_statistics(delta_s), block_statistics(delta2)
    rate, reps = _replicates(config, prepared, delta_s, stats1.n_blocks, stats1)["rate"]
    rate2, reps2 = _replicates(config, prepared, delta2, stats2.n_blocks, stats2)["rate"]
    # Whole trajectories as blocks at both lags: the same draws, paired.
    return check_frames(rate, reps, rate2 / 2.0, reps2 / 2.0, paired=stats1.by_trajectory and stats2.by_trajectory
                        and stats1.n_blocks == stats2.n_blocks)


def _checked(config: FitConfig, prepared: PreparedFit, found: dict) -> list[str]:
    """Baselines that measure what the network measures, and that it did not start from.

    Continuous data: the currents fitted by the NEEP objective (estimates of
    the EP per step, in a span the network contains), and the drift current
    (force inference on cubic features, the nonlinear yardstick above 5
    dimensions); not the degree-1 one
    when the current model starts there (no independent check), and never
    the TUR (a bound only as dt -> 0: at finite dt it can exceed the EP per
    step). Discrete data: the plug-in KL of words as long as the network's
    windows (pairs, or n-words for a window-n RNEEP), when its table is
    sampled well enough (``Baseline.sampled``).
    """
    if prepared.n_states is not None:  # the n-words, and the short words below n (``short_word_length``)
        name = "plugin_kl_pairs" if prepared.seq_len == 2 else f"plugin_kl_{prepared.seq_len}_words"
        shorter = [n for n in found if n.endswith("_words") and int(n.split("_")[2]) < prepared.seq_len]
        return [n for n in [name, *shorter] if n in found and found[n].sampled]
    started = prepared.kind == "current" and config.linear_start
    return [n for n in found if (n == "linear_current" and not started) or n.startswith("current_degree_")
            or n == "drift_current"]


def _pairs(data) -> int:
    return int(np.sum(data.lengths - 1))


def _replicates_free(config: FitConfig, prepared: PreparedFit, delta_s: np.ndarray) -> tuple[float, np.ndarray]:
    """Rate and replicates on a layout of its own (independent data)."""
    stats = block_statistics(delta_s)
    scale = 1.0 / ((prepared.seq_len - 1) * prepared.dt)
    reps = bootstrap_replicates(stats, REPLICATES, seed=config.seed)["rate"] * scale
    return float(stats.statistics()["rate"][0]) * scale, reps


def _data_check_skipped(overfit: Diagnostic, what: str = "network") -> Diagnostic:
    sigmas = overfit.details["excess_sigmas"]
    return Diagnostic("data", False, f"data check: no refit needed (the {what}'s advantage over the linear current "
                      f"is the same on training and held-out data, {sigmas:.1f} standard errors apart)",
                      {"refit": False, "excess_sigmas": float(sigmas)})


def _kept_starts(history: list[dict], seeds: int) -> bool:
    """Whether every seed kept its closed-form start (the evaluation kept is iteration 0)."""
    kept = {r["seed"] for r in history if r.get("kept") and r["iteration"] == 0}
    return len(kept) == seeds


def _overfitting(config: FitConfig, prepared: PreparedFit, model, linear: LinearCurrent | None,
                 stderr: float) -> Diagnostic:
    """The kept network on the training subset against the validation subset, like with like.

    Continuous states: each subset's rate minus the closed-form linear
    current's on the same windows (``stats.overfitting``): the two
    subsets' own sampling noise cancels. Discrete states (no reference that
    cannot overfit): the two rates with their independent errors.
    """
    subsets = (prepared.train_sub, prepared.sub_states)
    deltas = [_predict(model, states, prepared, config) for states in subsets]
    if prepared.n_states is not None:
        (train_rate, train_reps), (test_rate, test_reps) = (_replicates_free(config, prepared, d) for d in deltas)
        return check_overfitting(train_rate, float(np.std(train_reps, ddof=1)), test_rate,
                                 float(np.std(test_reps, ddof=1)))
    if linear is None or linear.degree != 1:
        linear = fit_linear_current(prepared.train.states, mean=prepared.mean, std=prepared.std)
    references = []
    for states, delta in zip(subsets, deltas):
        per_step = linear.delta_s(states)
        n, k = prepared.seq_len - 1, delta.shape[1]
        references.append(per_step[:, : k * n].reshape(delta.shape[0], k, n).sum(axis=2))  # the network's windows
    return overfitting_like_with_like(tuple(deltas), tuple(references), scale=1.0 / (n * prepared.dt),
                                      stderr=stderr, seed=config.seed, replicates=REPLICATES)


def _data_check(config: FitConfig, prepared: PreparedFit, linear: LinearCurrent | None, layout: int,
                first, stderr: float, closed_form_only: bool = False, own: Any = None,
                sampling_stderr: float | None = None) -> Diagnostic:
    """Refit the first seed on half the training data (``REFIT_FRACTIONS``); compare on the same held-out data.

    ``closed_form_only``: every seed kept the closed-form linear start (the
    current model), so the estimate IS the closed form's: refitting the
    closed form on the fractions measures its growth with data exactly, and
    no network is trained (a network refit would keep its start too).
    ``own``: the fit's held-out EP when it is the first seed's (or the kept
    closed form's), instead of predicting it again. ``sampling_stderr``: the
    held-out share of ``stderr`` (``check_data_growth``).
    """
    if closed_form_only and linear is not None:
        return _closed_form_check(config, prepared, linear, layout, stderr, own, sampling_stderr)
    seed = seed_for(config.seed, 0)
    rates = []
    for fraction in REFIT_FRACTIONS:
        try:
            part = prepared.train.split(fraction, min_steps=prepared.seq_len)[0]
        except ValueError:
            continue
        _say(config, f"data check: refit on {fraction:g} of the training data ({describe(part)} states)")
        start = None
        if prepared.kind == "current" and is_cubic(linear):  # a cubic start: refitted
            start = linear.refit(part.states)
        elif prepared.kind == "current" and linear is not None and config.linear_start:
            start = closed_form_start(part.states, prepared.noise_variance, prepared.mean, prepared.std, linear)
        # No training-set tracking in the refits: only their final estimate is used.
        with data_parallel_scope(config.data_parallel):
            model, _ = train_one(config, dataclasses.replace(prepared, train_sub=None), part, seed, None, start)
        rates.append(_replicates(config, prepared, _predict(model, prepared.test.states, prepared, config),
                                 layout)["rate"])
    if not rates:
        return Diagnostic("data", False, "data check skipped: too little training data to refit on fractions")
    own = _predict(first, prepared.test.states, prepared, config) if own is None else own
    rates.append(_replicates(config, prepared, own, layout)["rate"])
    fractions = list(REFIT_FRACTIONS[: len(rates) - 1]) + [1.0]
    return _growth(fractions, rates, stderr, sampling_stderr)


def _closed_form_check(config: FitConfig, prepared: PreparedFit, linear: LinearCurrent, layout: int,
                       stderr: float, own: Any = None, sampling_stderr: float | None = None) -> Diagnostic:
    """The data check of a kept closed-form start: the closed form refitted on fractions, measured as the fit is.

    A cubic start is refitted on 1/2 only (``REFIT_FRACTIONS``: only that step decides; in 20 dimensions
    each refit and its held-out pass took 40 s).
    """
    rates = []
    for fraction in (*(REFIT_FRACTIONS if is_cubic(linear) else DATA_FRACTIONS), 1.0):
        if fraction < 1:
            try:
                part = prepared.train.split(fraction, min_steps=prepared.seq_len)[0]
            except ValueError:
                continue
            _say(config, f"data check: closed form refitted on {fraction:g} of the training data")
            current = (linear.refit(part.states) if is_cubic(linear)
                       else fit_linear_current(part.states, mean=prepared.mean, std=prepared.std, start=linear))
        elif own is not None:  # the fit's own held-out EP: the kept closed form's
            rates.append((fraction, _replicates(config, prepared, own, layout)["rate"]))
            continue
        else:
            current = linear
        delta_s = map_parts(current.delta_s, prepared.test.states)
        rates.append((fraction, _replicates(config, prepared, delta_s, layout)["rate"]))
    if len(rates) < 2:
        return Diagnostic("data", False, "data check skipped: too little training data to refit on fractions")
    return _growth([f for f, _ in rates], [r for _, r in rates], stderr, sampling_stderr)


def _growth(fractions: list, rates: list, stderr: float, sampling_stderr: float | None) -> Diagnostic:
    """``check_data_growth`` of ``(rate, replicates)`` pairs on one held-out layout: the last step's paired error."""
    paired = float(np.std(rates[-1][1] - rates[-2][1], ddof=1))
    return check_data_growth(fractions, [r for r, _ in rates], stderr, sampling_stderr=sampling_stderr,
                             paired_stderr=paired)
