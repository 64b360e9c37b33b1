"""Training the networks of a ``NEEP`` fit: one seed at a time, or all seeds as one stacked model (JAX).

``train_one`` is one seed's ``model.fit`` with its monitor (model selection on
validation data), progress lines and checkpoint callbacks. ``train_stacked``
trains several seeds at once on the JAX backend: the same models, monitors
and callbacks, but one compiled call advances every seed
(``training.stacked.StackedTrainer``); at each evaluation the weights are written back
into the per-seed models and every seed's callbacks run as ``model.fit``
would run them. Each seed keeps its own batches, selection and estimate.
"""

from __future__ import annotations

import contextlib

import keras
import numpy as np

from ..baselines.parity import fit_gaussian_parity
from ..data.windows import gather_windows
from ..nn.backend import is_jax
from ..nn.divergence import DivergenceStop
from ..nn.model import NEEPModel, make_optimizer
from ..nn.monitors import EPMonitor
from ..nn.progress import ProgressPrinter
from ..nn.networks import build_network, set_linear_current, set_polynomial_current
from ..nn.parity_layers import pair_network
from .config import FitConfig
from .feed import training_feed
from .interrupts import SafeInterrupt, deferred_interrupts
from .prepare import PreparedFit
from .seeds import seed_for
from .start import is_cubic
from .warm_start import set_start_weights

__all__ = ["KEEP_START_UNLESS", "KEEP_CUBIC_START_UNLESS", "CUBIC_START_HORIZONS", "DROP_HORIZONS", "LATEST_WITHIN",
           "PATIENCE_RESOLVES", "TRAIN_EVERY", "patience_start", "odd_pair_start", "build_seed_model", "train_one",
           "train_stacked", "stacking", "data_parallel_scope"]

#: The current model keeps its closed-form start unless training beats its validation J by
#: this many standard errors: the rate moves at first order with any noise in the network
#: while J moves at second order, so an insignificant gain in J is a likely loss in the
#: rate. 3, not 2: the best of ~30 evaluations is compared with the start (a maximum over
#: many correlated tests; at 2 the 5-bead grid rows kept noise twice, +7 % and +21 %).
KEEP_START_UNLESS = 3.0
#: ... and its cubic start (``training.start``, chosen only where it beat the linear one on validation)
#: unless training beats it by this many: on the driven ring the correction raised the validation J for
#: 10 000 steps and the rate by 8.6 paired errors, and the J gain stayed below 3 of its paired errors.
KEEP_CUBIC_START_UNLESS = 2.0


#: From a cubic closed-form start (``training.start``) patience may stop training only after this many
#: horizons of the moving average: the correction's gradient is the small residual the start misses, and
#: on the driven ring it had not beaten the start's validation J after one horizon (the fit kept the start,
#: 1.106 against the chain's 1.165, unflagged), where from the linear start it had.
CUBIC_START_HORIZONS = 3.0

#: After the learning rate's drop, patience counts again only after this many horizons of the moving average:
#: the averaged weights reach 1 - e^-k of the drop's effect after k horizons (63 % at 1). With one, the swirl
#: stopped while the drop still lifted its rate (+0.015 over the last 1000 steps, 1.2 reported errors, flagged
#: "not converged" on a fit 0.5 % from the exact rate); the same fit one evaluation longer found a new best J
#: at 2 horizons and the rate flat after it (benchmarks/RESULTS-estimators.md, session 8).
DROP_HORIZONS = 2.0

#: After the learning rate's drop, the current model keeps the last evaluation within this many paired
#: standard errors of the best validation J, not the best (``EPMonitor(latest_within=...)``).
LATEST_WITHIN = 2.0

#: Before the learning rate's drop, the current model's patience counts an evaluation as an improvement only when
#: its validation J beats the last such one by this many paired standard errors (``EPMonitor(resolve=...)``): on a
#: plateau, drifts of the averaged weights' J by a fraction of its noise restarted the count; after the drop any new
#: best counts, as the rate still rises there (benchmarks/RESULTS-estimators.md, session 11).
PATIENCE_RESOLVES = 1.0

#: The training subset is evaluated at every this-many-th evaluation (the curve in convergence.png and the
#: history's ``train_ep_rate``); the overfitting check predicts the kept weights on it again at the end.
#: At every evaluation it was half of the monitor's cost: 11 of 101 s of a ring fit (cProfile, session 9).
TRAIN_EVERY = 5


