"""``neep fit PATH -o DIR``: train a NEEP estimator on a trajectory file, write the run folder.

The command parses, calls ``neep.estimators`` (``load_trajectories``,
``NEEP``) and the plots, writes the results and prints a summary; the science
lives in the package. TensorFlow is imported inside the command only.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import click

from ._common import check_output_dir, user_errors

__all__ = ["fit", "run_fit", "FIT_DEFAULTS", "default_hidden_units", "import_tensorflow_quietly"]

# Defaults chosen so that `neep fit beads.npy -o run/` on the paper's 2-bead data
# (1000 x 10^4 steps) lands within a few % of the exact rate in a few minutes on a
# 2-core CPU (measured: see benchmarks/RESULTS-estimators.md). The paper's sizes
# are one option away: --hidden-units 512 --iterations 50000 --seeds 5.
FIT_DEFAULTS: dict[str, Any] = {
    "batch_size": 4096,
    "learning_rate": 1e-3,
    "weight_decay": 5e-5,
    "iterations": 3000,
    "eval_every": 100,
    "seeds": 1,
    "seq_len": 2,
    "ema_momentum": 0.99,
}
# Hidden units per model kind when --hidden-units is not given (paper: mlp 512,
# embedding 128, gru 128). The MLP default is half the paper's width: 4x fewer
# FLOPs per step, and as accurate on the bead data within the same wall time.
_HIDDEN_DEFAULT = {"mlp": 256, "embedding": 128, "gru": 128}

# Files of a run folder (also the only ones --force replaces in an existing folder).
_RUN_FILES = (
    "model.keras",
    "history.csv",
    "summary.json",
    "convergence.png",
    "ep_scatter.png",
    "cumulative_ep.png",
    "local_ep_map.png",
)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow (and start its devices) with the C++ log lines hidden.

    TensorFlow 2.21 prints oneDNN / CUDA-driver notes from C++ at import and
    at device start-up, even with ``TF_CPP_MIN_LOG_LEVEL=3``. Unless the user
    asked for them (``neep --verbose`` leaves that variable unset), the
    process's stderr file descriptor points at /dev/null meanwhile. Python
    errors still show: they are raised after it is restored.
    """
    if "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") in ("", "0"):
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2: nothing to hide
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf

        tf.config.list_logical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def default_hidden_units(kind: str) -> int:
    """Hidden units ``neep fit`` uses for a model kind when ``--hidden-units`` is not given."""
    return _HIDDEN_DEFAULT[kind]


def _positive_float(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise click.BadParameter(f"must be > 0, got {value}")
    return value


def _non_negative_float(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not value >= 0:
        raise click.BadParameter(f"must be >= 0, got {value}")
    return value


def _write_history(history: list[dict], path: Path) -> None:
    keys: list[str] = []
    for row in history:
        keys.extend(k for k in row if k not in keys)
    front = [k for k in ("seed", "iteration") if k in keys]
    keys = front + [k for k in keys if k not in front]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys, restval="")
        writer.writeheader()
        for row in history:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in keys})


