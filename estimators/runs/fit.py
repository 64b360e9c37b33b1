"""Run folders: what ``neep fit`` and ``neep predict`` do, as functions (files in, files out).

* ``fit_to_folder(data, output, **neep_kwargs)``: load, fit a ``NEEP`` with
  the ``neep fit`` defaults (``FIT_DEFAULTS``), write the run folder.
* ``write_run_folder(est, output)``: the folder of an estimator you fitted
  yourself: ``model.keras`` (best seed), ``history.csv``, ``summary.json``
  (``fit_summary``) and the figures (``write_run_figures``). Everything is
  written into a temporary folder beside ``output`` and renamed into place at
  the end: nothing half-written survives an error or Ctrl-C.

``neep predict`` is ``runs.predict.predict_file``; the defaults are in
``runs.defaults``, the figures in ``runs.figures``, the summary in
``runs.summary``.

Errors are ``ValueError`` (bad data, parameters, existing output) or
``OSError``, with one line that names what is wrong.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ..data.sets import TrajectorySet, as_data, describe
from ..data.trajectories import Trajectories
from ..estimator import NEEP
from .atomic import temporary_folder
from .checkpoint import CHECKPOINT_DIR, RunCheckpoint, check_resume, data_fingerprint
from .defaults import resolve_fit_params
from .figures import write_run_figures
from .summary import fit_summary, unit_of, write_history_csv

__all__ = ["RUN_FILES", "fit_to_folder", "write_run_folder"]

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


def _check_output_dir(output: Path, force: bool) -> None:
    parent = output.parent
    if not parent.exists():
        raise ValueError(f"output folder's parent {str(parent)!r} does not exist")
    if output.exists() and not output.is_dir():
        raise ValueError(f"output {str(output)!r} exists and is not a folder")
    if output.is_dir() and any(output.iterdir()) and not force:
        raise ValueError(f"output {str(output)!r} is not empty (force=True / --force to overwrite)")


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


def write_run_folder(est: NEEP, output: str | Path, *, data: Trajectories | TrajectorySet | None = None,
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
    tmp = temporary_folder(output)
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


def fit_to_folder(data: Any, output: str | Path, *, force: bool = False, dt: float | None = None,
                  plots: bool = True, resume: bool = False, resume_command: str | None = None,
                  large_batch: int | None = None, **neep_kwargs: Any) -> tuple[NEEP, dict]:
    """Everything ``neep fit`` does: fit a ``NEEP`` on ``data``, write the run folder ``output``.

    While it trains, ``output`` holds a partial run (best model so far,
    history so far, ``summary.json`` with ``"status"``, and ``checkpoint/``;
    see ``checkpoint``); Ctrl-C leaves it marked ``"interrupted"`` and
    ``resume=True`` continues it. At the end the complete folder replaces
    the partial files and ``checkpoint/`` is removed. On a CPU, TensorFlow's
    thread pools are set where its runtime has not started yet (``NEEP.fit``).

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
    trajectories = as_data(data, dt=dt)
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
    if not isinstance(params.get("warm_start"), (str, Path, type(None))):
        raise ValueError("fit_to_folder: warm_start must be a path (a .keras file or run folder), recorded in the "
                         "run folder; pass a fitted NEEP or weights to NEEP(warm_start=...) directly")
    est = NEEP(**params, callbacks=callbacks)
    est.config()  # the parameter check, before the (long) fit
    if resume_command is None:
        resume_command = (f"neep fit {trajectories.path} -o {output} --resume" if trajectories.path is not None
                          else f"fit_to_folder(..., {str(output)!r}, resume=True)")
    checkpoint = RunCheckpoint(output, params, fingerprint, "per unit time" if trajectories.dt_known else "per step",
                               resume_command)
    if est.verbose:
        window = f", windows of {est.seq_len} states" if est.seq_len > 2 else ""
        print(f"neep fit: {trajectories.name} ({describe(trajectories)} states, {trajectories.describe_states()}, "
              f"dt {trajectories.dt:g}{'' if trajectories.dt_known else ' (unknown: rates per step)'}); "
              f"{kind} network with {est.hidden_units} hidden units{window}, {est.iterations} iterations x "
              f"{est.seeds} seed(s)"
              + (f"; batch {est.batch_size}, learning rate {est.learning_rate:.3g}, evaluation every "
                 f"{est.eval_every}, moving average {f'{est.ema_momentum:.3g}' if est.ema_momentum else 'off'} "
                 "(large batch: square-root rule)" if large_batch is not None else "")
              + (f"; starting from {est.warm_start}" if isinstance(est.warm_start, (str, Path)) else "")
              + ("\nhint: windows longer than 32 learn better from a shorter window's network (a curriculum in "
                 "n): fit --seq-len 32 first, then this with --warm-start RUN32" if kind == "gru" and est.seq_len > 32
                 and est.warm_start is None and not resume else "")
              + (f"; resuming {output} (seeds done: {len(checkpoint.histories)})" if resume else ""),
              file=sys.stderr, flush=True)
    try:
        est.fit(trajectories, checkpoint=checkpoint)
        summary = write_run_folder(est, output, data=trajectories, force=True, plots=plots)
    except KeyboardInterrupt:
        checkpoint.mark("interrupted")
        raise
    except Exception:
        checkpoint.mark("failed")
        raise
    checkpoint.finish()
    return est, summary