def _first(states):
    return states[0] if isinstance(states, tuple) else states


def patience_start(ema_momentum: float | None, horizons: float = 1.0) -> int:
    """The iteration from which patience may stop a training averaged at ``ema_momentum``: ``horizons`` horizons.

    The horizon of a moving average is ``1 / (1 - momentum)`` steps (1000 at 0.999); without
    an average (None or 0), 0. Within it the evaluated (averaged) weights are still mostly the
    start, so evaluations say little about what training can reach. (Two horizons were tried on
    the 20-bead FPU chain, which stopped at 1000 steps with its closed-form start: it trained
    4300 steps and still kept the start, while the linear chain of the README paid 2x the
    steps; with ``neep fit``'s patience, 10 evaluations of 100 steps, one horizon changes nothing.)
    """
    if not ema_momentum:
        return 0
    return int(round(horizons / (1.0 - float(ema_momentum))))


def odd_pair_start(config: FitConfig, prepared: PreparedFit, train):
    """The Gaussian forms a pair network of odd data starts at (``nn.parity_layers.pair_network``), or None.

    With odd columns, the pair MLP (``kind == "mlp"``, pairs) starts at the
    Gaussian pair log-ratio of ``train`` unless ``config.linear_start`` is off.
    """
    if not (config.odd and config.linear_start and prepared.kind == "mlp" and prepared.seq_len == 2):
        return None
    if isinstance(train.states, tuple):
        return None
    odd = [int(i) for i in config.odd]
    dim = train.dim
    center = np.zeros(dim) if prepared.mean is None else np.array(
        [0.0 if i in odd else m for i, m in enumerate(prepared.mean)])  # as NEEPModel standardizes odd columns
    scale = np.ones(dim) if prepared.std is None else np.asarray(prepared.std, dtype=np.float64)
    return fit_gaussian_parity(train.states, odd).pair_forms(center, scale)


def build_seed_model(config: FitConfig, prepared: PreparedFit, train, seed: int, label: str | None, linear=None):
    """One seed's compiled model, its monitor and its callbacks (monitor first), before training."""
    kind, seq_len = prepared.kind, prepared.seq_len
    policy = None if config.precision == "float32" else config.precision
    forms = odd_pair_start(config, prepared, train)
    if forms is not None:  # odd columns: the Gaussian pair log-ratio plus a correction (nn.parity_layers)
        network = pair_network(train.dim, forms, config.hidden_units or 128, config.layers or 2, seed=seed)
    else:
        network = build_network(kind, n_states=prepared.n_states, hidden_units=config.hidden_units,
                                layers=config.layers, embedding_dim=config.embedding_dim, dtype=policy, seed=seed,
                                dim=train.dim, poly_terms=linear.terms if kind == "current" and is_cubic(linear)
                                else None)
    model = NEEPModel(
        network,
        seq_len=seq_len,
        weight_decay=0.0 if config.decoupled_weight_decay else float(config.weight_decay),
        mean=prepared.mean,
        std=prepared.std,
        ema_momentum=config.ema_momentum,
        n_states=prepared.n_states,
        dt=prepared.dt,
        kind=kind,
        labels=prepared.labels,
        odd=config.odd,
        objective="logistic" if config.odd else "neep",
        noise_variance=prepared.noise_variance if kind == "current" else None,
    )
    sample = gather_windows(_first(train.states), np.zeros(1, int), np.zeros(1, int), seq_len)
    model(sample)
    if kind == "current" and linear is not None:
        set_linear_current(network, linear.kernel, linear.bias)
        if is_cubic(linear):
            set_polynomial_current(network, linear.higher)
    if config.warm_start is not None:  # resolved to the network's weights by NEEP.fit (warm_start)
        set_start_weights(model, config.warm_start)
    # JAX: always compiled (uncompiled JAX runs op by op); the steps of one call are a scan
    # over a block of batches (jax_step), not Keras' Python loop (steps_per_execution).
    model.compile(
        optimizer=make_optimizer(config.learning_rate, config.weight_decay, config.decoupled_weight_decay,
                                 config.final_learning_rate, config.epochs * config.eval_interval),
        jit_compile=True if is_jax() else config.jit_compile,
        # TensorFlow under MirroredStrategy: one step per call (Keras' multi-step loop
        # under tf.distribute failed to run in TF 2.21: "You must feed a value for placeholder").
        steps_per_execution=1 if is_jax() or config.data_parallel else config.steps_per_call,
    )
    model.build_from_data(sample)
    monitor = EPMonitor(prepared.sub_states, dt=prepared.dt, seq_len=seq_len, every=None, exact_ep=prepared.sub_ep,
                        restore_best=config.restore_best, batch_size=config.eval_batch_size,
                        train_states=prepared.train_sub, train_every=TRAIN_EVERY, evaluate_start=True,
                        keep_start_unless=KEEP_START_UNLESS if forms is not None else None if linear is None
                        else KEEP_CUBIC_START_UNLESS if is_cubic(linear) else KEEP_START_UNLESS,
                        patience=config.patience, patience_from=patience_start(config.ema_momentum),
                        latest_within=LATEST_WITHIN if linear is not None else None,
                        stop_from=patience_start(config.ema_momentum, CUBIC_START_HORIZONS) if is_cubic(linear) else 0,
                        drop_wait=patience_start(config.ema_momentum, DROP_HORIZONS),
                        resolve=PATIENCE_RESOLVES if kind == "current" else None)
    return model, monitor


