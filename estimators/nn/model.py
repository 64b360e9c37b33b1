"""``NEEPModel``: a Keras model whose custom training step maximizes the NEEP objective.

Input: a batch of windows ``(batch, n, d)`` float32 or ``(batch, n)`` integers
(``n = 2``: pairs of consecutive states). Output: ``dS`` of shape ``(batch,)``.
There are no labels: ``fit`` takes a dataset yielding the windows alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import keras
import numpy as np
from keras import ops

from .backend import is_jax
from .layers import Antisymmetric, CurrentAnsatz, Standardize
from .objective import OBJECTIVES, logistic_objective, neep_objective

__all__ = ["NEEPModel", "make_optimizer"]


def make_optimizer(
    learning_rate: float = 1e-4, weight_decay: float = 5e-5, decoupled: bool = False,
    final_learning_rate: float | None = None, steps: int = 1,
) -> keras.optimizers.Optimizer:
    """Adam for a ``NEEPModel``; ``final_learning_rate``: decayed geometrically to it over ``steps``.

    ``decoupled=False`` (the paper's): plain Adam; the weight decay is applied
    by ``NEEPModel`` as PyTorch's coupled L2 term (pass the same
    ``weight_decay`` to the model). ``decoupled=True``: Keras ``AdamW``
    (decay ``learning_rate * weight_decay * w`` per step, outside Adam's
    moments); the model's ``weight_decay`` must then be 0.
    """
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    if final_learning_rate is not None:
        learning_rate = keras.optimizers.schedules.ExponentialDecay(
            learning_rate, decay_steps=max(1, int(steps)), decay_rate=final_learning_rate / learning_rate)
    if decoupled:
        return keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)
    return keras.optimizers.Adam(learning_rate=learning_rate)


@keras.saving.register_keras_serializable(package="neep")
class NEEPModel(keras.Model):
    """NEEP / RNEEP estimator ``dS = h(w) - h(reversed w)`` with a custom training step.

    ``train_step`` maximizes ``J = mean(dS - exp(-dS))`` (Eq. 2) by minimizing
    ``-J``: under ``tf.GradientTape`` on the TensorFlow backend, statelessly
    under ``jax.jit`` on the JAX backend (``neep.estimators.nn.jax_step``, which
    also takes blocks of several batches per call). ``test_step`` reports the
    same objective and the mean EP per step on held-out windows.

    Parameters
    ----------
    network : keras.layers.Layer
        The network ``h`` (see ``neep.estimators.networks``).
    seq_len : int
        Window length ``n`` the model is trained on (2 for pairs). Stored so
        a loaded model knows how to cut new trajectories.
    weight_decay : float
        Coupled L2 weight decay, PyTorch ``Adam(weight_decay=...)`` style (the
        paper's, supplement I: 5e-5): ``grad += weight_decay * w`` for every
        trainable variable before the optimizer step, so the decay goes
        through Adam's moment normalization. This is NOT Keras'
        ``Adam(weight_decay=...)``, which is decoupled (AdamW); for that, pass
        0 here and use ``make_optimizer(..., decoupled=True)``.
    mean, std : sequence of float or None
        Input standardization per coordinate (continuous data); stored in the
        saved model so raw data can be fed at prediction time.
    ema_momentum : float or None
        If set (e.g. 0.999), keep an exponential moving average of the
        trainable weights, updated every step; ``average_weights()``
        temporarily swaps it in (the monitors evaluate it).
    n_states, dt, kind : metadata
        Number of discrete states (None: continuous), time per step of the
        training data, and the network's kind; stored for ``neep predict``.
    labels : list or None
        Discrete states: the original label of each code 0..K-1 (ints or
        str), so new data are coded the same way (``labels``).
        ``kind="current"`` also chooses the form: ``dS = F(midpoint) . ds``
        (``CurrentAnsatz``, pairs only, ``network`` is ``F``); any other kind
        ``dS = h(w) - h(reversed w)`` (``Antisymmetric``).
    odd : sequence of int, optional
        Columns odd under time reversal (velocities): the reversed window
        flips them (``Antisymmetric(odd=...)``). Their standardization mean is
        set to 0, so that standardizing commutes with the flip. Not with the
        current kind (see ``nn.kinds.default_kind``).
    noise_variance : sequence of float or None
        Localization-noise variance per coordinate, in data units (current
        kind only): training maximizes the noise-corrected objective
        ``mean(dS - exp(-dS - F^T S F))`` (``CurrentAnsatz``, with ``S`` in
        standardized units) and ``predict_noise_penalty`` gives the term.
    objective : {"neep", "logistic"}
        What training maximizes: the NEEP objective J (the paper's), or
        ``mean ln sigmoid(dS)`` (``nn.objective.logistic_objective``: the same
        optimum, bounded gradients; for the heavy-tailed log-ratios of data
        with odd variables). The monitors report J either way.
    """

    def __init__(
        self,
        network: keras.layers.Layer,
        *,
        seq_len: int = 2,
        weight_decay: float = 0.0,
        mean=None,
        std=None,
        ema_momentum: float | None = None,
        n_states: int | None = None,
        dt: float = 1.0,
        kind: str | None = None,
        labels: list | None = None,
        odd=None,
        objective: str = "neep",
        noise_variance=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
        self.objective = objective
        self.odd = None if not odd else [int(i) for i in odd]
        if self.odd and kind == "current":
            raise ValueError("the current model is antisymmetric under the even reversal only; with odd "
                             "columns (velocities) use mlp or gru")
        if self.odd and mean is not None:
            mean = [0.0 if i in self.odd else float(m) for i, m in enumerate(mean)]
        if int(seq_len) < 2:
            raise ValueError(f"seq_len must be >= 2, got {seq_len!r}")
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        if ema_momentum is not None and not 0 < ema_momentum < 1:
            raise ValueError(f"ema_momentum must be in (0, 1), got {ema_momentum!r}")
        self.seq_len = int(seq_len)
        self.weight_decay = float(weight_decay)
        self.ema_momentum = None if ema_momentum is None else float(ema_momentum)
        self.n_states = None if n_states is None else int(n_states)
        self.dt = float(dt)
        self.kind = kind
        self.labels = None if labels is None else list(labels)
        self.standardize = None if mean is None else Standardize(mean, std, name="standardize")
        if kind == "current" and self.seq_len != 2:
            raise ValueError(f"the current model reads pairs (seq_len 2), got seq_len {self.seq_len}; "
                             "use gru or mlp for windows")
        # Both forms are antisymmetric by construction; one attribute name for either.
        if noise_variance is not None and kind != "current":
            raise ValueError(f"noise_variance corrects the current model only, got kind {kind!r}")
        self.noise_variance = None if noise_variance is None else [max(float(v), 0.0) for v in noise_variance]
        if kind == "current":
            scale = np.ones(len(noise_variance or ())) if std is None else np.asarray(std, dtype=np.float64)
            noise = None if noise_variance is None else (np.asarray(self.noise_variance) / scale**2).tolist()
            self.antisymmetric = CurrentAnsatz(network, noise=noise, name="antisymmetric")
        else:
            self.antisymmetric = Antisymmetric(network, odd=self.odd, name="antisymmetric")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.objective_tracker = keras.metrics.Mean(name="objective")
        self.ep_tracker = keras.metrics.Mean(name="ep_per_step")
        self._ema_vars: list = []

    # -- structure -------------------------------------------------------------
    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if self.standardize is not None:
            self.standardize.build(input_shape)
        self.antisymmetric.build(input_shape)
        if self.ema_momentum is not None and not self._ema_vars:
            # "only_first_replica": under tf.distribute every replica computes the same average
            # from the same (mirrored) weights; one writes it.
            self._ema_count = self.add_weight(
                shape=(), initializer="zeros", trainable=False, name="ema_count", dtype="float32",
                aggregation="only_first_replica",
            )
            self._ema_vars = [
                self.add_weight(
                    shape=v.shape, initializer="zeros", trainable=False, name=f"ema_{i}", dtype=v.dtype,
                    aggregation="only_first_replica",
                )
                for i, v in enumerate(self.antisymmetric.trainable_variables)
            ]
        self.built = True

    def build_from_data(self, x) -> bool:
        """Build the model (weights, moving-average slots) and its optimizer from a data source, eagerly.

        ``fit`` and ``evaluate`` call this first, so that a fresh model works
        with a plain ``model.fit(dataset)``: TensorFlow forbids creating
        variables inside the compiled training step (the moving average and
        the optimizer's slots would be), so they are created here, outside it,
        by one eager call on a zero batch shaped like ``x``'s elements.

        Parameters
        ----------
        x : tf.data.Dataset, array or tensor
            A dataset (its ``element_spec``; the first element when it yields
            tuples) or a batch of windows. Other sources (Python generators)
            are not inspected: build those models yourself by calling them
            on one batch.

        Returns
        -------
        bool
            True when the model is (now) built.
        """
        if not self.built:
            spec = _input_spec(x)
            if spec is None:
                return False
            shape, dtype = spec
            self(np.zeros((1,) + shape, dtype=dtype), training=False)
        optimizer = getattr(self, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.trainable_variables)
        return True

    def fit(self, x=None, *args, **kwargs):
        """``keras.Model.fit`` after ``build_from_data(x)`` (a fresh model trains from scratch)."""
        self.build_from_data(x)
        return super().fit(x, *args, **kwargs)

    def evaluate(self, x=None, *args, **kwargs):
        """``keras.Model.evaluate`` after ``build_from_data(x)``."""
        self.build_from_data(x)
        return super().evaluate(x, *args, **kwargs)

    def call(self, inputs, training=None, with_penalty=False):
        x = inputs
        if self.standardize is not None:
            x = self.standardize(x)
        if with_penalty:  # (dS, q): the current model's noise term (zeros without noise)
            return self.antisymmetric(x, training=training, with_penalty=True)
        return self.antisymmetric(x, training=training)

    @property
    def network(self) -> keras.layers.Layer:
        """The network ``h`` inside the antisymmetric layer."""
        return self.antisymmetric.network

    @property
    def metrics(self):
        # Our own trackers only: fit/evaluate reset them, and no compiled loss
        # tracker shadows "loss" (which would report 0.0).
        return [self.loss_tracker, self.objective_tracker, self.ep_tracker]

    # -- steps -----------------------------------------------------------------
    def _update_trackers(self, delta_s):
        objective = delta_s - ops.exp(-delta_s)
        self.loss_tracker.update_state(-objective)
        self.objective_tracker.update_state(objective)
        self.ep_tracker.update_state(delta_s)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, *args):
        if is_jax():
            from .jax_step import jax_train_step

            return jax_train_step(self, *args)
        return self._tf_train_step(*args)

    def _ema_index(self) -> tuple[int, list[int], list[int]]:
        """Positions of the moving-average count, the averages and their weights in the state lists."""
        non_trainable = [id(v) for v in self.non_trainable_variables]
        trainable = [id(v) for v in self.trainable_variables]
        return (non_trainable.index(id(self._ema_count)),
                [non_trainable.index(id(v)) for v in self._ema_vars],
                [trainable.index(id(v)) for v in self.antisymmetric.trainable_variables])

    def _tf_train_step(self, data):
        import tensorflow as tf

        x = data[0] if isinstance(data, (tuple, list)) else data
        variables = self.trainable_variables
        # Under tf.distribute (data parallel) the optimizer sums the replicas' gradients: each
        # replica's share of the mean objective and of the L2 term is 1 / replicas of it.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            if self.noise_variance is not None:
                delta_s, penalty = self(x, training=True, with_penalty=True)
                loss = -neep_objective(delta_s, penalty) / replicas
            else:
                delta_s = self(x, training=True)
                maximized = logistic_objective if self.objective == "logistic" else neep_objective
                loss = -maximized(delta_s) / replicas
        grads = tape.gradient(loss, variables)
        if self.weight_decay > 0:
            decay = self.weight_decay / replicas
            grads = [tf.convert_to_tensor(g) + decay * v for g, v in zip(grads, variables)]
        self.optimizer.apply(grads, variables)
        if self._ema_vars:
            m = self.ema_momentum
            first = tf.equal(self._ema_count, 0.0)
            for avg, v in zip(self._ema_vars, self.antisymmetric.trainable_variables):
                avg.assign(tf.where(first, v, m * avg + (1.0 - m) * v))
            self._ema_count.assign_add(1.0)
        logs = self._update_trackers(delta_s)
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras reduces the logs of several workers with a mean along axis 0, which scalars
            # lack (TF 2.21, Keras 3.15): hand them over as 1-vectors, reduced back to scalars.
            logs = {name: tf.reshape(value, (1,)) for name, value in logs.items()}
        return logs

    def test_step(self, *args):
        if is_jax():
            return super().test_step(*args)  # unused by neep (predict_delta_s evaluates)
        data = args[0]
        x = data[0] if isinstance(data, (tuple, list)) else data
        return self._update_trackers(self(x, training=False))

    # -- moving average ------------------------------------------------------------
    @contextmanager
    def average_weights(self) -> Iterator[bool]:
        """Temporarily replace the weights by their moving average (if kept and started).

        Yields True when the average is in place, False when there is none.
        """
        if not self._ema_vars or float(ops.convert_to_numpy(self._ema_count)) == 0:
            yield False
            return
        variables = self.antisymmetric.trainable_variables
        saved = [ops.convert_to_numpy(v) for v in variables]
        for v, avg in zip(variables, self._ema_vars):
            v.assign(avg)
        try:
            yield True
        finally:
            for v, value in zip(variables, saved):
                v.assign(value)

    # -- serialization -------------------------------------------------------------
    def get_config(self):
        return {
            "name": self.name,
            "network": keras.saving.serialize_keras_object(self.antisymmetric.network),
            "seq_len": self.seq_len,
            "weight_decay": self.weight_decay,
            "mean": None if self.standardize is None else self.standardize.mean,
            "std": None if self.standardize is None else self.standardize.std,
            "ema_momentum": self.ema_momentum,
            "n_states": self.n_states,
            "dt": self.dt,
            "kind": self.kind,
            "labels": self.labels,
            "odd": self.odd,
            "objective": self.objective,
            "noise_variance": self.noise_variance,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        return cls(**config)


def _input_spec(x) -> tuple[tuple[int, ...], str] | None:
    """Shape of one window (without the batch axis) and dtype name of a data source, or None."""
    spec = getattr(x, "element_spec", None)  # a tf.data.Dataset (TensorFlow imported by its maker)
    if spec is not None:
        if isinstance(spec, (tuple, list)):
            spec = spec[0] if spec else None
        shape = getattr(spec, "shape", None)
        dtype = getattr(spec, "dtype", None)
        if shape is None or dtype is None or shape.rank is None:
            return None
        dims, name = tuple(shape), dtype.name
    elif hasattr(x, "shape") and hasattr(x, "dtype"):
        dims, name = tuple(x.shape), np.dtype(x.dtype).name
    else:
        return None
    if len(dims) < 2 or any(d is None for d in dims[1:]):
        return None
    if np.issubdtype(np.dtype(name), np.integer):
        name = "int32"
    return tuple(int(d) for d in dims[1:]), name
