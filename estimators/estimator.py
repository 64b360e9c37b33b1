"""``NEEP``: the scikit-learn-style estimator (fit, predict, save, load) over an ensemble of seeds.

``fit`` runs the steps of their own modules, handing frozen objects from one
to the next: ``training.config.FitConfig`` (the parameters, checked),
``training.prepare.PreparedFit`` (splits, statistics, subsets),
``stats.exact.ExactValues`` (the held-out references),
``training.ensemble`` (the seeds trained, then measured: ``SeedMeasures``)
and ``assessment.Assessment``, which ``NEEP`` copies field by field.
``nn.model_file`` writes and reads the ``.keras`` file.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from .assessment import assess
from .baselines.currents import fit_linear_current
from .baselines.noise_check import check_noise
from .data.odd import resolve_odd, sidecar_columns
from .data.sets import as_data, describe, map_parts, per_trajectory
from .nn.backend import configure_cpu_threads
from .nn.prediction import predict_delta_s
from .nn.model_file import read_model, write_model
from .stats.exact import exact_values
from .stats.rates import rate_per_entry
from .training.config import FitConfig
from .training.ensemble import measure_seeds, train_seeds
from .training.start import current_start
from .training.parity import odd_estimate, with_parity
from .training.prepare import prepare_fit
from .training.warm_start import start_weights

__all__ = ["NEEP", "load_model"]


class NEEP:
    """Neural estimator for entropy production (NEEP; RNEEP with ``model="gru"``).

    Trains ``seeds`` independently initialized networks on random windows of
    the training trajectories, monitors each, keeps the
    weights with the best objective on validation data (a share of the
    training part, ``validation_fraction``), and estimates the EP rate on
    ALL held-out data as the slope of the ensemble-averaged cumulative EP
    against time, divided by dt.

    Parameters
    ----------
    model : {"current", "mlp", "embedding", "gru"} or None
        None: "current" for float pairs, "mlp" for float windows,
        "embedding" for integer data. "current" is the current ansatz
        ``dS = F((s+s')/2) . (s'-s)`` (pairs of continuous states only): ``F``
        starts at the closed-form linear current fitted on the training data
        (``baselines``; exact for linear forces) and a neural correction
        learns the rest. "mlp" is the paper's general ``h(s,s') - h(s',s)``.
    hidden_units, layers : int or None
        Network size; None: the paper's (mlp 3 x 512, embedding 2 x 128, gru
        1 x 128 units); current: 2 x 128 for the correction.
    embedding_dim : int
        Embedding size for discrete states (embedding, gru).
    seq_len : int
        Window length n (2: pairs, Eq. 1; > 2: windows, Eq. 8).
    batch_size, learning_rate, weight_decay : paper defaults 4096, 1e-4, 5e-5
        The weight decay is PyTorch Adam's coupled L2 term (the paper's),
        unless ``decoupled_weight_decay``.
    iterations : int
        Optimizer steps per seed (rounded up to whole evaluation intervals).
    eval_every : int
        Validation every this many steps (at most ``iterations``), on ``eval_samples`` windows.
    eval_samples : int
        Size of the fixed held-out subset used during training.
    seeds : int
        Ensemble size K (paper: 5); mean and standard deviation reported.
    track_train : bool
        Also evaluate as many training windows at every ``training.loop.TRAIN_EVERY``-th evaluation
        (``train_ep_rate``, ``train_objective`` in ``history_``; Fig. S2: the training-set estimate can
        overfit), and run the like-with-like overfitting check on them at the end.
    test_fraction : float
        Held-out share when ``fit`` gets no ``test`` data, in (0, 1): of the
        trajectories when M > 1 (the last ones), of the time when M = 1 (the
        last part). The paper's is 0.5.
    validation_fraction : float
        Share of the training part set aside, in (0, 1), to choose the kept weights (best objective J). The
        reported rate is measured on held-out data that took no part in that choice (selection on the
        measured data would bias small data sets upward). ``train_`` excludes it.
    linear_start : bool
        Start the current model at the closed-form linear current (False:
        at zero, the bare ansatz trained from scratch, for comparison).
    cubic_start : bool
        With ``linear_start``: start at the cubic velocity current instead when
        its validation J is higher by 2 paired errors (``training.start``).
    baseline : bool
        Also compute the classical estimators of ``baselines`` on the same
        held-out data (continuous: closed-form current and its TUR bound;
        discrete: plug-in KL of pairs, and of n-words for windows of n); a
        network below one that measures the same quantity is flagged.
    baseline_degree : int
        Degree of the force polynomial of the continuous baselines (1:
        linear; 2 adds the ``xbar_i xbar_k dx_j`` currents), 1..4.
    data_check : bool
        Refit the first seed on 1/2 of the training data (a kept closed-form start: the closed form on 1/4
        and 1/2) and flag an estimate that still grows with data (about 1x the time of a seed). A trained
        current network is refitted only when the overfitting check sees an in-sample advantage
        (``assessment.REFIT_IF_EXCESS``).
    normalize : bool
        Standardize continuous inputs per coordinate (training statistics, stored in the model).
    seed : int
        Seeds initialization and sampling; same seed, same result.
    verbose : int
        0 silent, 1 one line per evaluation (stderr), 2 also Keras' progress.
    callbacks : list of keras.callbacks.Callback, optional
        Extra callbacks for every seed's ``model.fit``.
    precision : {"float32", "mixed_bfloat16"}
        Compute dtype of the hidden layers (the output layer stays float32).
    decoupled_weight_decay : bool
        Use Keras AdamW (decoupled) instead of the coupled L2 term.
    ema_momentum : float or None
        Keep an exponential moving average of the weights (horizon about
        ``1 / (1 - ema_momentum)`` steps) and evaluate, select and keep it:
        it removes most of the step-to-step wander of the estimate that plain
        Adam shows (the paper's +-5 %). None: plain weights.
    restore_best : bool
        Keep the weights with the best validation objective (else the last; ``neep fit`` keeps the last for gru).
    eval_batch_size : int
        Batch size for evaluation and prediction.
    jit_compile : bool
        XLA for the training step (off: it did not help on CPU).
    steps_per_execution : int or None
        Training steps per compiled call; None picks a divisor of eval_every <= 25.
        (JAX: one call scans over a block of that many batches.)
    device : bool or "auto"
        JAX only: keep the training array on the accelerator and gather the
        windows there ("auto": when it fits, under 4 GiB, and the default
        device is not the CPU); the indices are drawn on the device too.
    stack_seeds : bool or "auto"
        JAX only: train the ``seeds`` networks as one stacked model (one compiled call advances them all; each
        keeps its own initialization, batches, selection and estimate: the same numbers as one after the
        other, to float round-off). "auto": on JAX with two or more seeds.
    data_parallel : bool
        Train data parallel over all local devices: each batch split across them, weights replicated,
        gradients all-reduced (the same arithmetic as one device). JAX: ``keras.distribution.DataParallel``;
        TensorFlow: ``tf.distribute.MirroredStrategy`` over the GPUs (the CPU's logical devices without one).
        Seeds are then trained one after the other.
    patience : int or None
        Once this many evaluations in a row bring no new best validation J, the
        learning rate drops 10x (once, if training beat its start), then stop
        at the next such plateau (``iterations`` a cap). None: all iterations.
    odd : str, sequence of int or str, or None
        Columns odd under time reversal (velocities; sidecar names or indices): the EP is then
        ``r - [q(z) + q(z')] / 2`` per step (``training.parity``, parts in ``odd_``); mlp by default.
    noise : {"auto", "robust", "off"}
        Localization noise (continuous states): estimated and reported
        (``noise_``); "robust" trains the current network against it
        (``training.noise``) and fits the robust current (baseline
        ``robust_current``), "auto" does both when it is significant.
    final_learning_rate : float or None
        Decay the learning rate geometrically from ``learning_rate`` to this over ``iterations``; None: constant.
    warm_start : NEEP, path or list of arrays, optional
        Start every seed's network from this one's (a fitted ``NEEP``, a
        ``.keras`` file or ``neep fit`` run folder, or the network's weights)
        instead of a fresh one: same kind and sizes, any window length (a
        curriculum in n for ``gru``: see ``training.warm_start``).

    Attributes
    ----------
    entropy_production_rate_ : float
        EP rate per unit time (per step when dt is unknown), mean over seeds
        (= the rate of the seeds' mean per-step EP).
    ep_rate_interval_ : uncertainty.Interval
        The rate with its standard error and 95 % interval: block bootstrap
        over held-out trajectories (time blocks for few), combined with the
        spread over seeds.
    bounds_ : dict of str to Interval
        ``lower_bound_j`` (1 + J) and ``lower_bound_dv``, same unit, with errors.
    baselines_ : dict of str to baselines.Baseline
        Classical estimates on the same held-out data, same unit, each with
        its interval and kind (``evaluate_baselines``); empty without ``baseline``.
    diagnostics_ : list of diagnostics.Diagnostic ; flags_ : list of str
        Every check run, and the sentences of those that fired.
    linear_current_ : baselines.LinearCurrent or None
    ep_rate_exact_held_out_ : float or None
        The slope estimator applied to the exact EP of the held-out data.
    entropy_production_rate_std_ : float
        Standard deviation over seeds (ddof=1; 0 for one seed).
    ep_rate_per_seed_ : np.ndarray (K,)
    ep_per_step_ : float
        Mean EP per recorded step (compare with ``ep_per_step_exact``).
    lower_bound_j_, lower_bound_dv_ : float
        Held-out lower bounds per step, 1 + J and E[dS] - ln E[exp(-dS)], mean over seeds.
    objective_per_seed_ : np.ndarray (K,)
        Held-out objective J of each seed (all held-out data).
    r2_ : float or None
        R^2 of per-step (per-window) estimates against the exact EP, mean over
        seeds; None without exact EP. ``r2_per_seed_`` likewise.
    ep_rate_exact_, ep_per_step_exact_ : float or None
        Exact values of the held-out data when known (sidecar or exact EP).
    history_ : list of dict
        One per evaluation: ``seed``, ``iteration``, ``train_loss``, ``test_objective``, ``ep_rate``,
        ``ep_per_step``, ``lower_bound_j``, ``lower_bound_dv``, ``r2``, ``error``, ``ep_rate_exact`` (exact
        rate of the evaluation subset by the same slope estimator; ``error`` is relative to it),
        ``train_ep_rate`` and ``train_objective`` (the same weights on a training subset, at every
        ``TRAIN_EVERY``-th evaluation; None otherwise and without ``track_train``), ``seconds``; the
        start's (iteration 0) has ``trained_rate_gain`` when kept.
    train_, test_ : Trajectories
        The training and held-out data ``fit`` used (views of the input:
        memory-mapped when it came from a file, never copied); ``test_`` is
        what every held-out figure or check should use.
    model_ : NEEPModel
        The seed with the best objective on all held-out data; ``models_`` all of them.
    best_seed_ : int
    kind_ : str ; seq_len_ : int ; n_states_ : int or None ; dt_ : float ; dt_known_ : bool
    odd_ : training.parity result or None ; noise_ : baselines.noise_check.NoiseReport or None
        With ``odd``: the parts of the EP estimate; continuous data: the localization-noise report.
    seconds_ : float
        Wall time of ``fit``.
    """

    def __init__(
        self,
        model: str | None = None,
        hidden_units: int | None = None,
        layers: int | None = None,
        embedding_dim: int = 128,
        seq_len: int = 2,
        batch_size: int = 4096,
        learning_rate: float = 1e-4,
        weight_decay: float = 5e-5,
        iterations: int = 3000,
        eval_every: int = 100,
        eval_samples: int = 131072,
        seeds: int = 1,
        test_fraction: float = 0.5,
        track_train: bool = True,
        normalize: bool = True,
        seed: int = 0,
        verbose: int = 1,
        callbacks: list | None = None,
        precision: str = "float32",
        decoupled_weight_decay: bool = False,
        ema_momentum: float | None = 0.99,
        restore_best: bool = True,
        eval_batch_size: int = 16384,
        baseline: bool = True,
        baseline_degree: int = 1,
        data_check: bool = True,
        validation_fraction: float = 0.1,
        linear_start: bool = True,
        cubic_start: bool = True,
        jit_compile: bool = False,
        steps_per_execution: int | None = None,
        device: bool | str = "auto",
        stack_seeds: bool | str = "auto",
        data_parallel: bool = False,
        patience: int | None = None,
        odd=None,
        noise: str = "auto",
        final_learning_rate: float | None = None,
        warm_start=None,
    ):
        for name, value in locals().items():  # scikit-learn style: every parameter kept as given
            if name != "self":
                setattr(self, name, value)

    def get_params(self) -> dict:
        """The constructor parameters, as given (scikit-learn style)."""
        return {name: getattr(self, name) for name in FitConfig.parameter_names()}

    def config(self) -> FitConfig:
        """The parameters as a validated ``FitConfig`` (``ValueError`` names the first invalid one)."""
        return FitConfig(**self.get_params())

    # -- fit -----------------------------------------------------------------------
    def fit(self, data, test=None, *, checkpoint=None) -> "NEEP":
        """Train on ``data`` (Trajectories, array or path); evaluate on ``test`` or a held-out split.

        Without ``test``, ``data.split(1 - test_fraction)``: by trajectory
        when M > 1, by time when M = 1 (``train_`` and ``test_`` keep the
        parts). Then the assessment: interval, baseline, diagnostics (see the
        class doc). ``checkpoint``: a ``runs.checkpoint.RunCheckpoint`` that
        keeps the partial run (``fit_to_folder`` passes one). Returns self. The first fit of a process sets
        TensorFlow's CPU thread pools as ``neep fit`` does (``nn.backend.configure_cpu_threads``)."""
        start = time.perf_counter()
        config, data = self.config(), as_data(data)
        if not config.data_parallel:  # before TensorFlow's runtime starts
            configure_cpu_threads()
        if config.odd is not None:  # names to indices; the current baselines assume even variables
            odd = resolve_odd(config.odd, data.dim, sidecar_columns(data))
            config = FitConfig(**{**self.get_params(), "odd": odd, "baseline": False})
        prepared = prepare_fit(config, data, test)
        prepared = with_parity(config, prepared, config.seed + 1) if config.odd else prepared
        train, test, kind, seq_len = prepared.train, prepared.test, prepared.kind, prepared.seq_len
        config = dataclasses.replace(config, warm_start=start_weights(config.warm_start, kind))
        self.train_, self.test_ = train, test
        self.kind_, self.seq_len_, self.n_states_ = kind, seq_len, prepared.n_states
        self.labels_ = train.labels
        self.dt_, self.dt_known_ = train.dt, train.dt_known
        exact = exact_values(test, seq_len, self.dt_)
        self.ep_per_step_exact_, self.ep_rate_exact_ = exact.ep_per_step, exact.ep_rate
        self.ep_rate_full_information_, self.exact_reference_ = exact.full_information, exact.reference
        self.ep_rate_exact_held_out_ = exact.held_out
        # The closed-form linear current: the start of the current model, and a yardstick
        # for any pair model on continuous states.
        self.linear_current_ = None
        if not train.discrete and seq_len == 2 and not config.odd and (kind == "current" or self.baseline):
            self.linear_current_ = fit_linear_current(train.states, mean=prepared.mean, std=prepared.std)

        if self.verbose:
            print(f"NEEP: {kind} network, train {describe(train)}, held-out {describe(test)} states"
                  + (f"; {train.describe_states()}" if train.discrete else ""), file=sys.stderr, flush=True)
        self.models_, self.history_ = [], []
        # The current network's closed-form start: linear, noise-robust, or cubic (training.start).
        warm = config.warm_start  # a current network's own start: a polynomial part makes its weights odd in number
        start_at, self.start_ = current_start(prepared, self.linear_current_ if self.linear_start else None,
                                              self.cubic_start if warm is None else len(warm) % 2 == 1, warm is None,
                                              warm)
        for k, (model, history) in enumerate(train_seeds(config, prepared, start_at, checkpoint)):
            self.history_.extend({"seed": k, **rec} for rec in history)
            self.models_.append(model)
        measures = measure_seeds(self.models_, test.states, seq_len, self.dt_, exact.windows, self.eval_batch_size)
        self.ep_rate_per_seed_, self.objective_per_seed_ = measures.rates, measures.objectives
        self.r2_per_seed_ = measures.r2
        self.best_seed_ = measures.best
        self.model_ = self.models_[self.best_seed_]
        found = assess(config, prepared, exact, measures, self.models_, self.history_, self.linear_current_,
                       start_at)
        for field in dataclasses.fields(found):  # field by field: each attribute is the field's name + "_"
            setattr(self, field.name + "_", getattr(found, field.name))
        self.odd_ = None if not config.odd else odd_estimate(config, prepared, measures.mean_delta_s, measures.rates)
        if self.odd_ is not None:  # the EP is r - [q(z) + q(z')] / 2 (or its Gaussian form), not the pair's r
            self.ep_rate_interval_, self.flags_ = self.odd_.headline, self.flags_ + self.odd_.flags
            rate = self.entropy_production_rate_ = self.odd_.headline.value
            self.ep_per_step_ = rate * self.dt_
        self.noise_ = check_noise(train, test, config.noise, dt=self.dt_, degree=config.baseline_degree,
                                  mean=prepared.mean, std=prepared.std, seed=config.seed, odd=bool(config.odd),
                                  network_corrected=prepared.noise_variance is not None,
                                  fitted=start_at if prepared.noise_variance is not None else None,
                                  estimate=prepared.noise_estimate)
        if self.noise_ is not None:
            self.baselines_, self.flags_ = self.noise_.extend(self.baselines_, self.flags_,
                                                              self.entropy_production_rate_)
            reported = self.noise_.reported(self.ep_rate_interval_)  # the robust current when higher
            if reported is not self.ep_rate_interval_:
                self.ep_rate_interval_, self.entropy_production_rate_ = reported, reported.value
                self.ep_per_step_ = reported.value * self.dt_
        self.seconds_ = time.perf_counter() - start
        return self

    # -- use -------------------------------------------------------------------------
    def predict(self, data, batch_size: int | None = None) -> np.ndarray | list:
        """EP estimates of the best seed's model on ``data``, float32.

        A ragged set (trajectories of different lengths: a list, several
        files, a folder) gives a list with one 1-D array per trajectory.
        Discrete states are coded with the training data's labels; a state
        never seen in training is an error.

        Pair models (seq_len 2): shape ``(M, L-1)``, entry ``[m, t]`` the EP
        of step ``t -> t+1``. Window models (seq_len n > 2): shape
        ``(M, (L-1) // (n-1))``, entry ``[m, k]`` the EP of the window of
        states ``k(n-1) .. k(n-1)+n-1``; the windows tile the trajectory, so
        the entries sum to the cumulative EP.
        """
        delta_s = self.predict_parts(data, batch_size)
        return per_trajectory(delta_s) if isinstance(delta_s, tuple) else delta_s

    def _checked(self, data):
        """``data`` read, discrete states coded with the training labels, checked against the model."""
        if getattr(self, "model_", None) is None:
            raise ValueError("this NEEP is not fitted yet: call fit() or NEEP.load() first")
        data = as_data(data, labels=None if self.n_states_ is None else self._labels())
        if data.discrete != (self.n_states_ is not None):
            kind = "integer (discrete)" if self.n_states_ is not None else "float (continuous)"
            raise ValueError(f"this model was trained on {kind} states")
        if data.discrete and data.n_states > self.n_states_:
            raise ValueError(f"data has state {data.n_states - 1}, the model knows 0..{self.n_states_ - 1}")
        data.check_seq_len(self.seq_len_)
        return data

    def _labels(self) -> list:
        labels = getattr(self, "labels_", None)
        return list(range(self.n_states_)) if labels is None else list(labels)

    def predict_parts(self, data, batch_size: int | None = None):
        """``predict`` keeping a ragged set's parts: a tuple of ``(M_i, K_i)`` arrays (or one array)."""
        data = self._checked(data)
        return map_parts(lambda s: predict_delta_s(self.model_, s, self.seq_len_, batch_size or self.eval_batch_size),
                         data.states)

    def ep_rate(self, data, dt: float | None = None) -> float:
        """EP rate of ``data`` per unit time (dt: argument > data's if known > the training dt)."""
        data = self._checked(data)
        dt = dt if dt is not None else (data.dt if data.dt_known else self.dt_)
        return rate_per_entry(self.predict_parts(data)) / (self.seq_len_ - 1) / dt

    def save(self, path: str | Path) -> Path:
        """Save the best seed's model to ``path`` (a ``.keras`` file)."""
        if getattr(self, "model_", None) is None:
            raise ValueError("this NEEP is not fitted yet: call fit() or NEEP.load() first")
        return write_model(self.model_, path)

    @classmethod
    def load(cls, path: str | Path) -> "NEEP":
        """A fitted ``NEEP`` (predict / ep_rate) from a ``.keras`` file written by ``save``."""
        model = read_model(path)
        est = cls(model=model.kind, seq_len=model.seq_len)
        est.model_, est.models_, est.best_seed_ = model, [model], 0
        est.train_ = est.test_ = None  # not kept in the model file
        est.kind_, est.seq_len_, est.n_states_ = model.kind, model.seq_len, model.n_states
        est.labels_ = None if model.labels is None else tuple(model.labels)
        est.dt_, est.dt_known_ = model.dt, True
        return est


def load_model(path: str | Path) -> NEEP:
    """Same as ``NEEP.load(path)``."""
    return NEEP.load(path)