def _finish(config: FitConfig, model, monitor):
    """After training: the kept weights (best, or the last average) and the ``kept`` flags."""
    if not config.restore_best:
        with model.average_weights():
            final = model.get_weights()
        model.set_weights(final)
    kept = monitor.best_iteration if config.restore_best else monitor.history[-1]["iteration"]
    for rec in monitor.history:
        rec["kept"] = rec["iteration"] == kept
    return model, monitor


def train_one(config: FitConfig, prepared: PreparedFit, train, seed: int, label: str | None, linear=None,
              checkpoint=None):
    """One network trained on ``train`` with validation monitoring; returns (model, monitor).

    ``checkpoint``: ``(RunCheckpoint, seed index)`` to back up and resume (see ``checkpoint``).
    """
    model, monitor = build_seed_model(config, prepared, train, seed, label, linear)
    stop = DivergenceStop(monitor)  # right after the monitor: it reads the monitor's latest record
    callbacks = [monitor, stop]
    data_seed = seed
    if checkpoint is not None:
        run, k = checkpoint
        before, after = run.callbacks(k, monitor)
        callbacks = before + callbacks + after
        resumed = run.resumed_epoch(k)
        if resumed:  # a fresh stream of batches, not a replay of the first ones
            data_seed = seed_for(seed, 1 + resumed)
    epochs = config.epochs
    if config.verbose and label is not None:
        callbacks.append(ProgressPrinter(monitor, label, epochs * config.eval_interval))
    callbacks.extend(config.callbacks)
    steps = config.steps_per_call
    if config.data_parallel:  # several workers (processes): each draws its own windows
        from .workers import worker_seed

        data_seed = worker_seed(data_seed)
    dataset = training_feed(train.states, prepared.seq_len, config.batch_size, seed=data_seed, steps=steps,
                            device=config.device)
    # With a checkpoint, Ctrl-C stops at a batch or epoch end, never halfway through writing it (interrupts).
    with deferred_interrupts() if checkpoint is not None else contextlib.nullcontext() as pending:
        if pending is not None:
            callbacks.append(SafeInterrupt(pending))
        model.fit(dataset, epochs=epochs,
                  steps_per_epoch=config.eval_interval // steps if is_jax() else config.eval_interval,
                  callbacks=callbacks, verbose=2 if config.verbose >= 2 else 0, shuffle=False)
    stop.check(label)
    return _finish(config, model, monitor)


def data_parallel_scope(enabled: bool):
    """Data parallel over all local devices while training, else nothing.

    JAX: ``keras.distribution.DataParallel``; models built inside have their
    weights replicated on every device, and the feed and the step split each
    batch across them (``training.feed``, ``jax_step``); after
    ``workers.initialize_processes()``, the devices of every process. TensorFlow:
    ``tf.distribute.MirroredStrategy`` over the GPUs (the CPU's logical
    devices when there is no GPU), or the strategy already in scope (several
    workers, ``training.workers``); Keras splits each batch across the replicas and
    the step scales each replica's loss (``model``).
    """
    if not enabled:
        return contextlib.nullcontext()
    if is_jax():
        import jax

        from .workers import check_processes

        check_processes()  # several processes: joined before (workers.initialize_processes)
        # Every device of every process; the feed is each process's own (no tf.data to shard).
        return keras.distribution.DataParallel(devices=jax.devices(), auto_shard_dataset=False).scope()
    import tensorflow as tf

    if tf.distribute.has_strategy():  # a strategy already in scope (several workers: see ``training.workers``)
        return contextlib.nullcontext()
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in devices]).scope()


