"""Cached simulations and fits: the two expensive steps every figure shares.

``simulate_cached`` writes a trajectory file (with exact per-step EP) once per
set of parameters; ``fit_cached`` trains a :class:`neep.estimators.NEEP`
ensemble once per set of data and hyper-parameters and keeps what the
figures need (rates per seed, the rate's 95 % interval, the estimator's
flags, the linear-current baseline, R^2, the held-out and training-set
histories, and optional arrays computed while the model is in memory).

A fit's cache key holds :data:`FIT_VERSION`: raise it whenever what a fit
computes or stores changes, so that entries made by older code are not reused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .cache import Cache, parameter_key
from .config import FitConfig

__all__ = ["simulate_cached", "simulation_key", "fit_cached", "fit_key", "summary", "interval_in", "Progress",
           "FIT_VERSION"]

#: Version of what ``fit_cached`` computes and stores (part of every fit's key).
#: 2: validation split for model selection, iteration-0 evaluation, interval, flags, baselines.
FIT_VERSION = 2

Progress = Callable[[str], None]


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def simulation_key(sampler: Any, trajectories: int, steps: int, seed: int) -> str:
    """The cache key of :func:`simulate_cached` (cheap: no simulation, no data read)."""
    meta = sampler.metadata()
    params = {"meta": {k: meta.get(k) for k in ("model", "parameters", "dt", "hidden", "continuous_time")},
              "M": trajectories, "L": steps, "seed": seed}
    return parameter_key("sim", params)


def simulate_cached(
    cache: Cache,
    sampler: Any,
    label: str,
    trajectories: int,
    steps: int,
    seed: int,
    progress: Progress | None = None,
):
    """Simulate ``trajectories x steps`` with exact EP into the cache (once); return ``Trajectories``.

    The key is the sampler's sidecar metadata (every physical parameter and
    the view), the sizes and the seed.
    """
    from neep.estimators import load_trajectories
    from neep.simulators import simulate_to_file

    key = simulation_key(sampler, trajectories, steps, seed)
    path = cache.path(key, ".npy")
    if not (path.exists() and path.with_suffix(".json").exists()):
        start = time.perf_counter()
        simulate_to_file(sampler, path, trajectories, steps, seed=seed, exact_ep=True, force=True)
        _say(progress, f"simulated {label}: {trajectories} x {steps} in {time.perf_counter() - start:.1f} s")
    return load_trajectories(path, validate=False)


def _recorder_class():
    from neep.estimators import EPMonitor
    from neep.estimators.nn.prediction import predict_delta_s

    class _Recorder(EPMonitor):
        """Training-set EP during training (Fig. S2) and the untrained network's output (Fig. 2 insets).

        Evaluates at iteration 0 too (as the estimator's own monitor does), so
        every held-out history row, the starting weights' included, has its
        training-set value. One run per ``model.fit`` call: the estimator
        trains its seeds in order (the data check, which would add refits,
        is off in :func:`fit_cached`).
        """

        def __init__(self, train_states, first_test, track_train: bool, **kwargs):
            super().__init__(train_states, restore_best=False, evaluate_start=True, **kwargs)
            self.first_test = first_test
            self.track_train = track_train
            self.runs: list[list[dict]] = []
            self.untrained = None

        def on_train_begin(self, logs=None):
            if self.first_test is not None and self.untrained is None:
                self.untrained = predict_delta_s(self.model, self.first_test, self._seq_len(), self.batch_size)
            super().on_train_begin(logs)

        def evaluate(self) -> dict:
            return super().evaluate() if self.track_train else {}

        def on_train_end(self, logs=None):
            self.runs.append(list(self.history))

    return _Recorder


def _schedule(config: FitConfig):
    import keras

    if config.final_learning_rate is None:
        return None
    epochs = -(-config.iterations // config.eval_every)
    ratio = config.final_learning_rate / config.learning_rate

    def rate(epoch: int, _current: float) -> float:
        return float(config.learning_rate * ratio ** (epoch / max(epochs - 1, 1)))

    return keras.callbacks.LearningRateScheduler(rate)


def fit_key(
    key_params: dict[str, Any],
    config: FitConfig,
    *,
    kind: str,
    seq_len: int = 2,
    seeds: int = 1,
    seed: int = 0,
    track_train: bool = False,
    untrained: bool = False,
    extras_name: str | None = None,
) -> str:
    """The cache key of :func:`fit_cached` with these arguments (cheap: no data needed)."""
    params = dict(key_params)
    params.update(fit=config.__dict__, kind=kind, seq_len=seq_len, seeds=seeds, seed=seed,
                  track_train=track_train, untrained=untrained, extras=extras_name, version=FIT_VERSION)
    return parameter_key("fit", params)


def fit_cached(
    cache: Cache,
    label: str,
    key_params: dict[str, Any],
    train,
    test,
    config: FitConfig,
    *,
    kind: str,
    seq_len: int = 2,
    seeds: int = 1,
    seed: int = 0,
    track_train: bool = False,
    untrained: bool = False,
    extras: Callable[[Any, Any], dict[str, np.ndarray]] | None = None,
    extras_name: str | None = None,
    progress: Progress | None = None,
    warm_start: list[np.ndarray] | None = None,
) -> tuple[dict, dict[str, np.ndarray]]:
    """Fit (or load) a NEEP ensemble on ``train``, evaluated on ``test``.

    Parameters
    ----------
    cache, label
        Where to keep the result; ``label`` names it in progress messages.
    key_params
        What identifies the data (model parameters, sizes, seed of the
        simulation); the hyper-parameters are added to the key here.
    train, test : Trajectories
        Training and held-out data (``test`` with exact EP).
    config : FitConfig
    kind, seq_len, seeds, seed
        Passed to :class:`NEEP` (``model``, ``seq_len``, ``seeds``, ``seed``).
    track_train
        Also record the training-set EP rate at every evaluation
        (``train_ep_rate`` in the history), on a subset of the training data.
    untrained
        Keep the untrained first network's output on the first held-out
        trajectory (array ``untrained``).
    extras, extras_name
        ``extras(estimator, test) -> dict of arrays`` computed after the fit
        (e.g. predictions for a figure); ``extras_name`` enters the key.
    warm_start
        The network weights to start from (``NEEP(warm_start=...)``); the
        caller puts what identifies them (the start's key) in ``key_params``.

    Returns
    -------
    document, arrays
        ``document``: ``rate_per_seed`` (per unit time), ``ep_per_step_per_seed``,
        ``interval`` (the ensemble rate per unit time with its standard error
        and 95 % interval: ``Interval.as_dict()``), ``flags`` (the
        estimator's warning sentences), ``flag_names`` (the checks that
        fired), ``baselines`` (name -> interval dict, per unit time; the
        linear current for continuous pairs), ``r2_per_seed``, ``dt``,
        ``kind``, ``test_ep_per_step`` (mean exact EP of the held-out data),
        ``history`` (list of dicts, iteration 0 first; ``kept`` marks the
        weights kept), ``seconds``, ``sizes``.

    The estimator's data check (refits on parts of the training data) is
    off: it would triple the cost of every fit, and the figures sweep the
    data size themselves (Fig. S1).
    """
    key = fit_key(key_params, config, kind=kind, seq_len=seq_len, seeds=seeds, seed=seed,
                  track_train=track_train, untrained=untrained, extras_name=extras_name)
    stored = cache.load(key)
    if stored is not None:
        _say(progress, f"fit {label}: reused from the cache")
        return stored

    from neep.estimators import NEEP, held_out_subset

    train_states, _ = held_out_subset(train.states, None, config.eval_samples, seq_len, seed)
    first_test = np.asarray(test.states[:1, : min(test.n_steps, 20_001)]) if untrained else None
    recorder = _recorder_class()(
        train_states, first_test, track_train, dt=train.dt, seq_len=seq_len, batch_size=16384
    )
    callbacks = [recorder]
    schedule = _schedule(config)
    if schedule is not None:
        callbacks.append(schedule)
    estimator = NEEP(
        model=kind,
        hidden_units=config.hidden_units,
        layers=config.layers,
        embedding_dim=config.embedding_dim,
        seq_len=seq_len,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        iterations=config.iterations,
        eval_every=config.eval_every,
        eval_samples=config.eval_samples,
        seeds=seeds,
        seed=seed,
        verbose=0,
        callbacks=callbacks,
        track_train=False,  # the recorder above evaluates the training subset (S2) itself
        data_check=False,
        baseline=True,
        restore_best=config.restore_best,
        jit_compile=kind == "gru",  # XLA: 20-35 % less CPU per GRU step (benchmarks/rneep_cpu.py)
        warm_start=warm_start,
    )
    estimator.fit(train, test)
    if len(recorder.runs) != seeds:
        raise RuntimeError(f"fit {label}: expected {seeds} training runs, the recorder saw {len(recorder.runs)}")
    history = []
    for row in estimator.history_:
        row = dict(row)
        match = [r for r in recorder.runs[row["seed"]] if r["iteration"] == row["iteration"]]
        row["train_ep_rate"] = match[0]["ep_rate"] if match and track_train else None
        history.append(row)
    exact = None if test.exact_ep is None else float(np.mean(np.asarray(test.exact_ep, dtype=np.float64)))
    document = {
        "label": label,
        "key": key,
        "rate_per_seed": [float(v) for v in estimator.ep_rate_per_seed_],
        "ep_per_step_per_seed": [float(v) * estimator.dt_ for v in estimator.ep_rate_per_seed_],
        "interval": estimator.ep_rate_interval_.as_dict(),
        "flags": list(estimator.flags_),
        "flag_names": [d.name for d in estimator.diagnostics_ if d.flagged],
        "baselines": {name: value.as_dict() for name, value in estimator.baselines_.items()},
        "r2_per_seed": None if estimator.r2_per_seed_ is None else [float(v) for v in estimator.r2_per_seed_],
        "dt": float(estimator.dt_),
        "kind": estimator.kind_,
        "test_ep_per_step": exact,
        "history": history,
        "seconds": float(estimator.seconds_),
        "sizes": {"train": list(np.shape(train.states)[:2]), "test": list(np.shape(test.states)[:2]),
                  "network": config.describe(kind), "seq_len": seq_len, "seeds": seeds},
    }
    arrays: dict[str, np.ndarray] = {}
    if untrained and recorder.untrained is not None:
        arrays["untrained"] = np.asarray(recorder.untrained, dtype=np.float32)
        arrays["untrained_exact"] = np.asarray(test.exact_ep[0, : arrays["untrained"].shape[-1]], dtype=np.float32)
    if extras is not None:
        arrays.update(extras(estimator, test))
    cache.store(key, document, arrays)
    rates = np.asarray(document["rate_per_seed"])
    ci = document["interval"]
    _say(progress, f"fit {label}: {rates.mean():.5g} +- {rates.std(ddof=1) if rates.size > 1 else 0:.2g} "
         f"(95 % interval {ci['low']:.5g} .. {ci['high']:.5g}) in {document['seconds']:.0f} s"
         + (f"; flags: {', '.join(document['flag_names'])}" if document["flag_names"] else ""))
    return document, arrays


def interval_in(document: dict, per_step: bool = False) -> dict:
    """The document's rate interval, per unit time or (``per_step``) per step."""
    ci = dict(document["interval"])
    if per_step:
        for key, value in ci.items():  # every value and error; the level is a share
            if key != "level" and isinstance(value, (int, float)) and not isinstance(value, bool):
                ci[key] = value * document["dt"]
    return ci


def summary(values) -> tuple[float, float]:
    """Mean and standard deviation (ddof 1; 0 for one value) of a sequence."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0

