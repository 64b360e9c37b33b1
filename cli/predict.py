"""``neep predict MODEL PATH -o OUT.npy``: per-step EP of new trajectories from a trained model."""

from __future__ import annotations

import os
import tempfile
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
                dt: float | None = None, batch_size: int = 16384) -> dict:
    """Everything ``neep predict`` does, as a function.

    Loads the model (``model.keras`` from ``neep fit``) and the trajectories,
    computes the EP of every step (or window, for RNEEP models), writes it to
    ``output`` (float32 ``.npy``, shape ``(M, L-1)`` for pair models; written
    under a temporary name and renamed) when given, and returns a dict with
    ``ep_rate`` (per unit time when dt is known, else per step), ``ep_per_step``,
    ``dt``, ``rate_unit``, ``shape`` and, when the data carry their exact EP,
    ``ep_per_step_exact`` and ``r2``.

    dt: the argument, else the data's sidecar, else the training data's
    (stored in the model).

    Raises
    ------
    ValueError
        Bad model file, bad data, data that do not fit the model.
    """
    from .fit import import_tensorflow_quietly

    import_tensorflow_quietly()
    import numpy as np

    from neep.estimators import NEEP, ep_rate_from_cumulative, load_trajectories, r_squared, window_sums

    model_path = Path(model_path)
    if model_path.suffix != ".keras":
        raise ValueError(f"MODEL must be a .keras file written by `neep fit`, got {str(model_path)!r}")
    data = load_trajectories(path, dt=dt)
    estimator = NEEP.load(model_path)
    if not data.discrete:
        mean = getattr(estimator.model_, "standardize", None)
        expected = None if mean is None else len(mean.mean)
        if expected is not None and data.dim != expected:
            raise ValueError(f"{path}: states have {data.dim} coordinates, the model was trained on {expected}")
    try:
        delta_s = estimator.predict(data, batch_size=batch_size)
    except ValueError:
        raise
    except Exception as error:  # a shape the network cannot take: one line, no traceback
        raise ValueError(f"{path}: the model cannot read these states ({type(error).__name__})") from None
    seq_len = estimator.seq_len_
    if dt is not None or data.dt_known:
        dt_used, unit = data.dt, "per unit time"
    else:
        dt_used = estimator.dt_
        unit = "per unit time" if dt_used != 1.0 else "per step"
    per_step = ep_rate_from_cumulative(delta_s, 1.0) / (seq_len - 1)
    result = {
        "ep_rate": per_step / dt_used,
        "ep_per_step": per_step,
        "dt": dt_used,
        "rate_unit": unit,
        "shape": list(delta_s.shape),
        "seq_len": seq_len,
        "ep_per_step_exact": None,
        "r2": None,
    }
    if data.exact_ep is not None:
        result["ep_per_step_exact"] = float(np.mean(np.asarray(data.exact_ep, dtype=np.float64)))
        result["r2"] = r_squared(delta_s, data.exact_ep if seq_len == 2 else window_sums(data.exact_ep, seq_len))
    elif data.ep_per_step_exact is not None:
        result["ep_per_step_exact"] = data.ep_per_step_exact
    if output is not None:
        output = Path(output)
        handle, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp.npy", dir=output.parent or ".")
        os.close(handle)
        try:
            np.save(tmp, delta_s.astype(np.float32, copy=False))
            os.replace(tmp, output)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return result


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
            result = run_predict(model, path, output, dt=dt, batch_size=batch_size)
    unit = result["rate_unit"]
    click.echo(f"EP rate      {result['ep_rate']:.5g} {unit} ({result['ep_per_step']:.5g} per step)")
    if result["ep_per_step_exact"] is not None:
        exact = result["ep_per_step_exact"]
        error = (result["ep_per_step"] - exact) / exact if exact else float("nan")
        click.echo(f"exact        {exact / result['dt']:.5g} {unit} (rel. error {error:+.2%})")
    if result["r2"] is not None:
        click.echo(f"R^2          {result['r2']:.4f} (estimate vs exact EP)")
    if output is not None:
        shape = "x".join(str(s) for s in result["shape"])
        click.echo(f"wrote        {output} ({shape} float32) in {time.perf_counter() - start:.0f} s")
