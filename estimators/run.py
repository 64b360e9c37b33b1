"""Run folders: what ``neep fit`` and ``neep predict`` do, as functions (files in, files out).

* ``fit_to_folder(data, output, **neep_kwargs)``: load, fit a ``NEEP`` with
  the ``neep fit`` defaults (``FIT_DEFAULTS``), write the run folder.
* ``write_run_folder(est, output)``: the folder of an estimator you fitted
  yourself: ``model.keras`` (best seed), ``history.csv``, ``summary.json``
  (``fit_summary``) and the figures (``write_run_figures``). Everything is
  written into a temporary folder beside ``output`` and renamed into place at
  the end: nothing half-written survives an error or Ctrl-C.
* ``predict_file(model, path, output)``: per-step EP of new trajectories
  from a saved model, written as ``.npy`` the same way, and their EP rate.

Errors are ``ValueError`` (bad data, parameters, existing output) or
``OSError``, with one line that names what is wrong.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .analysis import local_ep_rate
from .callbacks import window_sums
from .checkpoint import CHECKPOINT_DIR, RunCheckpoint, check_resume, data_fingerprint
from .data import Trajectories
from .large_batch import SCALED, scale_to_batch
from .estimator import NEEP, as_trajectories
from .ragged import TrajectorySet, describe
from .networks import MODEL_KINDS
from .references import hides_states
from .summary import fit_summary, json_ready, unit_of, write_history_csv

__all__ = [
    "FIT_DEFAULTS",
    "RUN_FILES",
    "default_hidden_units",
    "default_iterations",
    "kind_defaults",
    "resolve_fit_params",
    "fit_to_folder",
    "write_run_folder",
    "fit_summary",
    "write_history_csv",
    "write_run_figures",
    "predict_file",
    "check_predict_output",
    "json_ready",
    "MIN_BIN_COUNT",
]

# Defaults of `neep fit` (and of fit_to_folder), chosen on the accuracy grid
# (benchmarks/accuracy_grid.py, benchmarks/RESULTS-estimators.md): the current model for
# float pairs, lr 1e-3 with a moving average of the weights. NEEP's own defaults are the
# paper's (learning rate 1e-4...); the paper's method and sizes are one option away:
# model="mlp", hidden_units=512, iterations=50000, seeds=5.
FIT_DEFAULTS: dict[str, Any] = {
    "batch_size": 4096,
    "learning_rate": 1e-3,
    "weight_decay": 5e-5,
    "iterations": None,  # per model kind: default_iterations(kind)
    "eval_every": 100,
    "seeds": 1,
    "seq_len": 2,
    "ema_momentum": 0.99,
}
# Hidden units per model kind when not given (paper: mlp 512, embedding 128, gru 128).
# The MLP default is half the paper's width: 4x fewer FLOPs per step, and as accurate
# on the bead data within the same wall time. The GRU's is a quarter (see _KIND_DEFAULTS).
_HIDDEN_DEFAULT = {"current": 128, "mlp": 256, "embedding": 128, "gru": 32}
# Iterations per model kind when not given: the current model starts at its closed-form
# solution and needs fewer (2000 keep the README's main job, data check included, under a
# minute on 2 cores; nonlinear forces may want more, and the convergence check says so).
_ITERATIONS_DEFAULT = {"current": 2000, "mlp": 3000, "embedding": 3000, "gru": 2000}
# Where a model kind's defaults differ from FIT_DEFAULTS (and from NEEP's embedding_dim and
# jit_compile). RNEEP (gru) on a CPU: its step costs ~30x an MLP pair's per sample (a GRU over
# 2 x n states, both orders), so it gets a narrow GRU (32 units: 3x less CPU per window than 128,
# more accurate than 16 at the same time), an embedding of 8 (3..a few states: more adds cost,
# not expressiveness: the embedding feeds a linear map), small batches at a higher learning rate
# (more updates per window seen), and XLA (about 15-20 % less CPU per step on the GRU, and ~2x
# at large batches). Measured on the hidden ratchet, n = 32: benchmarks/rneep_cpu.py and
# benchmarks/RESULTS-estimators.md ("RNEEP on a CPU").
_KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "gru": {"batch_size": 256, "learning_rate": 3e-3, "embedding_dim": 8, "jit_compile": True},
}

# Bins of the local EP map visited by fewer transition midpoints than this are left blank:
# with a handful of steps a bin's value is noise (its relative error is about 1/sqrt(count)).
MIN_BIN_COUNT = 20

# Files of a run folder (also the only ones force=True replaces in an existing folder).
RUN_FILES = (
    "model.keras",
    "history.csv",
    "summary.json",
    "convergence.png",
    "ep_scatter.png",
    "cumulative_ep.png",
    "local_ep_map.png",
)


def default_iterations(kind: str) -> int:
    """Training iterations ``neep fit`` uses for a model kind when none is given."""
    if kind not in _ITERATIONS_DEFAULT:
        raise ValueError(f"model must be one of {', '.join(MODEL_KINDS)}, got {kind!r}")
    return _ITERATIONS_DEFAULT[kind]


def default_hidden_units(kind: str) -> int:
    """Hidden units ``neep fit`` uses for a model kind when none is given."""
    if kind not in _HIDDEN_DEFAULT:
        raise ValueError(f"model must be one of {', '.join(MODEL_KINDS)}, got {kind!r}")
    return _HIDDEN_DEFAULT[kind]


# Parameters for which None means "the kind's default" (ema_momentum=None means no average).
_NONE_MEANS_DEFAULT = ("batch_size", "learning_rate", "iterations", "hidden_units", "embedding_dim", "jit_compile")


def kind_defaults(kind: str) -> dict[str, Any]:
    """Every default ``neep fit`` uses for a model kind: ``FIT_DEFAULTS`` with the per-kind values filled in.

    ``iterations`` and ``hidden_units`` (``default_iterations``,
    ``default_hidden_units``), and the kind's own ``batch_size``,
    ``learning_rate``, ``embedding_dim`` and ``jit_compile`` where they differ
    (gru: 256, 3e-3, 8, XLA on).
    """
    defaults = {**FIT_DEFAULTS, "iterations": default_iterations(kind), "hidden_units": default_hidden_units(kind)}
    defaults.update(_KIND_DEFAULTS.get(kind, {}))
    return defaults


def resolve_fit_params(neep_kwargs: dict[str, Any], discrete: bool, large_batch: int | None = None) -> dict[str, Any]:
    """The ``NEEP`` parameters of a ``neep fit``: ``neep_kwargs`` over the model kind's defaults.

    The kind is ``neep_kwargs["model"]``, else the data's default (embedding
    for discrete states, current for float pairs, mlp for float windows).
    A value of None for a parameter with a default (``batch_size``,
    ``learning_rate``, ``iterations``, ``hidden_units``...) means "the
    default" (``kind_defaults``). ``large_batch``: that many windows per
    step, and the learning rate, iterations, evaluation cadence and moving
    average rescaled from the kind's defaults to match
    (``large_batch.scale_to_batch``); those of them in ``neep_kwargs`` are
    kept as given, and ``batch_size`` must not be given.
    """
    seq_len = neep_kwargs.get("seq_len") or FIT_DEFAULTS["seq_len"]
    kind = neep_kwargs.get("model") or ("embedding" if discrete else ("current" if seq_len == 2 else "mlp"))
    defaults = kind_defaults(kind)
    given = {k: v for k, v in neep_kwargs.items() if not (v is None and k in _NONE_MEANS_DEFAULT)}
    params = {**defaults, **given, "model": kind}
    if large_batch is not None:
        if "batch_size" in given:
            raise ValueError("give batch_size or large_batch, not both (large_batch sets the batch size and "
                             "rescales the learning rate and iterations to it)")
        params = scale_to_batch(params, large_batch, keep=[k for k in SCALED if k in given])
    return params


def _check_output_dir(output: Path, force: bool) -> None:
    parent = output.parent
    if not parent.exists():
        raise ValueError(f"output folder's parent {str(parent)!r} does not exist")
    if output.exists() and not output.is_dir():
        raise ValueError(f"output {str(output)!r} exists and is not a folder")
    if output.is_dir() and any(output.iterdir()) and not force:
        raise ValueError(f"output {str(output)!r} is not empty (force=True / --force to overwrite)")


def _plot_subset(test: Trajectories, max_steps: int = 500_000) -> tuple[np.ndarray, np.ndarray | None]:
    """A prefix of the held-out data (whole trajectories when possible) for the figures.

    A ragged set draws from its largest part (rectangular).
    """
    if isinstance(test, TrajectorySet):
        test = max(test.parts, key=lambda p: p.n_trajectories * p.n_steps)
    m_count, length = test.states.shape[:2]
    if length >= max_steps:
        states = np.asarray(test.states[:1, :max_steps])
        exact = None if test.exact_ep is None else np.asarray(test.exact_ep[:1, : max_steps - 1])
    else:
        count = max(1, min(m_count, max_steps // length))
        states = np.asarray(test.states[:count])
        exact = None if test.exact_ep is None else np.asarray(test.exact_ep[:count])
    return states, exact


def write_run_figures(est: NEEP, folder: str | Path, test: Trajectories | None = None) -> list[str]:
    """Write the figures of a fitted estimator into ``folder``; return their file names.

    ``convergence.png`` (held-out and training-set EP rate against iteration,
    exact value dashed, classical baselines as horizontal lines) always; with the exact per-step EP of ``test``
    (default ``est.test_``, the held-out data of the fit; at most 500,000
    steps of it are drawn) also ``ep_scatter.png``, ``cumulative_ep.png``
    and, for pair models on 2-D continuous states, ``local_ep_map.png``
    (the EP of the transitions whose midpoint falls in a bin, per unit time
    and per unit area of the bin, so the map integrates to the EP rate;
    estimate beside exact on the same bins, equal axes, bins visited by fewer
    than ``MIN_BIN_COUNT`` midpoints left blank).
    """
    from .plots import _pyplot, mark_baselines, mark_estimate, plot_convergence, plot_cumulative_ep, plot_ep_scatter, plot_local_ep_map, save_figure

    folder = Path(folder)
    test = est.test_ if test is None else test
    unit = unit_of(est)
    written = []
    ax = plot_convergence(est.history_, exact=est.ep_rate_exact_, unit=unit, label="validation",
                          title="EP rate during training (validation data) and the final estimate")
    mark_estimate(ax, est.history_, est.ep_rate_interval_)
    mark_baselines(ax, getattr(est, "baselines_", None))
    save_figure(ax, folder / "convergence.png")
    written.append("convergence.png")
    if test is None or test.exact_ep is None or hides_states(getattr(test, "metadata", None)):
        return written  # (hidden states: the ep file is the full process's, not comparable per step)
    states, exact = _plot_subset(test)
    seq_len = est.seq_len_
    estimated = est.predict(states)
    exact_windows = exact if seq_len == 2 else window_sums(exact, seq_len)
    title = ("Per-step EP: estimated vs exact" if seq_len == 2
             else f"EP per window of {seq_len} states: estimated vs exact")
    save_figure(plot_ep_scatter(estimated, exact_windows, title=title), folder / "ep_scatter.png")
    written.append("ep_scatter.png")
    ax = plot_cumulative_ep(estimated, exact_windows, dt=est.dt_ * (seq_len - 1) if est.dt_known_ else 1.0,
                            time_label=None if est.dt_known_ else "step")
    save_figure(ax, folder / "cumulative_ep.png")
    written.append("cumulative_ep.png")
    if seq_len == 2 and not test.discrete and states.ndim == 3 and states.shape[2] == 2:
        sigma_est, x_edges, y_edges = local_ep_rate(states, estimated, est.dt_, bins=40, min_count=MIN_BIN_COUNT)
        sigma_exact, _, _ = local_ep_rate(states, exact, est.dt_, bins=(x_edges, y_edges), min_count=MIN_BIN_COUNT)
        low = float(np.nanmin([np.nanmin(sigma_est), np.nanmin(sigma_exact)]))
        high = float(np.nanmax([np.nanmax(sigma_est), np.nanmax(sigma_exact)]))
        fig, axes = _pyplot().subplots(1, 2, figsize=(10, 4.2), layout="constrained")
        plot_local_ep_map(x_edges, y_edges, sigma_est, ax=axes[0], unit=unit, vmin=low, vmax=high,
                          colorbar=False, title="Local EP rate density: NEEP", equal_aspect=True)
        plot_local_ep_map(x_edges, y_edges, sigma_exact, ax=axes[1], unit=unit, vmin=low, vmax=high,
                          title="Local EP rate density: exact EP, same bins", equal_aspect=True)
        fig.suptitle(f"EP of the steps whose midpoint falls in a bin, {unit} and per unit "
                     f"area (sums to the EP rate); bins with < {MIN_BIN_COUNT} steps blank", fontsize=9)
        save_figure(fig, folder / "local_ep_map.png")
        written.append("local_ep_map.png")
    return written


def _finish(tmp: Path, target: Path) -> None:
    """Move the finished run folder into place (atomic rename for a new or empty folder)."""
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    if not target.exists():
        os.replace(tmp, target)
        return
    # force on a non-empty folder: replace our own files one by one, leave the rest.
    for name in RUN_FILES:
        old = target / name
        if old.exists() and not (tmp / name).exists():
            old.unlink()
    for item in tmp.iterdir():
        os.replace(item, target / item.name)
    tmp.rmdir()


def write_run_folder(est: NEEP, output: str | Path, *, data: Trajectories | None = None,
                     force: bool = False, plots: bool = True) -> dict:
    """Write the run folder of a fitted estimator (see module doc); return the summary.

    An existing non-empty ``output`` needs ``force``: then only the run files
    (``RUN_FILES``) in it are replaced, other files stay.
    """
    if getattr(est, "test_", None) is None:
        raise ValueError("write_run_folder needs an estimator fitted in this session (NEEP.fit)")
    output = Path(output)
    _check_output_dir(output, force)
    summary = fit_summary(est, data)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name or 'run'}.", suffix=".tmp", dir=output.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700; a run folder is an ordinary folder
    try:
        est.save(tmp / "model.keras")
        write_history_csv(est.history_, tmp / "history.csv", unit=unit_of(est))
        summary["figures"] = write_run_figures(est, tmp) if plots else []
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        _finish(tmp, output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return summary


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _with_dt(data: Any, dt: float | None) -> Trajectories:
    """``as_trajectories``, with an explicit ``dt`` overriding a ``Trajectories``' own too."""
    if dt is not None and not (isinstance(dt, (int, float)) and not isinstance(dt, bool) and dt > 0):
        raise ValueError(f"dt must be > 0, got {dt!r}")
    trajectories = as_trajectories(data, dt=dt)
    if dt is not None and isinstance(data, Trajectories):
        trajectories = dataclasses.replace(trajectories, dt=float(dt), dt_known=True)
    elif dt is not None and isinstance(data, TrajectorySet):
        trajectories = TrajectorySet(tuple(dataclasses.replace(p, dt=float(dt), dt_known=True) for p in data.parts))
    return trajectories


