"""``neep fit PATH -o DIR``: train a NEEP estimator on a trajectory file, write the run folder.

The command parses, calls ``neep.estimators.fit_to_folder`` (the fit, the
summary, the figures and the atomic folder writing live there) and prints a
summary. TensorFlow is imported inside the command only.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import click
from neep.estimators.runs import defaults as _defaults

from ._common import check_output_dir, user_errors
from ._lags import parse_lags_option, run_lags
from ._odd import odd_columns
from ._report import format_summary

__all__ = ["fit", "run_fit", "FIT_DEFAULTS", "GRU_DEFAULTS", "import_tensorflow_quietly", "load_input",
           "check_model_for_data", "read_options"]

# The defaults of `neep fit`, for the help text: neep.estimators.runs.defaults loads without Keras.
FIT_DEFAULTS = _defaults.FIT_DEFAULTS
GRU_DEFAULTS = _defaults.kind_defaults("gru")


def import_tensorflow_quietly() -> None:
    """Import Keras / TensorFlow with TensorFlow's C++ log lines hidden (``neep.estimators.nn.backend.quiet_import``)."""
    from neep.estimators.nn.backend import quiet_import

    quiet_import()


def run_fit(path: str | Path, output: str | Path, *, force: bool = False, dt: float | None = None,
            plots: bool = True, **neep_kwargs: Any) -> dict:
    """The command's call into the library: ``neep.estimators.fit_to_folder``, returning the summary.

    ``precision`` may be ``"bfloat16"``; ``ema_momentum`` 0 or None: no moving average.
    """
    import_tensorflow_quietly()
    from neep.estimators import fit_to_folder

    if "ema_momentum" in neep_kwargs and not neep_kwargs["ema_momentum"]:
        neep_kwargs["ema_momentum"] = None
    return fit_to_folder(path, output, force=force, dt=dt, plots=plots, **neep_kwargs)[1]


