"""``neep predict`` as a function call: the EP of every step of new data from a saved model.

``predict_file`` loads a model written by ``neep fit`` (``model.keras``) and
trajectories in any format the readers take, writes the per-step (or
per-window) EP to ``.npy`` (or one array per trajectory to ``.npz``)
atomically, and returns the rate with its sampling error; on data whose
sidecar says the states are hidden it compares with the partial-information
limit (``stats.references``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..data.sets import TrajectorySet, as_data, flat, load_set, per_trajectory, shape_of
from ..data.windows import window_sums
from ..estimator import NEEP
from ..stats.rates import r_squared, rate_per_entry
from ..stats.references import hides_states, partial_reference
from ..stats.uncertainty import block_statistics, bootstrap_replicates
from .atomic import atomic_write

__all__ = ["predict_file", "check_predict_output"]


def _save_npy(array: Any, output: Path) -> None:
    """``array`` to ``output`` (.npy), or a list of arrays to an .npz (``trajectory_0``, ...), atomically."""
    if output.suffix == ".npz":
        arrays = array if isinstance(array, list) else list(array)
        atomic_write(output, lambda tmp: np.savez(tmp, **{f"trajectory_{k}": a for k, a in enumerate(arrays)}))
    else:
        atomic_write(output, lambda tmp: np.save(tmp, array))


def check_predict_output(output: str | Path | None, force: bool, ragged: bool = False) -> Path | None:
    """The output of ``predict_file``: ``.npy`` (one array), ``.npz`` (one array per trajectory)."""
    if output is None:
        return None
    output = Path(output)
    if output.suffix not in (".npy", ".npz"):
        raise ValueError(f"output {str(output)!r} must end in .npy (one array) or .npz (one array per trajectory)")
    if ragged and output.suffix == ".npy":
        raise ValueError(f"trajectories of different lengths give one array each: write them to an .npz, "
                         f"not {str(output)!r}")
    if output.exists() and not force:
        raise ValueError(f"output {str(output)!r} exists (force=True / --force to overwrite)")
    return output


def predict_file(model_path: str | Path, path: Any, output: str | Path | None = None, *,
                 dt: float | None = None, batch_size: int = 16384, force: bool = False,
                 **read_options: Any) -> dict:
    """Everything ``neep predict`` does: per-step EP of ``path`` from a saved model, and its rate.

    Loads the model (``model.keras`` of ``neep fit``) and the trajectories
    (a file of any format, several files or a folder (a ragged set),
    ``Trajectories`` or an array), computes the EP of every step (of every
    window of the model's ``seq_len`` states, tiling each trajectory, for
    window models), writes it to ``output`` when given (float32; ``.npy``
    of shape ``(M, L-1)`` for pair models, or ``.npz`` with one array
    ``trajectory_k`` per trajectory, required for a ragged set; under a
    temporary name, then renamed), and returns a dict with ``ep_rate`` (per
    unit time when dt is known, else per step), ``ep_rate_stderr`` (block
    bootstrap over these data: their sampling error only), ``ep_per_step``,
    ``dt``, ``dt_source`` (``"argument"``, ``"data"`` or ``"model"``: the
    training data's, when these data carry none), ``rate_unit``, ``shape``,
    ``seq_len``, ``n_states`` / ``labels`` (discrete), and, when the data
    carry their exact EP, ``ep_per_step_exact`` and ``r2``.

    Discrete states are coded with the model's labels; a state never seen in
    training is an error. ``read_options``: ``key``, ``columns``,
    ``time_column``, ``waiting_time_column`` (see ``data.readers``). An existing
    ``output`` needs ``force``.
    """
    model_path = Path(model_path)
    if model_path.suffix != ".keras":
        raise ValueError(f"MODEL must be a .keras file written by `neep fit`, got {str(model_path)!r}")
    if not model_path.exists():
        raise ValueError(f"model file not found: {str(model_path)!r}")
    check_predict_output(output, force)
    is_dir = isinstance(path, (str, Path)) and Path(path).is_dir()
    if not isinstance(path, (list, tuple)) and not is_dir and not read_options:
        data = as_data(path, dt=dt)
    else:
        data = load_set(path if isinstance(path, (list, tuple)) else [path], dt=dt, **read_options)
    output = check_predict_output(output, force, ragged=isinstance(data, TrajectorySet))
    estimator = NEEP.load(model_path)
    if not data.discrete:
        standardize = getattr(estimator.model_, "standardize", None)
        expected = None if standardize is None else len(standardize.mean)
        if expected is not None and data.dim != expected:
            raise ValueError(f"{data.name}: states have {data.dim} coordinates, the model was trained on {expected}")
    try:
        delta_s = estimator.predict_parts(data, batch_size=batch_size)
    except ValueError:
        raise
    except Exception as error:  # a shape the network cannot take: one line, no traceback
        raise ValueError(f"{data.name}: the model cannot read these states ({type(error).__name__})") from None
    seq_len = estimator.seq_len_
    if dt is not None or data.dt_known:
        dt_used, unit, source = data.dt, "per unit time", ("argument" if dt is not None else "data")
    else:
        dt_used, source = estimator.dt_, "model"
        unit = "per unit time" if dt_used != 1.0 else "per step"
    per_step = rate_per_entry(delta_s) / (seq_len - 1)
    replicates = bootstrap_replicates(block_statistics(delta_s), 2000, seed=0)["rate"]
    ragged = isinstance(delta_s, tuple)
    result = {
        "ep_rate": per_step / dt_used,
        "ep_rate_stderr": float(np.std(replicates, ddof=1)) / (seq_len - 1) / dt_used,
        "ep_per_step": per_step,
        "dt": dt_used,
        "dt_source": source,
        "rate_unit": unit,
        "shape": shape_of(delta_s),
        "n_trajectories": data.n_trajectories,
        "ragged": ragged,
        "seq_len": seq_len,
        "n_states": estimator.n_states_,
        "labels": None if estimator.n_states_ is None else estimator._labels(),
        "ep_per_step_exact": None,
        "r2": None,
    }
    metadata = getattr(data, "metadata", None) or {}
    if hides_states(metadata):  # the sidecar's EP is the full process's: compare with the limit
        result["ep_per_step_exact"] = partial_reference(metadata, seq_len)
        result["exact_reference"] = f"partial-information limit, windows of {seq_len}"
        result["ep_per_step_full_information"] = data.ep_per_step_exact
    elif data.exact_ep is not None:
        exact = data.exact_ep
        result["ep_per_step_exact"] = float(np.mean(flat(exact).astype(np.float64)))
        windows = exact if seq_len == 2 else (tuple(window_sums(e, seq_len) for e in exact) if ragged
                                              else window_sums(exact, seq_len))
        result["r2"] = r_squared(flat(delta_s), flat(windows))
    elif data.ep_per_step_exact is not None:
        result["ep_per_step_exact"] = data.ep_per_step_exact
    if output is not None:
        if ragged or output.suffix == ".npz":
            _save_npy([a.astype(np.float32, copy=False) for a in per_trajectory(delta_s)], output)
        else:
            _save_npy(delta_s.astype(np.float32, copy=False), output)
    return result