def fit_to_folder(data: Any, output: str | Path, *, force: bool = False, dt: float | None = None,
                  plots: bool = True, resume: bool = False, resume_command: str | None = None,
                  large_batch: int | None = None, **neep_kwargs: Any) -> tuple[NEEP, dict]:
    """Everything ``neep fit`` does: fit a ``NEEP`` on ``data``, write the run folder ``output``.

    While it trains, ``output`` holds a partial run (best model so far,
    history so far, ``summary.json`` with ``"status"``, and ``checkpoint/``;
    see ``checkpoint``); Ctrl-C leaves it marked ``"interrupted"`` and
    ``resume=True`` continues it. At the end the complete folder replaces
    the partial files and ``checkpoint/`` is removed.

    Parameters
    ----------
    data : path, Trajectories or array
        A trajectory file (``.npy`` with optional sidecar and exact EP) or data in memory.
    output : path
        Run folder to create (its parent must exist; see ``write_run_folder``).
    force : bool
        Replace the run files of an existing non-empty folder.
    dt : float, optional
        Time per step (default: the sidecar's, else 1 and rates per step).
    plots : bool
        Write the figures.
    resume : bool
        Continue the interrupted fit in ``output``: its stored options are
        used; options passed here must equal them, and the data must be the
        same (``ValueError`` naming the first difference).
    resume_command : str, optional
        The command to print in a partial ``summary.json``.
    large_batch : int, optional
        Train with this many windows per step (e.g. 65536 on a GPU) and the
        kind's learning rate, iterations, evaluation cadence and moving
        average rescaled to match (``resolve_fit_params``); those given in
        ``neep_kwargs`` are kept.
    **neep_kwargs
        ``NEEP`` hyperparameters; the defaults are ``neep fit``'s
        (``FIT_DEFAULTS``, and ``default_hidden_units(kind)``), not NEEP's
        paper defaults. ``precision="bfloat16"`` means ``"mixed_bfloat16"``.

    Returns
    -------
    (NEEP, dict)
        The fitted estimator and the summary written to ``summary.json``.
    """
    output = Path(output)
    stored = None
    if resume:
        stored = RunCheckpoint.stored(output)
        if stored is None:
            raise ValueError(f"--resume: {str(output)!r} holds no interrupted run (no {CHECKPOINT_DIR}/state.json)")
        if dt is None and stored["data"].get("dt_known"):
            dt = stored["data"]["dt"]  # the interrupted run's dt (an explicit one must match it)
    else:
        _check_output_dir(output, force)  # before the (long) fit
    trajectories = _with_dt(data, dt)
    if not resume and force:
        shutil.rmtree(output / CHECKPOINT_DIR, ignore_errors=True)  # an old interrupted run is replaced
    callbacks = neep_kwargs.pop("callbacks", None)
    params = resolve_fit_params(neep_kwargs, trajectories.discrete, large_batch=large_batch)
    kind = params["model"]
    if params.get("precision") == "bfloat16":
        params["precision"] = "mixed_bfloat16"
    fingerprint = data_fingerprint(trajectories)
    if stored is not None:
        params = check_resume(stored, fingerprint, params, {k: params[k] for k in neep_kwargs if k in params})
    est = NEEP(**params, callbacks=callbacks)
    est._check_params()
    if resume_command is None:
        resume_command = (f"neep fit {trajectories.path} -o {output} --resume" if trajectories.path is not None
                          else f"fit_to_folder(..., {str(output)!r}, resume=True)")
    checkpoint = RunCheckpoint(output, params, fingerprint, "per unit time" if trajectories.dt_known else "per step",
                               resume_command)
    est._checkpoint = checkpoint
    if est.verbose:
        window = f", windows of {est.seq_len} states" if est.seq_len > 2 else ""
        print(f"neep fit: {trajectories.name} ({describe(trajectories)} states, {trajectories.describe_states()}, "
              f"dt {trajectories.dt:g}{'' if trajectories.dt_known else ' (unknown: rates per step)'}); "
              f"{kind} network with {est.hidden_units} hidden units{window}, {est.iterations} iterations x "
              f"{est.seeds} seed(s)"
              + (f"; batch {est.batch_size}, learning rate {est.learning_rate:.3g}, evaluation every "
                 f"{est.eval_every}, moving average {f'{est.ema_momentum:.3g}' if est.ema_momentum else 'off'} "
                 "(large batch: square-root rule)" if large_batch is not None else "")
              + (f"; resuming {output} (seeds done: {len(checkpoint.histories)})" if resume else ""),
              file=sys.stderr, flush=True)
    try:
        est.fit(trajectories)
        summary = write_run_folder(est, output, data=trajectories, force=True, plots=plots)
    except KeyboardInterrupt:
        checkpoint.mark("interrupted")
        raise
    except Exception:
        checkpoint.mark("failed")
        raise
    checkpoint.finish()
    est._checkpoint = None
    return est, summary


# ``predict_file`` lives in ``predicting`` (one idea per module); importable from here as before.
from .predicting import check_predict_output, predict_file  # noqa: E402