def _positive_float(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise click.BadParameter(f"must be > 0, got {value}")
    return value


def _non_negative_float(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not value >= 0:
        raise click.BadParameter(f"must be >= 0, got {value}")
    return value


def load_input(paths: tuple | list, dt: float | None = None, **read_options: Any):
    """Read and check the trajectories of a command (NumPy only, before TensorFlow loads).

    Raises ``click.ClickException`` (one line) for a missing file, an unknown
    format, bad values, uneven times or trajectories of different kinds.
    """
    from neep.estimators.data.sets import load_set

    if not paths:
        raise click.UsageError("give at least one trajectory file (PATH ...)")
    with user_errors():
        return load_set(list(paths), dt=dt, **{k: v for k, v in read_options.items() if v is not None})


def check_model_for_data(data, model: str | None, seq_len: int) -> None:
    """The choices ``NEEP`` would refuse, refused before TensorFlow loads (``click.BadParameter``)."""
    if model == "current" and seq_len != 2:
        raise click.BadParameter(f"the current model reads pairs (--seq-len 2), got {seq_len}; use --model gru "
                                 "or mlp for windows", param_hint="--model")
    if data.discrete and model in ("current", "mlp"):
        raise click.BadParameter(f"model {model!r} needs float (continuous) states, these are "
                                 f"{data.describe_states()} (use embedding or gru)", param_hint="--model")
    if not data.discrete and model == "embedding":
        raise click.BadParameter("model 'embedding' needs discrete states, these are continuous",
                                 param_hint="--model")
    if data.n_steps < seq_len:
        raise click.BadParameter(f"the shortest trajectory has {data.n_steps} states, fewer than one window",
                                 param_hint="--seq-len")
    try:  # the splits NEEP will make (held-out half, then 10 % for validation): views, cheap
        train, _ = data.split(0.5, min_steps=seq_len)
        train.split(0.9, min_steps=max(seq_len, 2))
    except ValueError as error:
        raise click.ClickException(str(error)) from None


def read_options(command):
    """The options that say how to read a trajectory file (shared by fit and predict)."""
    for option in reversed([
        click.option("--key", default=None, help="npz: the array to read (NAME; '*' or 'a,b': several, "
                     "a set of trajectories); HDF5: the dataset path (/group/data). Default: the only one."),
        click.option("--columns", default=None, help="CSV/TSV: the state columns, by header name or 0-based "
                     "index (x,y). Default: every column but the time column."),
        click.option("--time-column", default=None, help="CSV/TSV: the column of times (default: one named t "
                     "or time). Evenly spaced: it sets dt; with one column of discrete states: jump times."),
        click.option("--waiting-time-column", default=None, help="CSV/TSV: a column of waiting times (time "
                     "spent in each state before the next jump; default: one named wait or waiting_time)."),
    ]):
        command = option(command)
    return command


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Run folder to create: model.keras, history.csv, summary.json, figures.")
@click.option("--model", type=click.Choice(["current", "mlp", "embedding", "gru"]), default=None,
              help="Network. Default: current for float states (dS = F(midpoint) . displacement, a "
                   "generalized current: a closed-form linear force plus a neural correction), embedding "
                   "for integer states; mlp is the paper's general dS = h(s,s') - h(s',s); gru reads "
                   "windows of --seq-len states (RNEEP, for partial information).")
@click.option("--hidden-units", type=click.IntRange(min=1), default=None,
              help="Width of the network. Default: 64 for current, 128 for embedding; 256 for mlp "
                   "(the paper's is 512); 32 for gru (the paper's is 128).")
@click.option("--layers", type=click.IntRange(min=1), default=None,
              help="Hidden layers of the network. Default: current 2; the paper's for the others "
                   "(mlp 3, embedding 2, gru 1).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help=f"Random (s_t, s_t+1) pairs (or windows) per training step. Default: "
                   f"{FIT_DEFAULTS['batch_size']}; {GRU_DEFAULTS['batch_size']} windows for gru.")
@click.option("--large-batch", type=click.IntRange(min=1), default=None, metavar="N",
              help="Train with N windows per step (e.g. 65536 on a GPU: 2.2x the samples/s of batch "
                   "4096 on an H200) and rescale the learning rate (x sqrt(N / default batch), the square-root rule "
                   "for Adam), the iterations and evaluation interval (the same windows seen, as often) "
                   "and the moving average (the same horizon in windows) from the model's defaults. "
                   "--learning-rate, --iterations, --eval-every, --ema given as well are kept as given.")
@click.option("--learning-rate", type=float, default=None, callback=_positive_float,
              help=f"Adam learning rate. Default: {FIT_DEFAULTS['learning_rate']:g}; "
                   f"{GRU_DEFAULTS['learning_rate']:g} for gru.")
@click.option("--final-learning-rate", type=float, default=None, callback=_positive_float,
              help="Decay the learning rate geometrically to this over --iterations (give --learning-rate's value "
                   f"for a constant rate). Default: constant; {GRU_DEFAULTS['final_learning_rate']:g} for gru.")
@click.option("--warm-start", type=click.Path(exists=True, path_type=Path), default=None,
              help="Start the network from a fitted one (a run folder of `neep fit` or its model.keras) instead "
                   "of a fresh one: same model and sizes, any --seq-len. For long windows, fit --seq-len 32 "
                   "first and continue from it (a curriculum in n).")
@click.option("--weight-decay", type=float, default=None, callback=_non_negative_float,
              help=f"L2 weight decay added to the gradient (PyTorch Adam's, as in the paper). Default: "
                   f"{FIT_DEFAULTS['weight_decay']:g}; 0 for current (its correction network starts at zero, "
                   "so an L2 term is all its hidden layers would learn from: it kills them).")
@click.option("--iterations", type=click.IntRange(min=1), default=None,
              help="Training steps per seed. Default: current trains until its validation J stops "
                   "improving (--patience), at most 30000 steps (a linear force stops near 1000: its "
                   "closed-form start is exact); 4000 for gru (a GRU of 32 units, embedding 8, XLA: sized "
                   "to finish on a laptop CPU; the last averaged weights are kept), 3000 for mlp and embedding "
                   "(the paper: 50000).")
@click.option("--patience", type=click.IntRange(min=0), default=None,
              help="Once this many evaluations in a row bring no new best validation J, drop the "
                   "learning rate 10x (once, if training beat its start) and stop at the next such "
                   "plateau (--iterations is then a cap). Default: 10 for current and for mlp with --odd "
                   "(both start at a closed form), off for the others; 0: off.")
@click.option("--eval-every", type=click.IntRange(min=1), default=FIT_DEFAULTS["eval_every"], show_default=True,
              help="Evaluate on a fixed held-out subset every this many steps; the best weights by "
                   "held-out objective are kept.")
@click.option("--seeds", type=click.IntRange(min=1), default=FIT_DEFAULTS["seeds"],
              help="Independently initialized networks; the EP rate is their mean, their spread enters the "
                   f"interval (paper: 5). Default: {FIT_DEFAULTS['seeds']}; {GRU_DEFAULTS['seeds']} for gru.")
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
@click.option("--data-parallel", is_flag=True,
              help="Train data parallel over all local devices (GPUs), each batch split across them, "
                   "gradients all-reduced: the same arithmetic as one device. TensorFlow: MirroredStrategy; "
                   "JAX (KERAS_BACKEND=jax): keras.distribution.DataParallel. Several workers: set TF_CONFIG "
                   "(TensorFlow) or KERAS_DISTRIBUTION_JOB_ADDRESSES, _NUM_PROCESSES, _PROCESS_ID (JAX) "
                   "on each and run the same command on each; worker 0 writes -o.")
@click.option("--ema", "ema_momentum", type=float, default=None,
              help=f"Momentum of the moving average of the weights that is evaluated and kept (a "
                   f"steadier estimate than the raw SGD weights). Default: {FIT_DEFAULTS['ema_momentum']:g}; "
                   "0.999 for current; 0 turns it off (the paper's way).")
@click.option("--tensorboard", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write TensorBoard logs (loss, objective, held-out EP rate per evaluation) "
                   "into this folder; view with `tensorboard --logdir DIR`.")
@click.option("--data-check/--no-data-check", default=True,
              help="Refit on 1/2 of the training data (a kept closed-form start: the closed form on 1/4 and "
                   "1/2, in seconds) and warn when the estimate still grows (or falls) with data from 1/2 to all "
                   "of it (about 1x the fit time for one seed). A trained current network is refitted only when "
                   "it does better on its training data than on held-out data (otherwise the refit could only "
                   "measure training noise). Default: on; off for gru.")
@click.option("--baselines/--no-baselines", "baselines", default=True, show_default=True,
              help="Also compute classical estimators on the same held-out data (continuous: closed-form "
                   "current and short-time TUR bound; discrete: plug-in KL of pairs, and of --seq-len words), "
                   "report them, and warn when the network lands below one (it has underfit). Seconds, "
                   "one or two passes over the data.")
@click.option("--baseline-degree", type=click.IntRange(1, 4), default=1, show_default=True,
              help="Degree of the force polynomial of the continuous baselines (2 adds the x_i x_k dx_j "
                   "currents: d^2 (d+1) / 2 more basis currents).")
@click.option("--odd", default=None, metavar="COLUMNS",
              help="Columns odd under time reversal (velocities, momenta), by name or 0-based index (v1,v2): "
                   "the reverse of a step (z, z') is (eps z', eps z), eps flipping them, and the EP is "
                   "r(z, z') - [q(z) + q(z')] / 2 per step (q: the parity log-ratio of one state). Default: "
                   "the sidecar's odd_columns; data whose columns look like velocities are refused without it.")
@click.option("--noise", type=click.Choice(["auto", "robust", "off"]), default="auto", show_default=True,
              help="Localization noise (continuous states; always estimated and reported): robust trains the "
                   "current network with the objective corrected for the noise and also fits the noise-robust "
                   "closed-form current (triples); auto does both when the noise is significant; off never. "
                   "Other networks (mlp, gru) are not corrected. --lags follows it (robust lags).")
@click.option("--start", "start_at", type=click.Choice(["auto", "linear"]), default="auto", show_default=True,
              help="Closed-form start of the current network: auto takes the cubic velocity current (increments "
                   "regressed on cubic features of the midpoint) when its validation J beats the linear "
                   "current's by 2 paired errors; linear always starts at the linear current.")
@click.option("--force", is_flag=True, help="Overwrite the run files in an existing, non-empty folder.")
@click.option("--resume", is_flag=True,
              help="Continue the interrupted fit in -o DIR (Ctrl-C leaves a partial run there): finished "
                   "seeds are kept, the seed in training continues from its last backup with its "
                   "optimizer state. The data and options are the interrupted run's; options given again "
                   "must match them.")
@click.option("--lags", default=None, metavar="LIST|auto",
              help="Also measure the EP rate per unit time on frames k steps apart for each lag k (1,2,4,8; "
                   "auto: 1,2,4,8 where the trajectories are long enough) and extrapolate it to lag 0: the "
                   "continuous-time rate, which a coarse frame interval underestimates. summary.json 'lags', "
                   "rate_vs_lag.png. Each lag costs seconds to a minute with --lag-model velocity (the default). "
                   "With significant localization noise (--noise) every lag is measured by the noise-robust "
                   "current instead.")
@click.option("--lag-model", type=click.Choice(["current", "velocity", "network"]), default="velocity",
              show_default=True,
              help="What measures each lag: the closed form the current network starts from (velocity: "
                   "the linear or a cubic velocity current, whichever validation J prefers at the first lag, "
                   "refitted at the others; seconds, for nonlinear forces up to a minute per lag), the "
                   "closed-form linear current (current: seconds; exact for linear dynamics, far low for "
                   "nonlinear ones), or a network fit per lag with these options (the cost of one fit per "
                   "lag, no data check).")
@read_options
def fit(paths: tuple[Path, ...], output: Path, model: str | None, hidden_units: int | None, layers: int | None,
        batch_size: int | None, large_batch: int | None, learning_rate: float | None, weight_decay: float | None,
        iterations: int | None, patience: int | None, eval_every: int,
        seeds: int, seq_len: int, normalize: bool, dt: float | None, seed: int, precision: str,
        ema_momentum: float | None, data_parallel: bool, tensorboard: Path | None, data_check: bool, baselines: bool,
        baseline_degree: int, odd: str | None, noise: str,
        force: bool, resume: bool, key: str | None, columns: str | None, time_column: str | None,
        waiting_time_column: str | None, lags: str | None = None, lag_model: str = "velocity",
        final_learning_rate: float | None = None, warm_start: Path | None = None, start_at: str = "auto") -> None:
    """Train a NEEP estimator on the trajectories in PATHS and report the EP rate.

    PATHS: one trajectory file (.npy, .npz, HDF5 or CSV/TSV, recognised by
    content), several (trajectories of any lengths: a set), or a folder of
    them. Discrete states may carry any integer or text labels.

    Half of the trajectories (or the first half in time, for a single one)
    train the network (10 % of that half chooses the kept weights); the EP
    rate is measured on the other half: the slope of the ensemble-averaged
    cumulative EP, divided by dt, with a 95 % interval (block bootstrap over
    held-out trajectories, the error the fit inherits from its training
    data, and the spread over seeds). Warnings say when the number is likely
    wrong: still rising (or falling) with data, the lower bound 1+J above
    it, not converged, below the closed-form linear current, overfitting.
    With an exact EP file beside the data (from `neep simulate ...
    --exact-ep`) the exact value, the relative error and R^2 per step are
    reported too.

    \b
    Examples:
      neep simulate bead --n 2 --exact-ep -o beads.npy
      neep fit beads.npy -o run/
      neep fit traj.csv --columns x,y -o run/      # a time column t sets dt
      neep fit a.npy b.csv c.h5 --key /x -o run/   # trajectories of different lengths
      neep fit h.npy --model gru --seq-len 128 --warm-start run32/ -o run128/
    """
    if resume and force:
        raise click.BadParameter("--resume continues a run; --force replaces one: give one of them",
                                 param_hint="--resume")
    if large_batch is not None and batch_size is not None:
        raise click.BadParameter("give --batch-size or --large-batch, not both (--large-batch sets the batch "
                                 "size and rescales the learning rate to it)", param_hint="--large-batch")
    from neep.estimators.training.workers import check_cluster, is_chief, process_count

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    with user_errors():  # TF_CONFIG (TensorFlow) or Keras' KERAS_DISTRIBUTION_* (JAX): several processes
        check_cluster(backend, data_parallel)
        workers = process_count(backend) if data_parallel and backend in ("tensorflow", "jax") else 1
    written_to = output
    if workers > 1 and not is_chief(backend):  # several workers: only worker 0 writes the run folder
        output = Path(tempfile.mkdtemp(prefix="neep-worker-"))
        force = True
    if not resume:
        check_output_dir(output, force)
    elif not (output / "checkpoint" / "state.json").exists():
        raise click.BadParameter(f"{str(output)!r} holds no interrupted run to resume", param_hint="--resume")
    data = load_input(paths, dt, key=key, columns=columns, time_column=time_column,
                      waiting_time_column=waiting_time_column)
    check_model_for_data(data, model, seq_len)
    lag_list = parse_lags_option(lags, data) if lags is not None else None
    odd = odd_columns(data, odd, model)
    if ema_momentum is not None and not 0 <= ema_momentum < 1:
        raise click.BadParameter(f"must be in [0, 1), got {ema_momentum}", param_hint="--ema")
    if tensorboard is not None and not tensorboard.parent.exists():
        raise click.BadParameter(f"folder {str(tensorboard.parent)!r} does not exist", param_hint="--tensorboard")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras' notes about tf.data shuffling etc.
        with user_errors():
            callbacks = None
            if tensorboard is not None:
                import_tensorflow_quietly()
                import keras

                try:  # tf.summary needs the tensorboard package to write logs
                    importlib.import_module("tensorboard")
                except ImportError:
                    raise click.BadParameter("needs the tensorboard package: pip install tensorboard",
                                             param_hint="--tensorboard") from None

                callbacks = [keras.callbacks.TensorBoard(log_dir=str(tensorboard))]
            options = dict(model=model, hidden_units=hidden_units, layers=layers, batch_size=batch_size,
                           learning_rate=learning_rate, final_learning_rate=final_learning_rate,
                           weight_decay=weight_decay, iterations=iterations,
                           eval_every=eval_every, seeds=seeds, seq_len=seq_len, normalize=normalize, seed=seed,
                           precision=precision, ema_momentum=ema_momentum or None, data_check=data_check,
                           data_parallel=data_parallel, patience=patience or None,
                           baseline=baselines, baseline_degree=baseline_degree, odd=odd,
                           noise=noise, warm_start=None if warm_start is None else str(warm_start),
                           cubic_start=start_at == "auto")
            # Not given: the model kind's default (runs.defaults), rescaled with --large-batch.
            ctx = click.get_current_context()
            for name in ("eval_every", "ema_momentum", "weight_decay", "patience", "seeds", "data_check"):
                if ctx.get_parameter_source(name) == click.core.ParameterSource.DEFAULT:
                    del options[name]
            if resume:  # the interrupted run's options, except those given on this command line
                ctx = click.get_current_context()
                given = {"baseline": "baselines"}
                options = {k: v for k, v in options.items()
                           if ctx.get_parameter_source(given.get(k, k)) != click.core.ParameterSource.DEFAULT}
            command = f"neep fit {' '.join(str(p) for p in paths)} -o {output} --resume"
            try:
                if workers > 1 and backend == "jax":  # before any JAX computation
                    from neep.estimators.training.workers import initialize_processes

                    initialize_processes()
                if workers > 1 and backend != "jax":  # TensorFlow: the strategy before any other operation
                    from neep.estimators.training.workers import multi_worker_strategy

                    with multi_worker_strategy().scope():
                        summary = run_fit(data, output, force=force, dt=None, callbacks=callbacks, resume=resume,
                                          resume_command=command, large_batch=large_batch, **options)
                else:
                    summary = run_fit(data, output, force=force, dt=None, callbacks=callbacks, resume=resume,
                                      resume_command=command, large_batch=large_batch, **options)
            except KeyboardInterrupt:
                click.echo(f"neep fit: interrupted; partial run in {output}/ (best model so far, history.csv, "
                           f"summary.json status 'interrupted'); continue with: {command}", err=True)
                sys.exit(130)
    if output != written_to:  # a worker other than the chief
        shutil.rmtree(output, ignore_errors=True)
        click.echo(f"worker done: the chief (worker 0 of {workers}) writes {written_to}/")
        return
    text = format_summary(summary, output, time.perf_counter() - start)
    if lag_list is not None:
        text += "\n" + run_lags(data, output, lag_list, lag_model, seed, baseline_degree, options)
    click.echo(text)

