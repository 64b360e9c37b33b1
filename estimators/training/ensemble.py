"""The ensemble of a ``NEEP`` fit: its ``seeds`` networks trained (resumed, stacked), then measured.

``train_seeds`` takes the seeds a checkpoint says finished before an
interruption (``runs.checkpoint.RunCheckpoint``), trains the others, all as one
stacked model when ``loop.stacking`` says so (JAX), else one after the
other (``loop.train_one``), inside the data-parallel scope, and reports
each finished seed to the checkpoint. ``measure_seeds`` then gives each
seed's numbers on all held-out data (rate, objective J, R^2) and the
ensemble mean of their per-step (per-window) EP (``SeedMeasures``), which
``assessment`` reads.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data.sets import flat, map_parts
from ..nn.prediction import predict_delta_s, predict_noise_penalty
from ..stats.bounds import objective_numpy
from ..stats.rates import r_squared, rate_per_entry
from .config import FitConfig
from .loop import data_parallel_scope, stacking, train_one, train_stacked
from .prepare import PreparedFit
from .seeds import seed_for

if TYPE_CHECKING:  # pragma: no cover
    from ..nn.model import NEEPModel

__all__ = ["SeedMeasures", "train_seeds", "measure_seeds", "seed_numbers"]


def train_seeds(config: FitConfig, prepared: PreparedFit, start_at: Any = None,
                checkpoint: Any = None) -> list[tuple[NEEPModel, list]]:
    """The trained model and training history of each of ``config.seeds`` seeds, in seed order.

    Parameters
    ----------
    config : FitConfig
        The fit's parameters (``seeds``, ``seed``, ``data_parallel``, ...).
    prepared : PreparedFit
        The prepared data (``prepare.prepare_fit``).
    start_at : baselines.currents.LinearCurrent or None
        Start of the current model (None: a fresh network).
    checkpoint : runs.checkpoint.RunCheckpoint or None
        Seeds finished earlier are taken from it, each new one is written to it.

    Returns
    -------
    list of (NEEPModel, list of dict)
        One ``(model, history)`` per seed.
    """
    labels = [f"seed {k + 1}/{config.seeds}" for k in range(config.seeds)]
    trained = {}
    if checkpoint is not None:  # resumed: the seeds that finished before the interruption
        trained = {k: done for k in range(config.seeds) if (done := checkpoint.finished(k)) is not None}
    left = [k for k in range(config.seeds) if k not in trained]
    with data_parallel_scope(config.data_parallel):
        if stacking(config, left, checkpoint):  # JAX: the seeds left as one stacked model
            results = train_stacked(config, prepared, [seed_for(config.seed, k) for k in left],
                                    [labels[k] for k in left], start_at, checkpoint, indices=left)
            for k, (model, monitor) in zip(left, results):
                trained[k] = (model, monitor.history)
                if checkpoint is not None:
                    checkpoint.seed_done(k, model, monitor.history)
        for k in left:
            if k not in trained:
                model, monitor = train_one(config, prepared, prepared.train, seed_for(config.seed, k), labels[k],
                                           start_at, checkpoint=None if checkpoint is None else (checkpoint, k))
                trained[k] = (model, monitor.history)
                if checkpoint is not None:
                    checkpoint.seed_done(k, model, monitor.history)
    return [trained[k] for k in range(config.seeds)]


def seed_numbers(delta_s: Any, seq_len: int, dt: float, exact_windows: Any = None, penalty: Any = None) -> dict:
    """One seed's held-out numbers from its EP estimates ``delta_s`` (an array or a ragged set's parts).

    ``penalty``: the noise term of a noise-corrected current model, shaped like
    ``delta_s`` (``nn.prediction.predict_noise_penalty``); J is then its corrected form.

    Returns
    -------
    dict
        ``rate`` (per unit time), ``nn.objective`` (J) and ``r2`` against
        ``exact_windows`` (None without them).
    """
    per_step = rate_per_entry(delta_s) / (seq_len - 1)
    numbers = {"rate": per_step / dt, "objective": objective_numpy(flat(delta_s), None if penalty is None else flat(penalty)),
               "r2": None}
    if exact_windows is not None:
        numbers["r2"] = r_squared(flat(delta_s), flat(exact_windows))
    return numbers


@dataclasses.dataclass(frozen=True)
class SeedMeasures:
    """The seeds of a fit measured on all held-out data (``measure_seeds``).

    Attributes
    ----------
    rates, objectives : numpy.ndarray (K,)
        Each seed's EP rate per unit time and objective J.
    r2 : numpy.ndarray (K,) or None
        Each seed's R^2 against the exact EP of the windows (None without them).
    mean_delta_s : numpy.ndarray or tuple of numpy.ndarray
        The mean over seeds of their float64 per-window EP, shaped like the predictions.
    """

    rates: np.ndarray
    objectives: np.ndarray
    r2: np.ndarray | None
    mean_delta_s: Any

    @property
    def best(self) -> int:
        """The seed with the best held-out objective."""
        return int(np.argmax(self.objectives))


def measure_seeds(models: list, states: Any, seq_len: int, dt: float, exact_windows: Any = None,
                  batch_size: int = 16384) -> SeedMeasures:
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
        The exact EP of the same windows, or None (``stats.exact.ExactValues.windows``).
    batch_size : int
        Prediction batch size.

    Returns
    -------
    SeedMeasures
    """
    per_seed, total = [], None
    for model in models:
        delta_s = map_parts(lambda s: predict_delta_s(model, s, seq_len, batch_size), states)
        penalty = None
        if getattr(model, "noise_variance", None) is not None:
            penalty = map_parts(lambda s: predict_noise_penalty(model, s, batch_size), states)
        per_seed.append(seed_numbers(delta_s, seq_len, dt, exact_windows, penalty))
        as64 = map_parts(lambda d: d.astype(np.float64), delta_s)
        total = as64 if total is None else (
            tuple(a + b for a, b in zip(total, as64)) if isinstance(as64, tuple) else total + as64)
    return SeedMeasures(rates=np.asarray([p["rate"] for p in per_seed]),
                        objectives=np.asarray([p["objective"] for p in per_seed]),
                        r2=None if exact_windows is None else np.asarray([p["r2"] for p in per_seed]),
                        mean_delta_s=map_parts(lambda d: d / len(models), total))
