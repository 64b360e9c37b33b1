"""The networks of data with odd variables: a Gaussian start and a learned correction.

The parity log-ratio ``q(z) = ln p(z) / p(eps z)`` (``training.parity``) is
learned as ``h_q(z, eps z) - h_q(eps z, z)``, with
``h_q(u, u') = ln N(u) + correction(u, u')``; the pair log-ratio
``r(z, z') = ln p(z, z') / p(eps z', eps z)`` as ``h(z, z') - h(eps z', eps z)``
(``nn.layers.Antisymmetric(odd=...)``), with
``h(u, u') = ln N(u) + ln T(u'|u) + correction(u, u')``. Both start at the
Gaussian closed form (``baselines.parity.GaussianParity``, exact for linear
systems): the correction's last layer starts at zero.

Why the pair network starts there. The EP of a step is ``r - [q(z) + q(z')] / 2``,
two log-ratios of order one per step (the parity term) whose difference is
of order ``sigma dt``; a pair network trained from a random start (512 x 3)
learned ``r`` to about 1 % and read -2.1 against 0.667 in the linear 2-D trap
at dt = 0.01 (-496 at dt = 0.001), while the Gaussian closed form read 0.671.
Started at it, a correction that does not beat it on validation data is not
kept (``training.loop``), and the network reads the closed form.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["GaussianLogDensity", "GaussianLogForms", "parity_network", "pair_network"]


@keras.saving.register_keras_serializable(package="neep")
class GaussianLogDensity(keras.layers.Layer):
    """``-(u - c)^T P (u - c) / 2`` of the first state ``u`` of each window ``(batch, n, d)``: ``(batch, 1)``.

    Fixed (not trained): the start of the parity network, ``ln N(z)`` of the
    Gaussian fitted to the training states, written in standardized coordinates.
    """

    def __init__(self, precision, center, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.precision = [[float(v) for v in row] for row in precision]
        self.center = [float(v) for v in center]
        self.trainable = False

    def call(self, inputs):
        u = ops.cast(inputs[:, 0], "float32") - ops.convert_to_tensor(self.center, dtype="float32")
        p = ops.convert_to_tensor(self.precision, dtype="float32")
        return -0.5 * ops.sum(ops.matmul(u, p) * u, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        config = super().get_config()
        config.update(precision=self.precision, center=self.center)
        return config


@keras.saving.register_keras_serializable(package="neep")
class GaussianLogForms(keras.layers.Layer):
    """``-sum_k |W_k v - o_k|^2 / 2`` of each pair window ``(x, x')`` with ``v = (x, x' - x)``: ``(batch, 1)``.

    Fixed (not trained): ``forms`` is a list of ``(W_k, o_k)`` with
    ``W_k (n_k, 2 d)`` and ``o_k (n_k,)`` for windows ``(batch, 2, d)``
    (``baselines.parity.GaussianParity.pair_forms``: whitened, on the step
    ``x' - x`` rather than ``x'``, for float32).
    """

    def __init__(self, forms, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.forms = [[[[float(v) for v in row] for row in matrix], [float(v) for v in offset]]
                      for matrix, offset in forms]
        self.trainable = False

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        v = ops.concatenate([x[:, 0], x[:, 1] - x[:, 0]], axis=-1)
        total = 0.0
        for matrix, offset in self.forms:
            u = ops.matmul(v, ops.transpose(ops.convert_to_tensor(matrix, dtype="float32")))
            u = u - ops.convert_to_tensor(offset, dtype="float32")
            total = total - 0.5 * ops.sum(u * u, axis=-1, keepdims=True)
        return total

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        config = super().get_config()
        config.update(forms=self.forms)
        return config


def _started(dim: int, start: keras.layers.Layer, hidden_units: int, layers: int, seed: int | None,
             name: str) -> keras.Model:
    """``start(window) + correction(window)`` on windows ``(batch, 2, d)``; the ReLU correction starts at 0."""
    inputs = keras.Input((2, int(dim)), name="window")
    hidden = keras.layers.Flatten()(inputs)
    for k in range(int(layers)):
        init = keras.initializers.GlorotUniform(seed=None if seed is None else int(seed) + k)
        hidden = keras.layers.Dense(int(hidden_units), activation="relu", kernel_initializer=init)(hidden)
    correction = keras.layers.Dense(1, kernel_initializer="zeros", dtype="float32", name="correction")(hidden)
    return keras.Model(inputs, keras.layers.Add(dtype="float32")([start(inputs), correction]), name=name)


def parity_network(dim: int, precision, center, hidden_units: int = 128, layers: int = 2,
                   seed: int | None = None) -> keras.Model:
    """``h_q(u, u') = ln N(u) + correction(u, u')`` on windows ``(batch, 2, d)``; the correction starts at 0.

    With windows ``(z, eps z)``, ``h_q(z, eps z) - h_q(eps z, z)`` starts at the
    Gaussian parity log-ratio ``ln N(z) / N(eps z)`` (exact for linear systems),
    and the ReLU correction (its last layer initialized at zero) learns the rest.
    """
    return _started(dim, GaussianLogDensity(precision, center, name="gaussian"), hidden_units, layers, seed, "parity")


def pair_network(dim: int, forms, hidden_units: int = 128, layers: int = 2, seed: int | None = None) -> keras.Model:
    """``h(u, u') = ln N(u) + ln T(u'|u) + correction(u, u')`` on windows ``(batch, 2, d)``.

    ``forms``: ``GaussianParity.pair_forms`` in the network's standardized
    coordinates. Under ``Antisymmetric(odd=...)``, ``h(z, z') - h(eps z', eps z)``
    starts at the Gaussian pair log-ratio ``r`` (exact for linear systems).
    """
    return _started(dim, GaussianLogForms(forms, name="gaussian"), hidden_units, layers, seed, "pair")
