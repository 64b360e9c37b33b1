"""The record of a fit: ``summary.json`` (``fit_summary``) and ``history.csv`` (``write_history_csv``).

One story per run: every rate in both files is in one unit (``rate_unit``:
per unit time when dt is known, else per step), the CSV header names it, and
the summary names the iteration each seed kept, the interval, the exact
values (each with one meaning, see its ``notes``) and the warnings.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..data.labels import labels_to_json
from ..data.sets import shape_of

__all__ = ["fit_summary", "write_history_csv", "json_ready", "unit_of", "read_summary", "RENAMED_IN_0_2"]

#: summary.json keys of neep 0.1 and their names since 0.2. In 0.1, ``ep_rate_exact`` was the target of
#: the estimator (for the bead chain the Euler-Maruyama chain's rate) while the sidecar's ``ep_rate_exact``
#: is the process's rate: one key, two meanings. Now ``ep_rate_exact`` means the process's rate in both.
RENAMED_IN_0_2 = {"ep_rate_exact": "ep_rate_target", "ep_per_step_exact": "ep_per_step_target",
                  "interval_covers_exact": "interval_covers_target", "ep_rate_exact_process": "ep_rate_exact"}

_RATE_KEYS = ("ep_rate", "ep_rate_exact", "lower_bound_j", "lower_bound_dv", "train_ep_rate")


def unit_of(est) -> str:
    """``"per unit time"`` when the fit knew dt, else ``"per step"``."""
    return "per unit time" if est.dt_known_ else "per step"


def json_ready(value: Any) -> Any:
    """NumPy scalars and arrays as plain Python (recursively); NaN and inf become None."""
    if isinstance(value, np.ndarray):
        return [json_ready(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_history_csv(history: list[dict], path: str | Path, unit: str | None = None) -> Path:
    """``history_`` as CSV: ``seed``, ``iteration`` first, then every key seen; None as empty.

    With ``unit`` (``"per unit time"`` / ``"per step"``) the header names it
    beside every rate column, e.g. ``ep_rate [per unit time]``: the rates of
    ``history_`` are in the same unit as ``summary.json``.
    """
    keys: list[str] = []
    for row in history:
        keys.extend(k for k in row if k not in keys)
    front = [k for k in ("seed", "iteration") if k in keys]
    keys = front + [k for k in keys if k not in front]
    path = Path(path)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys, restval="")
        if unit is None:
            writer.writeheader()
        else:
            csv.writer(handle).writerow([f"{k} [{unit}]" if k in _RATE_KEYS else k for k in keys])
        for row in history:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in keys})
    return path


def fit_summary(est, data=None) -> dict:
    """The ``summary.json`` of a fitted estimator (JSON-ready dict).

    ``data``: the whole data set that was split (for ``data`` and ``shape``);
    default: none (those keys are then None). Every rate is in ``rate_unit``.
    """
    unit = unit_of(est)
    dt = est.dt_
    rate = est.ep_rate_interval_
    exact = est.ep_rate_exact_
    error = None if not exact else (rate.value - exact) / exact
    test_process = est.test_.ep_rate_exact if est.test_ is not None else None
    kind = est.kind_
    kept = [{"seed": r["seed"], "iteration": r["iteration"], "test_objective": r["test_objective"],
             "best": bool(r.get("best", True))} for r in est.history_ if r.get("kept")]
    summary = {
        "ep_rate": rate.value,
        "ep_rate_stderr": rate.stderr,
        "ep_rate_interval": [rate.low, rate.high],
        "interval_level": rate.level,
        "ep_rate_sampling_stderr": rate.sampling_stderr,
        "ep_rate_std": est.entropy_production_rate_std_,
        "ep_rate_per_seed": est.ep_rate_per_seed_,
        "ep_rate_target": exact,
        "ep_rate_exact_held_out": est.ep_rate_exact_held_out_,
        "ep_rate_exact": test_process if est.dt_known_ else None,
        "interval_covers_target": None if exact is None else rate.covers(exact),
        "ep_per_step": est.ep_per_step_,
        "ep_per_step_target": est.ep_per_step_exact_,
        "exact_reference": getattr(est, "exact_reference_", "process"),
        "ep_rate_full_information": getattr(est, "ep_rate_full_information_", None),
        "relative_error": error,
        "lower_bound_j": est.bounds_["lower_bound_j"].value,
        "lower_bound_j_stderr": est.bounds_["lower_bound_j"].stderr,
        "lower_bound_dv": est.bounds_["lower_bound_dv"].value,
        "lower_bound_dv_stderr": est.bounds_["lower_bound_dv"].stderr,
        "r2": est.r2_,
        "r2_per_seed": est.r2_per_seed_,
        "baselines": {name: value.as_dict() for name, value in est.baselines_.items()},
        "odd": None if getattr(est, "odd_", None) is None else est.odd_.as_dict(dt),
        "diagnostics": [d.as_dict() for d in est.diagnostics_],
        "flags": est.flags_,
        "noise": None if getattr(est, "noise_", None) is None
        else est.noise_.as_dict(float(np.mean(est.ep_rate_per_seed_))),  # the network's rate: the ensemble mean's
        "kept": kept,
        "start": getattr(est, "start_", None),
        "objective_per_seed": est.objective_per_seed_,
        "best_seed": est.best_seed_,
        "rate_unit": unit,
        "dt": dt,
        "dt_known": est.dt_known_,
        "model": kind,
        "hidden_units": est.hidden_units,
        "layers": est.layers,
        "seq_len": est.seq_len_,
        "iterations": est.iterations,
        "patience": getattr(est, "patience", None),
        "iterations_trained": [max((r["iteration"] for r in est.history_ if r["seed"] == k), default=0)
                               for k in range(len(est.models_))],
        "eval_every": est.eval_every,
        "batch_size": est.batch_size,
        "learning_rate": est.learning_rate,
        "final_learning_rate": getattr(est, "final_learning_rate", None),
        # the start's path; "given" for a NEEP or weights passed in Python (not recorded)
        "warm_start": (None if getattr(est, "warm_start", None) is None
                       else str(est.warm_start) if isinstance(est.warm_start, (str, Path)) else "given"),
        "restore_best": est.restore_best,
        "weight_decay": est.weight_decay,
        "seeds": est.seeds,
        "seed": est.seed,
        "normalize": est.normalize,
        "precision": "bfloat16" if est.precision == "mixed_bfloat16" else est.precision,
        "ema_momentum": est.ema_momentum,
        "test_fraction": est.test_fraction,
        "data_check": est.data_check,
        "baseline_degree": getattr(est, "baseline_degree", 1),
        "data": None if data is None else (data.name if data.path is not None or hasattr(data, "parts")
                                           else "array"),
        "shape": None if data is None else shape_of(data.states),
        "n_trajectories": None if data is None else data.n_trajectories,
        "trajectory_lengths": (data.lengths.tolist() if data is not None and hasattr(data, "parts") else None),
        "train_shape": shape_of(est.train_.states),
        "test_shape": shape_of(est.test_.states),
        "n_states": est.n_states_,
        "labels": labels_to_json(getattr(est, "labels_", None)),
        "jump_data": bool(getattr(data, "metadata", {}).get("jump_data", False)) if data is not None else False,
        "seconds": est.seconds_,
        "notes": (
            "All rates (ep_rate and its interval, lower bounds, baselines, exact values) are in rate_unit "
            "(per unit time when dt is known, else per step) and measured on the held-out data. "
            "ep_rate_interval: 95 % interval, ep_rate +- 1.96 ep_rate_stderr, where ep_rate_stderr combines the "
            "block-bootstrap sampling error of the held-out data (ep_rate_sampling_stderr) and the spread over "
            "seeds (ep_rate_std). ep_rate_target: the exact value this estimator converges to on these data, per "
            "unit time (the sidecar's ep_per_step_exact / dt: for the bead chain the Euler-Maruyama chain's own "
            "value; for hidden states the partial-information limit of the windows, see exact_reference); "
            "ep_per_step_target is the same per step; relative_error and interval_covers_target compare with it. "
            "ep_rate_exact: the sidecar's ep_rate_exact, the rate of the process that generated the data (for the "
            "bead chain the continuous process; it is the same key with the same meaning in both files). "
            "ep_rate_exact_held_out: the same slope "
            "estimator applied to the exact per-step EP of the held-out data (what a perfect network would print "
            "here). n_states and labels (discrete states): code k of the network is labels[k]. shape: the data's "
            "array shape (one per part for a ragged set, whose trajectory_lengths are listed; the rate weights each "
            "trajectory by its time). jump_data: continuous-time jumps, each step one jump, dt the mean waiting "
            "time, so the rate per unit time is the EP per jump over the mean time per jump (stationary Markov jump "
            "process). kept: the evaluation "
            "whose weights each seed kept (best objective J on validation data set aside from the training part, "
            "or, best false, the last evaluation as good after the learning-rate drop; "
            "the held-out data the rate is measured on take no part in that choice). baselines: classical estimators "
            "fitted on the training data and measured on the same held-out data (value, stderr, kind: 'estimate' "
            "or 'lower bound'; checked: compared with the network by the 'baseline' diagnostic). flags: "
            "diagnostics that fired; when any is present, read the estimate with it. diagnostics with note true: "
            "findings printed as notes, not warnings (the bound 1+J above the estimate but inside its interval; "
            "frames: the rate falls on frames 2 steps apart, so the per-step value is a lower bound on the "
            "continuous-time rate). start: the current network's closed-form start (linear_current, "
            "velocity_current: the cubic velocity current, or robust_current) and gain_sigmas, the cubic's "
            "validation J lead over the linear current in paired errors. noise (continuous states): the "
            "localization noise per coordinate (std, its stderr, ratio_to_step: std over the rms noiseless step; "
            "significant), the correction used (mode: --noise; correction: robust or none; robust_current: the "
            "noise-robust closed-form current; network_corrected: the current network was trained with the "
            "noise-corrected objective) and warning: noise significant and the network not corrected, or the "
            "robust current reported in its place."
        ),
    }
    return json_ready(summary)


def read_summary(source: str | Path | dict) -> dict:
    """A ``summary.json`` (path or loaded dict) with the current key names, whichever version wrote it.

    A summary of neep 0.1 (it has ``ep_rate_exact_process``, or ``ep_rate_exact`` without
    ``ep_rate_target``) gets its keys renamed all at once (``RENAMED_IN_0_2``).
    """
    summary = json.loads(Path(source).read_text()) if isinstance(source, (str, Path)) else dict(source)
    old = "ep_rate_exact_process" in summary or ("ep_rate_exact" in summary and "ep_rate_target" not in summary)
    if old:
        summary = {RENAMED_IN_0_2.get(key, key): value for key, value in summary.items()}
    return summary