def stacking(config: FitConfig, seeds_left: list[int], checkpoint=None) -> bool:
    """Whether to train the seeds left as one stacked model (JAX, two or more, none half-trained)."""
    if config.stack_seeds is False or len(seeds_left) < 2 or not is_jax():
        return False
    if config.data_parallel or keras.distribution.distribution() is not None:  # data parallel: one seed at a time
        return False
    if checkpoint is not None and any(checkpoint.resumed_epoch(k) > 0 for k in seeds_left):
        return False  # a seed backed up mid-training resumes on its own (BackupAndRestore)
    return True


def train_stacked(config: FitConfig, prepared: PreparedFit, seeds: list[int], labels: list[str | None], linear=None,
                  checkpoint=None, indices: list[int] | None = None) -> list:
    """Train seeds ``seeds`` as one stacked model (JAX); returns [(model, monitor), ...] in order.

    Each seed: its own initialization, batches (``training_feed`` seeded like
    ``train_one``), monitor, progress lines and user callbacks. With a
    checkpoint, each seed's partial files are written at every evaluation
    (a resume restarts the stacked seeds from the beginning: their optimizer
    state is not backed up mid-training).
    """
    from .stacked import StackedTrainer, stacked_feed

    indices = list(range(len(seeds))) if indices is None else indices
    built = [build_seed_model(config, prepared, prepared.train, s, lab, linear) for s, lab in zip(seeds, labels)]
    epochs, steps = config.epochs, config.steps_per_call
    lists, stops = [], [DivergenceStop(monitor) for _, monitor in built]
    for (model, monitor), label, k, stop in zip(built, labels, indices, stops):
        callbacks = [monitor, stop]  # a diverging seed is reported after the stacked training
        if checkpoint is not None:
            callbacks += checkpoint.callbacks_after(k, monitor)
        if config.verbose and label is not None:
            callbacks.append(ProgressPrinter(monitor, label, epochs * config.eval_interval))
        callbacks.extend(config.callbacks)
        lists.append(keras.callbacks.CallbackList(callbacks, model=model))
    trainer = StackedTrainer([model for model, _ in built])
    feed = stacked_feed([training_feed(prepared.train.states, prepared.seq_len, config.batch_size, seed=s, steps=steps,
                                       device=config.device) for s in seeds])
    for callbacks in lists:
        callbacks.on_train_begin()
    calls = config.eval_interval // steps
    # With a checkpoint, Ctrl-C stops between calls or after every seed's epoch end (interrupts).
    with deferred_interrupts() if checkpoint is not None else contextlib.nullcontext() as pending:
        stopped: set[int] = set()  # seeds whose monitor stopped them (patience): frozen, no more callbacks
        for epoch in range(epochs):
            for j, callbacks in enumerate(lists):
                if j not in stopped:
                    callbacks.on_epoch_begin(epoch)
            for _ in range(calls):
                logs = trainer.step(next(feed))
                if pending is not None:
                    pending.raise_if_requested()
            trainer.unstack(stopped)
            values = {name: np.asarray(value) for name, value in logs.items()}
            for j, callbacks in enumerate(lists):
                if j not in stopped:
                    decayed = built[j][1].decayed_at
                    callbacks.on_epoch_end(epoch, {name: float(v[j]) for name, v in values.items()})
                    if built[j][1].decayed_at != decayed:  # the monitor dropped this seed's learning rate
                        trainer.reload_optimizer(j)
                    if getattr(built[j][0], "stop_training", False):
                        stopped.add(j)
            if pending is not None:
                pending.raise_if_requested()
            if len(stopped) == len(lists):
                break
    for callbacks in lists:
        callbacks.on_train_end()
    for stop, label in zip(stops, labels):
        stop.check(label)
    return [_finish(config, model, monitor) for model, monitor in built]
