"""``neep predict MODEL PATH... -o OUT``: per-step EP of new trajectories from a trained model.

Parses, reads and checks the input (before TensorFlow loads), calls
``neep.estimators.predict_file`` and prints.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import click

from ._common import check_output_file, user_errors
from .fit import load_input, read_options

__all__ = ["predict", "run_predict"]


def _positive_float(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise click.BadParameter(f"must be > 0, got {value}")
    return value


def run_predict(model_path: str | Path, path, output: str | Path | None = None,
                dt: float | None = None, batch_size: int = 16384, force: bool = True) -> dict:
    """The command's call into the library: ``neep.estimators.predict_file`` (see there), TensorFlow quiet."""
    from .fit import import_tensorflow_quietly

    import_tensorflow_quietly()
    from neep.estimators import predict_file

    return predict_file(model_path, path, output, dt=dt, batch_size=batch_size, force=force)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the EP of every step here, float32: .npy of shape (M, L-1), or .npz with one array "
                   "per trajectory (required for trajectories of different lengths). A model trained on "
                   "windows (fit --seq-len n) gives one value per window of its n states, windows tiling "
                   "each trajectory; the window length is the model's own.")
@click.option("--dt", type=float, default=None, callback=_positive_float,
              help="Time per step. Default: the data's (sidecar PATH.json or time column), else the training "
                   "data's (stored in the model; the output says so).")
@click.option("--batch-size", type=click.IntRange(min=1), default=16384, show_default=True,
              help="Windows per evaluation batch (memory only).")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@read_options
def predict(model: Path, paths: tuple[Path, ...], output: Path | None, dt: float | None, batch_size: int,
            force: bool, key: str | None, columns: str | None, time_column: str | None,
            waiting_time_column: str | None) -> None:
    """Per-step EP of the trajectories in PATHS from MODEL (model.keras of `neep fit`), and their EP rate.

    PATHS: files in any format `neep fit` reads, several, or a folder.
    Discrete states are coded with the training data's labels; a state the
    model never saw is an error.

    \b
    Example:
      neep predict run/model.keras other.npy -o ep.npy
    """
    if not model.exists():
        raise click.BadParameter(f"model file not found: {str(model)!r}", param_hint="MODEL")
    if model.suffix != ".keras":
        raise click.BadParameter(f"{str(model)!r} is not a .keras file written by `neep fit`", param_hint="MODEL")
    if output is not None:
        if output.suffix not in (".npy", ".npz"):
            raise click.BadParameter(f"{str(output)!r} must end in .npy or .npz", param_hint="-o/--output")
        check_output_file(output, force)
    data = load_input(paths, dt, key=key, columns=columns, time_column=time_column,
                      waiting_time_column=waiting_time_column)
    if output is not None and output.suffix == ".npy" and hasattr(data, "parts"):
        raise click.BadParameter("trajectories of different lengths give one array each: write an .npz",
                                 param_hint="-o/--output")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with user_errors():
            result = run_predict(model, data, output, dt=dt, batch_size=batch_size, force=force)
    unit = result["rate_unit"]
    per_step = "" if unit == "per step" else f"; {result['ep_per_step']:.5g} per step"
    if result.get("n_states") is not None:
        from neep.estimators.data.labels import describe_labels

        click.echo(f"states       {describe_labels(result['labels'])} (the model's)")
    if result["seq_len"] > 2:
        click.echo(f"windows      {result['seq_len']} states (the model's), tiling each trajectory")
    if result.get("dt_source") == "model":
        click.echo(f"dt           {result['dt']:.5g}: the training data's (these data carry none; --dt to set it)")
    click.echo(f"EP rate      {result['ep_rate']:.5g} ± {result['ep_rate_stderr']:.2g} {unit} "
               f"(sampling error of these data{per_step}; the model's own training error is not included)")
    if result.get("ep_per_step_full_information") is not None and result["ep_per_step_exact"] is None:
        click.echo(f"exact        unknown: states partly hidden; the full process's "
                   f"{result['ep_per_step_full_information'] / result['dt']:.5g} {unit} is an upper bound")
    if result["ep_per_step_exact"] is not None:
        exact = result["ep_per_step_exact"]
        error = (result["ep_per_step"] - exact) / exact if exact else float("nan")
        what = "exact       " if "exact_reference" not in result else "limit       "
        click.echo(f"{what} {exact / result['dt']:.5g} {unit} (rel. error {error:+.2%})"
                   + (f"; the {result['exact_reference']}" if "exact_reference" in result else ""))
    if result["r2"] is not None:
        click.echo(f"R^2          {result['r2']:.4f} (estimate vs exact EP)")
    if output is not None:
        if result.get("ragged") or output.suffix == ".npz":
            what = f"{result['n_trajectories']} arrays, float32"
        else:
            what = "x".join(str(s) for s in result["shape"]) + " float32"
        click.echo(f"wrote        {output} ({what}) in {time.perf_counter() - start:.0f} s")
