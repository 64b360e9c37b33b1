"""The parity network ``h_q`` of data with odd variables: a Gaussian start and a learned correction.

The parity log-ratio ``q(z) = ln p(z) / p(eps z)`` (``training.parity``) is
learned as ``h_q(z, eps z) - h_q(eps z, z)``, with
``h_q(u, u') = ln N(u) + correction(u, u')``: it starts at the Gaussian
closed form (exact for linear systems) and the correction starts at zero.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["GaussianLogDensity", "parity_network"]


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


def parity_network(dim: int, precision, center, hidden_units: int = 128, layers: int = 2,
                   seed: int | None = None) -> keras.Model:
    """``h_q(u, u') = ln N(u) + correction(u, u')`` on windows ``(batch, 2, d)``; the correction starts at 0.

    With windows ``(z, eps z)``, ``h_q(z, eps z) - h_q(eps z, z)`` starts at the
    Gaussian parity log-ratio ``ln N(z) / N(eps z)`` (exact for linear systems),
    and the ReLU correction (its last layer initialized at zero) learns the rest.
    """
    inputs = keras.Input((2, int(dim)), name="window")
    hidden = keras.layers.Flatten()(inputs)
    for k in range(int(layers)):
        init = keras.initializers.GlorotUniform(seed=None if seed is None else int(seed) + k)
        hidden = keras.layers.Dense(int(hidden_units), activation="relu", kernel_initializer=init)(hidden)
    correction = keras.layers.Dense(1, kernel_initializer="zeros", dtype="float32", name="correction")(hidden)
    gauss = GaussianLogDensity(precision, center, name="gaussian")(inputs)
    return keras.Model(inputs, keras.layers.Add(dtype="float32")([gauss, correction]), name="parity")
