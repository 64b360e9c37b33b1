"""The layer that makes any network ``h`` an entropy-production estimator.

``Antisymmetric(h)`` maps a window of states ``w = (s_t, ..., s_{t+n-1})``,
given as a tensor of shape ``(batch, n, ...)``, to

    dS(w) = h(w) - h(reversed w)        (Eq. 8; Eq. 1 is the case n = 2)

so the pair form ``dS(s, s') = h(s, s') - h(s', s)`` is the window form with
``n = 2``. With variables odd under time reversal (``odd``: velocities) the
reverse also flips those columns, ``eps``: ``dS(s, s') = h(s, s') - h(eps s', eps s)``
(negation is exact, so the antisymmetry stays exact to the bit). ``h`` is evaluated twice, on the window and on its time reverse, in
two separate calls on tensors of the same shape; IEEE subtraction is exactly
antisymmetric (``a - b == -(b - a)``), so ``dS(reversed w) == -dS(w)`` holds to
the last bit whenever ``h`` is deterministic (always, at inference).
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["Antisymmetric", "CurrentAnsatz", "Monomials", "Standardize"]


class _WrapsNetwork(keras.layers.Layer):
    """A layer around one network, serialized with it (the base of both EP forms)."""

    def __init__(self, network: keras.layers.Layer, **kwargs):
        super().__init__(**kwargs)
        self.network = network

    def get_config(self):
        config = super().get_config()
        config["network"] = keras.saving.serialize_keras_object(self.network)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="neep")
class Antisymmetric(_WrapsNetwork):
    """``dS(w) = h(w) - h(reversed w)`` over axis 1 (time) of a batch of windows.

    Parameters
    ----------
    network : keras.layers.Layer
        The network ``h``: maps ``(batch, n, ...)`` to ``(batch, 1)`` (or
        ``(batch,)``). Any Keras layer or model, serializable.
    odd : sequence of int, optional
        Columns (last axis) odd under time reversal, flipped in the reversed
        window; continuous states ``(batch, n, d)`` only.
    **kwargs
        Passed to ``keras.layers.Layer`` (``name``, ``dtype``...).

    Notes
    -----
    Output shape ``(batch,)``, in float32 (``h``'s output is cast). Under a
    mixed-precision policy ``h`` computes in bfloat16; the subtraction happens
    in float32 after the cast, so antisymmetry stays exact.
    """

    def __init__(self, network: keras.layers.Layer, odd=None, **kwargs):
        super().__init__(network, **kwargs)
        self.odd = None if not odd else [int(i) for i in odd]

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if self.odd and (len(input_shape) != 3 or max(self.odd) >= input_shape[2]):
            raise ValueError(f"odd columns {self.odd} need continuous windows (batch, n, d) with d > "
                             f"{max(self.odd)}, got input shape {input_shape}")
        if not self.network.built:
            self.network.build(input_shape)
        self.built = True

    def reverse(self, inputs):
        """The time reverse of a batch of windows: order flipped, odd columns negated."""
        backward = ops.flip(inputs, axis=1)
        if not self.odd:
            return backward
        signs = [-1.0 if i in self.odd else 1.0 for i in range(inputs.shape[-1])]
        return backward * ops.convert_to_tensor(signs, dtype=backward.dtype)

    def get_config(self):
        config = super().get_config()
        config["odd"] = self.odd
        return config

    def _h(self, x, training=None):
        out = self.network(x, training=training)
        out = ops.cast(out, "float32")
        if len(out.shape) == 2:
            out = ops.squeeze(out, axis=-1)
        return out

    def call(self, inputs, training=None):
        forward = self._h(inputs, training=training)
        backward = self._h(self.reverse(inputs), training=training)
        return forward - backward

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)


@keras.saving.register_keras_serializable(package="neep")
class CurrentAnsatz(_WrapsNetwork):
    """``dS(s, s') = F((s + s') / 2) . (s' - s)``: the EP of a pair as a generalized current.

    The Stratonovich (midpoint) form of a current with a learned
    thermodynamic force ``F`` (``network``, mapping ``(batch, d)`` to
    ``(batch, d)``). For overdamped Markov dynamics the exact EP of a short
    step has this form (``F`` = force over temperature plus the gradient of
    ``-ln p``), so the ansatz loses nothing there while it evaluates ``F``
    once per pair (``Antisymmetric`` evaluates ``h`` twice) and learns from
    the displacement directly.

    Antisymmetry is exact to the bit: reversing the pair leaves the midpoint
    bitwise unchanged (IEEE addition commutes), negates ``s' - s`` exactly,
    and a sum of negated products is the negated sum.

    Input: pairs ``(batch, 2, d)`` of continuous states; longer windows are
    refused (the ansatz is a pair form; use ``Antisymmetric`` with a GRU or
    MLP for windows). Output ``(batch,)`` float32.

    ``noise``: localization-noise variance per coordinate, in the units of the
    inputs (standardized), or None. With it, ``call(..., with_penalty=True)``
    also returns ``F^T S F`` per pair, the term by which white Gaussian noise
    of variance ``S`` raises ``<exp(-dS)>`` (``nn.objective``): the
    midpoint's noise ``(eta + eta') / 2`` is independent of the displacement's
    ``eta' - eta`` (equal variances), so given the midpoint ``F . (eta' - eta)``
    is Gaussian with variance ``2 F^T S F``.
    """

    def __init__(self, network: keras.layers.Layer, noise=None, **kwargs):
        super().__init__(network, **kwargs)
        self.noise = None if noise is None else [float(v) for v in noise]

    def get_config(self):
        return {**super().get_config(), "noise": self.noise}

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or input_shape[1] != 2:
            raise ValueError(f"the current ansatz reads pairs (batch, 2, d), got input shape {input_shape}")
        if not self.network.built:
            self.network.build((input_shape[0], input_shape[2]))
        self.built = True

    def call(self, inputs, training=None, with_penalty=False):
        first, second = inputs[:, 0], inputs[:, 1]
        midpoint = (first + second) * 0.5
        force = ops.cast(self.network(midpoint, training=training), "float32")
        delta_s = ops.sum(force * ops.cast(second - first, "float32"), axis=-1)
        if not with_penalty:
            return delta_s
        if self.noise is None:
            return delta_s, ops.zeros_like(delta_s)
        return delta_s, ops.sum(force * force * ops.convert_to_tensor(self.noise, "float32"), axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)


@keras.saving.register_keras_serializable(package="neep")
class Standardize(keras.layers.Layer):
    """``(x - mean) / std`` per coordinate (last axis), statistics stored in the config.

    Applied to every state of a window alike, so it commutes with time reversal
    and keeps ``Antisymmetric`` exact. The statistics travel inside the saved
    model: predictions on raw data stay right after ``load_model``.

    Parameters
    ----------
    mean, std : sequence of float
        One value per coordinate; ``std`` must be > 0.
    """

    def __init__(self, mean, std, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.mean = [float(v) for v in mean]
        self.std = [float(v) for v in std]
        if len(self.mean) != len(self.std):
            raise ValueError(f"mean and std must have the same length, got {len(self.mean)} and {len(self.std)}")
        bad = [v for v in self.std if not v > 0]
        if bad:
            raise ValueError(f"std must be > 0, got {bad[0]!r}")

    def call(self, inputs):
        mean = ops.convert_to_tensor(self.mean, dtype=self.compute_dtype)
        std = ops.convert_to_tensor(self.std, dtype=self.compute_dtype)
        return (ops.cast(inputs, self.compute_dtype) - mean) / std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(mean=self.mean, std=self.std)
        return config


@keras.saving.register_keras_serializable(package="neep")
class Monomials(keras.layers.Layer):
    """Monomials of degree <= 3 of the inputs ``(batch, d)`` -> ``(batch, q)``, float32.

    ``terms``: ``q`` triples of indices into ``[1, z_0, ..., z_{d-1}]`` (0 is the
    constant), the monomial being their product: ``(i+1, 0, 0)`` is ``z_i``,
    ``(i+1, k+1, l+1)`` is ``z_i z_k z_l``. Three gathers and two products, whatever
    ``q`` (a Python loop over the terms would put ``q`` small ops in every step).
    The gathers take rows of the transposed input: on a CPU, TensorFlow's gather
    along the inner axis took 13.7 ms for 471 terms of 20 coordinates at batch 4096,
    rows of the transpose 3.0 ms, with bit-identical values (most of a training step
    of the 20-bead chain's current network). The polynomial start of the current
    network (``training.start``) reads them.
    """

    def __init__(self, terms, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.terms = [[int(i) for i in t] for t in terms]
        if not self.terms or any(len(t) != 3 or min(t) < 0 for t in self.terms):
            raise ValueError("terms must be a non-empty list of triples of indices >= 0")

    def get_config(self):
        return {**super().get_config(), "terms": self.terms}

    def call(self, inputs):
        z = ops.cast(inputs, "float32")
        rows = ops.transpose(ops.concatenate([ops.ones_like(z[:, :1]), z], axis=-1))  # (d + 1, batch)
        factors = [ops.take(rows, [t[k] for t in self.terms], axis=0) for k in range(3)]
        return ops.transpose(factors[0] * factors[1] * factors[2])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.terms))
