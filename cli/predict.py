"""``neep predict MODEL PATH -o OUT.npy``: per-step EP of new trajectories from a trained model.

Parses, calls ``neep.estimators.predict_file`` and prints.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import click

from ._common import check_output_file, user_errors

__all__ = ["predict", "run_predict"]


def _positive_float(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise click.BadParameter(f"must be > 0, got {value}")
    return value


def run_predict(model_path: str | Path, path: str | Path, output: str | Path | None = None,
                dt: float | None = None, batch_size: int = 16384, force: bool = True) -> dict:
    """Thin alias of ``neep.estimators.predict_file`` (old API; see there)."""
    from .fit import import_tensorflow_quietly

    import_tensorflow_quietly()
    from neep.estimators import predict_file

    return predict_file(model_path, path, output, dt=dt, batch_size=batch_size, force=force)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the EP of every step here (.npy, float32, shape (M, L-1); for RNEEP "
                   "models one value per window of --seq-len states, windows tiling each trajectory).")
@click.option("--dt", type=float, default=None, callback=_positive_float,
              help="Time per step. Default: the sidecar's (PATH.json), else the training data's.")
@click.option("--batch-size", type=click.IntRange(min=1), default=16384, show_default=True,
              help="Windows per evaluation batch (memory only).")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
def predict(model: Path, path: Path, output: Path | None, dt: float | None, batch_size: int,
            force: bool) -> None:
    """Per-step EP of the trajectories in PATH from MODEL (model.keras of `neep fit`), and their EP rate.

    \b
    Example:
      neep predict run/model.keras other.npy -o ep.npy
    """
    if output is not None:
        if output.suffix != ".npy":
            raise click.BadParameter(f"{str(output)!r} must end in .npy", param_hint="-o/--output")
        check_output_file(output, force)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with user_errors():
            result = run_predict(model, path, output, dt=dt, batch_size=batch_size, force=force)
    unit = result["rate_unit"]
    per_step = "" if unit == "per step" else f"; {result['ep_per_step']:.5g} per step"
    click.echo(f"EP rate      {result['ep_rate']:.5g} ± {result['ep_rate_stderr']:.2g} {unit} "
               f"(sampling error of these data{per_step}; the model's own training error is not included)")
    if result["ep_per_step_exact"] is not None:
        exact = result["ep_per_step_exact"]
        error = (result["ep_per_step"] - exact) / exact if exact else float("nan")
        click.echo(f"exact        {exact / result['dt']:.5g} {unit} (rel. error {error:+.2%})")
    if result["r2"] is not None:
        click.echo(f"R^2          {result['r2']:.4f} (estimate vs exact EP)")
    if output is not None:
        shape = "x".join(str(s) for s in result["shape"])
        click.echo(f"wrote        {output} ({shape} float32) in {time.perf_counter() - start:.0f} s")
