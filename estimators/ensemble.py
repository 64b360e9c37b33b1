"""The ensemble of a ``NEEP`` fit: its ``seeds`` networks trained (resumed, stacked), then measured.

``train_seeds`` takes the seeds a checkpoint says finished before an
interruption (``checkpoint.RunCheckpoint``), trains the others, all as one
stacked model when ``training.stacking`` says so (JAX), else one after the
other (``training.train_one``), inside the data-parallel scope, and reports
each finished seed to the checkpoint. ``measure_seeds`` then gives each
seed's numbers on all held-out data (rate, objective J, R^2) and the
ensemble mean of their per-step (per-window) EP, which ``assessment`` reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .analysis import r_squared
from .data import Trajectories
from .model import predict_delta_s
from .objective import objective_numpy
from .ragged import flat, map_parts, rate_per_entry
from .training import data_parallel_scope, seed_for, stacking, train_one, train_stacked

if TYPE_CHECKING:  # pragma: no cover
    from .estimator import NEEP
    from .model import NEEPModel

__all__ = ["train_seeds", "measure_seeds", "seed_numbers"]


def train_seeds(est: NEEP, train: Trajectories, ctx: dict, start_at: Any = None,
                checkpoint: Any = None) -> list[tuple[NEEPModel, list]]:
    """The trained model and training history of each of ``est.seeds`` seeds, in seed order.

    Parameters
    ----------
    est : NEEP
        Its parameters (``seeds``, ``seed``, ``data_parallel``, ...).
    train : Trajectories
        The training part (``fit_data.prepare_fit``).
    ctx : dict
        The training context of ``prepare_fit``.
    start_at : baselines.LinearCurrent or None
        Start of the current model (None: a fresh network).
    checkpoint : checkpoint.RunCheckpoint or None
        Seeds finished earlier are taken from it, each new one is written to it.

    Returns
    -------
    list of (NEEPModel, list of dict)
        One ``(model, history)`` per seed.
    """
    labels = [f"seed {k + 1}/{est.seeds}" for k in range(est.seeds)]
    trained = {}
    if checkpoint is not None:  # resumed: the seeds that finished before the interruption
        trained = {k: done for k in range(est.seeds) if (done := checkpoint.finished(k)) is not None}
    left = [k for k in range(est.seeds) if k not in trained]
    with data_parallel_scope(est.data_parallel):
        if stacking(est, left, checkpoint):  # JAX: the seeds left as one stacked model
            results = train_stacked(est, train, ctx, [seed_for(est.seed, k) for k in left],
                                    [labels[k] for k in left], start_at, checkpoint, indices=left)
            for k, (model, monitor) in zip(left, results):
                trained[k] = (model, monitor.history)
                if checkpoint is not None:
                    checkpoint.seed_done(k, model, monitor.history)
        for k in left:
            if k not in trained:
                model, monitor = train_one(est, train, ctx, seed_for(est.seed, k), labels[k], start_at,
                                           checkpoint=None if checkpoint is None else (checkpoint, k))
                trained[k] = (model, monitor.history)
                if checkpoint is not None:
                    checkpoint.seed_done(k, model, monitor.history)
    return [trained[k] for k in range(est.seeds)]


def seed_numbers(delta_s: Any, seq_len: int, dt: float, exact_windows: Any = None) -> dict:
    """One seed's held-out numbers from its EP estimates ``delta_s`` (an array or a ragged set's parts).

    Returns
    -------
    dict
        ``rate`` (per unit time), ``objective`` (J) and ``r2`` against
        ``exact_windows`` (None without them).
    """
    per_step = rate_per_entry(delta_s) / (seq_len - 1)
    numbers = {"rate": per_step / dt, "objective": objective_numpy(flat(delta_s)), "r2": None}
    if exact_windows is not None:
        numbers["r2"] = r_squared(flat(delta_s), flat(exact_windows))
    return numbers


def measure_seeds(models: list, states: Any, seq_len: int, dt: float, exact_windows: Any = None,
                  batch_size: int = 16384) -> tuple[list[dict], Any]:
    """Each model's numbers on the held-out ``states`` and the ensemble mean of their EP estimates.

    Parameters
    ----------
    models : list of NEEPModel
        The seeds' models.
    states : numpy.ndarray or tuple of numpy.ndarray
        The held-out states (a ragged set's parts as a tuple).
    seq_len, dt
        Window length and time per step.
    exact_windows
        The exact EP of the same windows, or None (``exact_values``).
    batch_size : int
        Prediction batch size.

    Returns
    -------
    per_seed : list of dict
        ``seed_numbers`` of each model, in order.
    mean : numpy.ndarray or tuple of numpy.ndarray
        The mean over models of their float64 per-window EP, shaped like the predictions.
    """
    per_seed, total = [], None
    for model in models:
        delta_s = map_parts(lambda s: predict_delta_s(model, s, seq_len, batch_size), states)
        per_seed.append(seed_numbers(delta_s, seq_len, dt, exact_windows))
        as64 = map_parts(lambda d: d.astype(np.float64), delta_s)
        total = as64 if total is None else (
            tuple(a + b for a, b in zip(total, as64)) if isinstance(as64, tuple) else total + as64)
    return per_seed, map_parts(lambda d: d / len(models), total)