def _json_value(value: Any) -> Any:
    """Make NumPy scalars/arrays JSON-friendly; NaN/inf become null."""
    import math

    import numpy as np

    if isinstance(value, np.ndarray):
        return [_json_value(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _plot_subset(test: Any, max_steps: int = 500_000) -> tuple[Any, Any]:
    """A prefix of the held-out data (whole trajectories when possible) for the figures."""
    import numpy as np

    m_count, length = test.states.shape[:2]
    if length >= max_steps:
        states = np.asarray(test.states[:1, :max_steps])
        exact = None if test.exact_ep is None else np.asarray(test.exact_ep[:1, : max_steps - 1])
    else:
        count = max(1, min(m_count, max_steps // length))
        states = np.asarray(test.states[:count])
        exact = None if test.exact_ep is None else np.asarray(test.exact_ep[:count])
    return states, exact


def _figures(est: Any, test: Any, folder: Path, unit: str) -> list[str]:
    """Write the figures of a fitted estimator into ``folder``; return their names."""
    import numpy as np

    from neep.estimators.callbacks import window_sums
    from neep.estimators.plots import (
        plot_convergence,
        plot_cumulative_ep,
        plot_ep_scatter,
        plot_local_ep_map,
        save_figure,
    )

    written = []
    exact_rate = est.ep_per_step_exact_ / est.dt_ if est.ep_per_step_exact_ is not None else None
    ax = plot_convergence(est.history_, exact=exact_rate, unit=unit)
    save_figure(ax, folder / "convergence.png")
    written.append("convergence.png")
    if test.exact_ep is None:
        return written
    states, exact = _plot_subset(test)
    seq_len = est.seq_len_
    estimated = est.predict(states)
    exact_windows = exact if seq_len == 2 else window_sums(exact, seq_len)
    ax = plot_ep_scatter(estimated, exact_windows,
                         title="Per-step EP: estimated vs exact" if seq_len == 2 else
                         f"EP per window of {seq_len} states: estimated vs exact")
    save_figure(ax, folder / "ep_scatter.png")
    written.append("ep_scatter.png")
    ax = plot_cumulative_ep(estimated, exact_windows, dt=est.dt_ * (seq_len - 1) if est.dt_known_ else 1.0,
                            time_label=None if est.dt_known_ else "step")
    save_figure(ax, folder / "cumulative_ep.png")
    written.append("cumulative_ep.png")
    if seq_len == 2 and not test.discrete and states.ndim == 3 and states.shape[2] == 2:
        import matplotlib.pyplot as plt

        from neep.estimators.analysis import local_ep_rate

        sigma_est, x_edges, y_edges = local_ep_rate(states, estimated, est.dt_, bins=40)
        sigma_exact, _, _ = local_ep_rate(states, exact, est.dt_, bins=(x_edges, y_edges))
        low = float(np.nanmin([np.nanmin(sigma_est), np.nanmin(sigma_exact)]))
        high = float(np.nanmax([np.nanmax(sigma_est), np.nanmax(sigma_exact)]))
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
        plot_local_ep_map(x_edges, y_edges, sigma_est, ax=axes[0], unit=unit, vmin=low, vmax=high,
                          colorbar=False, title="Local EP rate: NEEP (Eq. S10)")
        plot_local_ep_map(x_edges, y_edges, sigma_exact, ax=axes[1], unit=unit, vmin=low, vmax=high,
                          title="Local EP rate: exact EP, same bins")
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
    # --force on a non-empty folder: replace our own files one by one, leave the rest.
    for name in _RUN_FILES:
        old = target / name
        if old.exists() and not (tmp / name).exists():
            old.unlink()
    for item in tmp.iterdir():
        os.replace(item, target / item.name)
    tmp.rmdir()


def run_fit(
    path: str | Path,
    output: str | Path,
    *,
    model: str | None = None,
    hidden_units: int | None = None,
    layers: int | None = None,
    batch_size: int = FIT_DEFAULTS["batch_size"],
    learning_rate: float = FIT_DEFAULTS["learning_rate"],
    weight_decay: float = FIT_DEFAULTS["weight_decay"],
    iterations: int = FIT_DEFAULTS["iterations"],
    eval_every: int = FIT_DEFAULTS["eval_every"],
    seeds: int = FIT_DEFAULTS["seeds"],
    seq_len: int = FIT_DEFAULTS["seq_len"],
    normalize: bool = True,
    dt: float | None = None,
    seed: int = 0,
    precision: str = "float32",
    ema_momentum: float | None = FIT_DEFAULTS["ema_momentum"],
    plots: bool = True,
    verbose: int = 1,
) -> dict:
    """Everything ``neep fit`` does, as a function: fit, then write the run folder.

    Writes ``output/model.keras`` (best seed), ``history.csv``,
    ``summary.json`` and the figures, first into a temporary folder beside
    ``output``, renamed into place at the end (nothing half-written survives
    an error). The caller checks ``output`` beforehand (``check_output_dir``).

    Returns
    -------
    dict
        The summary written to ``summary.json``.

    Raises
    ------
    ValueError
        Bad data or parameters (one line, from ``neep.estimators``).
    """
    import_tensorflow_quietly()
    from neep.estimators import NEEP, load_trajectories

    output = Path(output)
    data = load_trajectories(path, dt=dt)
    kind = model or ("embedding" if data.discrete else "mlp")
    if kind not in _HIDDEN_DEFAULT:
        raise ValueError(f"model must be one of {', '.join(_HIDDEN_DEFAULT)}, got {kind!r}")
    if kind == "embedding" and not data.discrete:
        raise ValueError("--model embedding needs integer (discrete) states, got float data")
    if kind == "mlp" and data.discrete:
        raise ValueError("--model mlp needs float (continuous) states, got integer data (use embedding)")
    data.check_seq_len(seq_len)
    units = hidden_units if hidden_units is not None else default_hidden_units(kind)
    estimator = NEEP(
        model=kind,
        hidden_units=units,
        layers=layers,
        seq_len=seq_len,
        batch_size=batch_size,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        iterations=iterations,
        eval_every=eval_every,
        seeds=seeds,
        normalize=normalize,
        seed=seed,
        verbose=verbose,
        precision="mixed_bfloat16" if precision == "bfloat16" else "float32",
        ema_momentum=ema_momentum,
    )
    if verbose:
        shape = "x".join(str(s) for s in data.states.shape)
        print(f"neep fit: {path} ({shape}, {'discrete' if data.discrete else 'continuous'} states, "
              f"dt {data.dt:g}{'' if data.dt_known else ' (unknown: rates per step)'}); "
              f"{kind} h with {units} hidden units, {iterations} iterations x {seeds} seed(s)",
              file=sys.stderr, flush=True)
    estimator.fit(data)
    train, test = estimator.train_, estimator.test_  # the halves the fit used (memmap views)

    unit = "per unit time" if estimator.dt_known_ else "per step"
    dt_used = estimator.dt_
    per_step_exact = estimator.ep_per_step_exact_
    error = None
    if per_step_exact is not None and per_step_exact != 0:
        error = (estimator.ep_per_step_ - per_step_exact) / per_step_exact
    summary = {
        "ep_rate": estimator.entropy_production_rate_,
        "ep_rate_std": estimator.entropy_production_rate_std_,
        "ep_rate_per_seed": estimator.ep_rate_per_seed_,
        "ep_rate_exact": data.ep_rate_exact if estimator.dt_known_ else
        (None if per_step_exact is None else per_step_exact),
        "ep_per_step": estimator.ep_per_step_,
        "ep_per_step_exact": per_step_exact,
        "relative_error": error,
        "lower_bound_j": estimator.lower_bound_j_ / dt_used,
        "lower_bound_dv": estimator.lower_bound_dv_ / dt_used,
        "r2": estimator.r2_,
        "r2_per_seed": estimator.r2_per_seed_,
        "objective_per_seed": estimator.objective_per_seed_,
        "best_seed": estimator.best_seed_,
        "rate_unit": unit,
        "dt": dt_used,
        "dt_known": estimator.dt_known_,
        "model": kind,
        "hidden_units": units,
        "layers": layers,
        "seq_len": seq_len,
        "iterations": iterations,
        "eval_every": eval_every,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "weight_decay": weight_decay,
        "seeds": seeds,
        "seed": seed,
        "normalize": normalize,
        "precision": precision,
        "ema_momentum": ema_momentum,
        "data": str(path),
        "shape": list(data.states.shape),
        "train_shape": list(train.states.shape),
        "test_shape": list(test.states.shape),
        "seconds": estimator.seconds_,
        "notes": (
            "ep_rate, ep_rate_std, ep_rate_per_seed, lower bounds: rate_unit (per unit time when dt "
            "is known, else per step), held-out data; relative_error compares the per-step "
            "estimate with ep_per_step_exact (the mean exact per-step EP of the held-out data when "
            "the exact EP file exists, else the sidecar's value); ep_rate_exact is the sidecar's "
            "rate of the physical process; r2: per-step estimate vs exact EP, mean over seeds"
        ),
    }
    summary = _json_value(summary)

    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name or 'run'}.", suffix=".tmp", dir=output.parent))
    try:
        estimator.save(tmp / "model.keras")
        _write_history(estimator.history_, tmp / "history.csv")
        figures = _figures(estimator, test, tmp, unit) if plots else []
        summary["figures"] = figures
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        _finish(tmp, output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return summary


def _format_summary(summary: dict, output: Path, seconds: float) -> str:
    unit = summary["rate_unit"]
    lines = []
    rate, std, seeds = summary["ep_rate"], summary["ep_rate_std"], summary["seeds"]
    spread = f" ± {std:.3g} (std over {seeds} seeds)" if seeds > 1 else " (1 seed; --seeds 5 for a spread)"
    lines.append(f"EP rate      {rate:.5g}{spread} {unit}")
    if summary["ep_per_step_exact"] is not None:
        exact_here = summary["ep_per_step_exact"] / summary["dt"]
        line = f"exact        {exact_here:.5g} {unit} (held-out data)"
        if summary["dt_known"] and summary["ep_rate_exact"] is not None and \
                abs(summary["ep_rate_exact"] - exact_here) > 1e-9 * abs(exact_here):
            line += f"; continuous process {summary['ep_rate_exact']:.5g}"
        lines.append(line)
        if summary["relative_error"] is not None:
            lines.append(f"rel. error   {summary['relative_error']:+.2%}")
    else:
        lines.append("exact        unknown (no exact EP beside the data)")
    if summary["r2"] is not None:
        lines.append(f"R^2          {summary['r2']:.4f} (per-step estimate vs exact EP)")
    lines.append(f"lower bounds 1+J {summary['lower_bound_j']:.5g}, DV {summary['lower_bound_dv']:.5g} {unit}")
    files = ", ".join(["model.keras", "history.csv", "summary.json"] + summary.get("figures", []))
    lines.append(f"wrote        {output}/ ({files}) in {seconds:.0f} s")
    return "\n".join(lines)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Run folder to create: model.keras, history.csv, summary.json, figures.")
@click.option("--model", type=click.Choice(["mlp", "embedding", "gru"]), default=None,
              help="Network h. Default: mlp for float states, embedding for integer states; "
                   "gru reads windows of --seq-len states (RNEEP, for partial information).")
@click.option("--hidden-units", type=click.IntRange(min=1), default=None,
              help="Width of h. Default: 256 for mlp (the paper's is 512), 128 for embedding and gru.")
@click.option("--layers", type=click.IntRange(min=1), default=None,
              help="Hidden layers of h. Default: the paper's (mlp 3, embedding 2, gru 1).")
@click.option("--batch-size", type=click.IntRange(min=1), default=FIT_DEFAULTS["batch_size"], show_default=True,
              help="Random (s_t, s_t+1) pairs (or windows) per training step.")
@click.option("--learning-rate", type=float, default=FIT_DEFAULTS["learning_rate"], show_default=True,
              callback=_positive_float, help="Adam learning rate.")
@click.option("--weight-decay", type=float, default=FIT_DEFAULTS["weight_decay"], show_default=True,
              callback=_non_negative_float,
              help="L2 weight decay added to the gradient (PyTorch Adam's, as in the paper).")
@click.option("--iterations", type=click.IntRange(min=1), default=FIT_DEFAULTS["iterations"], show_default=True,
              help="Training steps per seed (the paper: 50000 for the ratchet).")
@click.option("--eval-every", type=click.IntRange(min=1), default=FIT_DEFAULTS["eval_every"], show_default=True,
              help="Evaluate on a fixed held-out subset every this many steps; the best weights by "
                   "held-out objective are kept.")
@click.option("--seeds", type=click.IntRange(min=1), default=FIT_DEFAULTS["seeds"], show_default=True,
              help="Independently initialized networks; the EP rate is their mean +- std (paper: 5).")
@click.option("--seq-len", type=click.IntRange(min=2), default=FIT_DEFAULTS["seq_len"], show_default=True,
              help="States per window: 2 for pairs (NEEP), more for RNEEP windows (with --model gru).")
@click.option("--normalize/--no-normalize", default=True, show_default=True,
              help="Standardize continuous states with training-set statistics (stored in the model).")
@click.option("--dt", type=float, default=None, callback=_positive_float,
              help="Time per step. Default: the sidecar's (PATH.json); 1 if there is none, and rates "
                   "are then per step.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of initialization and sampling.")
@click.option("--precision", type=click.Choice(["float32", "bfloat16"]), default="float32", show_default=True,
              help="Compute precision of the hidden layers (bfloat16: faster on CPUs with bf16 units; "
                   "the output stays float32).")
@click.option("--ema", "ema_momentum", type=float, default=FIT_DEFAULTS["ema_momentum"], show_default=True,
              help="Momentum of the moving average of the weights that is evaluated and kept (a "
                   "steadier estimate than the raw SGD weights); 0 turns it off (the paper's way).")
@click.option("--force", is_flag=True, help="Overwrite the run files in an existing, non-empty folder.")
def fit(path: Path, output: Path, model: str | None, hidden_units: int | None, layers: int | None,
        batch_size: int, learning_rate: float, weight_decay: float, iterations: int, eval_every: int,
        seeds: int, seq_len: int, normalize: bool, dt: float | None, seed: int, precision: str,
        ema_momentum: float, force: bool) -> None:
    """Train a NEEP estimator on the trajectories in PATH (.npy) and report the EP rate.

    Half of the trajectories (or the first half in time, for a single one)
    train the network; the EP rate is measured on the other half: the slope
    of the ensemble-averaged cumulative EP, divided by dt. With an exact EP
    file beside the data (from `neep simulate ... --exact-ep`) the exact
    value, the relative error and R^2 per step are reported too.

    \b
    Example:
      neep simulate bead --n 2 --exact-ep -o beads.npy
      neep fit beads.npy -o run/
    """
    check_output_dir(output, force)
    if not 0 <= ema_momentum < 1:
        raise click.BadParameter(f"must be in [0, 1), got {ema_momentum}", param_hint="--ema")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras' notes about tf.data shuffling etc.
        with user_errors():
            summary = run_fit(
                path, output, model=model, hidden_units=hidden_units, layers=layers,
                batch_size=batch_size, learning_rate=learning_rate, weight_decay=weight_decay,
                iterations=iterations, eval_every=eval_every, seeds=seeds, seq_len=seq_len,
                normalize=normalize, dt=dt, seed=seed, precision=precision, ema_momentum=ema_momentum or None,
            )
    click.echo(_format_summary(summary, output, time.perf_counter() - start))
