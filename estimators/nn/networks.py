"""Builders of the network ``h`` that ``Antisymmetric`` turns into an EP estimator.

Each builder returns a ``keras.Sequential`` mapping a batch of windows
``(batch, n, d)`` (continuous) or ``(batch, n)`` (discrete, integer states) to
``(batch, 1)``. Defaults are the paper's (supplement I):

* ``mlp_network``: flatten the window, 3 hidden layers of 512, ReLU;
* ``embedding_network``: 128-d embedding of each state, flatten, 2 hidden
  layers of 128, ReLU;
* ``current_network``: the thermodynamic force ``F`` of the current ansatz
  (``CurrentAnsatz``): a linear map ``z @ K + b`` (set in closed form by the
  estimator, frozen) plus an MLP correction whose output layer starts at
  zero, so the network starts exactly at the linear current;
* ``gru_network`` (RNEEP, Fig. 3d): GRU of 128 units over the window (over an
  embedding for discrete states, over the raw vectors for continuous ones),
  outputs averaged over the window, then one dense output.

``dtype`` is a Keras dtype policy for the hidden layers (``"float32"`` or
``"mixed_bfloat16"``); the output layer is always float32. ``seed`` makes the
initialization reproducible without touching global random state (each layer
gets its own seeded initializer).
"""

from __future__ import annotations

import keras

from .layers import Monomials

__all__ = [
    "mlp_network",
    "embedding_network",
    "gru_network",
    "current_network",
    "set_linear_current",
    "set_polynomial_current",
    "build_network",
    "MODEL_KINDS",
]

MODEL_KINDS = ("current", "mlp", "embedding", "gru")


def _check_positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int,)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


class _Seeds:
    """Hands out distinct integer seeds (None stays None: Keras draws its own)."""

    def __init__(self, seed: int | None):
        self.seed = None if seed is None else int(seed) * 1009
        self.count = 0

    def __call__(self) -> int | None:
        self.count += 1
        # Below 2^31: JAX's seeds are 32-bit.
        return None if self.seed is None else (self.seed + self.count) % (2**31 - 1)


def _dense_stack(hidden_units: int, layers: int, dtype, seeds: _Seeds) -> list:
    stack = []
    for _ in range(layers):
        stack.append(
            keras.layers.Dense(
                hidden_units,
                activation="relu",
                kernel_initializer=keras.initializers.GlorotUniform(seed=seeds()),
                dtype=dtype,
            )
        )
    stack.append(
        keras.layers.Dense(
            1, kernel_initializer=keras.initializers.GlorotUniform(seed=seeds()), dtype="float32"
        )
    )
    return stack


def mlp_network(
    hidden_units: int = 512, layers: int = 3, *, dtype: str | None = None, seed: int | None = None
) -> keras.Sequential:
    """MLP ``h`` for continuous states: flatten ``(batch, n, d)``, ``layers`` x ReLU, dense 1."""
    hidden_units = _check_positive("hidden_units", hidden_units)
    layers = _check_positive("layers", layers)
    seeds = _Seeds(seed)
    return keras.Sequential(
        [keras.layers.Flatten(dtype=dtype)] + _dense_stack(hidden_units, layers, dtype, seeds),
        name="mlp",
    )


def embedding_network(
    n_states: int,
    embedding_dim: int = 128,
    hidden_units: int = 128,
    layers: int = 2,
    *,
    dtype: str | None = None,
    seed: int | None = None,
) -> keras.Sequential:
    """Embedding + MLP ``h`` for discrete states ``0..n_states-1`` in windows ``(batch, n)``."""
    n_states = _check_positive("n_states", n_states)
    embedding_dim = _check_positive("embedding_dim", embedding_dim)
    hidden_units = _check_positive("hidden_units", hidden_units)
    layers = _check_positive("layers", layers)
    seeds = _Seeds(seed)
    embed = keras.layers.Embedding(
        n_states,
        embedding_dim,
        embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0, seed=seeds()),
        dtype=dtype,
    )
    return keras.Sequential(
        [embed, keras.layers.Flatten(dtype=dtype)] + _dense_stack(hidden_units, layers, dtype, seeds),
        name="embedding",
    )


def gru_network(
    hidden_units: int = 128,
    layers: int = 1,
    *,
    n_states: int | None = None,
    embedding_dim: int = 128,
    dtype: str | None = None,
    seed: int | None = None,
) -> keras.Sequential:
    """GRU ``h`` (RNEEP): [embedding] -> ``layers`` GRUs -> mean over the window -> dense 1.

    ``n_states=None`` reads continuous windows ``(batch, n, d)`` directly;
    otherwise integer windows ``(batch, n)`` go through an embedding first.
    """
    hidden_units = _check_positive("hidden_units", hidden_units)
    layers = _check_positive("layers", layers)
    seeds = _Seeds(seed)
    stack: list = []
    if n_states is not None:
        n_states = _check_positive("n_states", n_states)
        embedding_dim = _check_positive("embedding_dim", embedding_dim)
        stack.append(
            keras.layers.Embedding(
                n_states,
                embedding_dim,
                embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0, seed=seeds()),
                dtype=dtype,
            )
        )
    for _ in range(layers):
        stack.append(
            keras.layers.GRU(
                hidden_units,
                return_sequences=True,
                kernel_initializer=keras.initializers.GlorotUniform(seed=seeds()),
                recurrent_initializer=keras.initializers.Orthogonal(seed=seeds()),
                dtype=dtype,
            )
        )
    stack.append(keras.layers.GlobalAveragePooling1D(dtype=dtype))
    stack.append(
        keras.layers.Dense(
            1, kernel_initializer=keras.initializers.GlorotUniform(seed=seeds()), dtype="float32"
        )
    )
    return keras.Sequential(stack, name="gru")


def current_network(
    dim: int,
    hidden_units: int = 128,
    layers: int = 2,
    *,
    dtype: str | None = None,
    seed: int | None = None,
    poly_terms=None,
) -> keras.Model:
    """Force ``F: (batch, d) -> (batch, d)`` of the current ansatz: ``linear(z) [+ poly(z)] + correction(z)``.

    ``linear`` (layer name ``"linear"``) is a float32 ``Dense(d)`` that starts
    at zero and is not trained (``set_linear_current`` fills it);
    ``correction`` is ``layers`` x ReLU of ``hidden_units`` then a
    ``Dense(d)`` initialized at zero, so ``F`` starts equal to ``linear``.
    ``poly_terms`` (``nn.layers.Monomials``): also a fixed polynomial part,
    the monomials times a ``Dense(d)`` without bias named ``"poly"``, zero
    and not trained until ``set_polynomial_current`` fills it (the cubic
    closed-form start, ``training.start``).
    """
    dim = _check_positive("dim", dim)
    hidden_units = _check_positive("hidden_units", hidden_units)
    layers = _check_positive("layers", layers)
    seeds = _Seeds(seed)
    inputs = keras.Input((dim,), name="midpoint")
    linear = keras.layers.Dense(dim, kernel_initializer="zeros", dtype="float32", name="linear")
    linear.trainable = False
    hidden = inputs
    for _ in range(layers):
        hidden = keras.layers.Dense(
            hidden_units,
            activation="relu",
            kernel_initializer=keras.initializers.GlorotUniform(seed=seeds()),
            dtype=dtype,
        )(hidden)
    correction = keras.layers.Dense(dim, kernel_initializer="zeros", dtype="float32", name="correction")(hidden)
    parts = [linear(inputs), correction]
    if poly_terms is not None:
        poly = keras.layers.Dense(dim, use_bias=False, kernel_initializer="zeros", dtype="float32", name="poly")
        poly.trainable = False
        parts.insert(1, poly(Monomials(poly_terms, name="monomials")(inputs)))
    force = keras.layers.Add(dtype="float32", name="force")(parts)
    return keras.Model(inputs, force, name="current")


def set_linear_current(network: keras.Model, kernel, bias) -> None:
    """Put a closed-form linear current (``baselines.currents.LinearCurrent``) into ``current_network``'s linear layer."""
    import numpy as np

    layer = network.get_layer("linear")
    layer.set_weights([np.asarray(kernel, dtype="float32"), np.asarray(bias, dtype="float32")])


def set_polynomial_current(network: keras.Model, higher) -> None:
    """Put the higher monomials' coefficients ``(q, d)`` into ``current_network``'s ``poly`` layer."""
    import numpy as np

    network.get_layer("poly").set_weights([np.asarray(higher, dtype="float32")])


def build_network(
    kind: str,
    *,
    n_states: int | None = None,
    hidden_units: int | None = None,
    layers: int | None = None,
    embedding_dim: int = 128,
    dtype: str | None = None,
    seed: int | None = None,
    dim: int | None = None,
    poly_terms=None,
) -> keras.Model:
    """Build ``h`` (or ``F`` for ``"current"``, which needs ``dim``) by name; None sizes take the defaults.

    ``poly_terms``: the current network's fixed polynomial part (``current_network``).
    """
    if kind == "current":
        if dim is None:
            raise ValueError("the current model needs continuous states of known dimension, got dim=None")
        return current_network(dim, hidden_units or 128, layers or 2, dtype=dtype, seed=seed, poly_terms=poly_terms)
    if kind == "mlp":
        return mlp_network(hidden_units or 512, layers or 3, dtype=dtype, seed=seed)
    if kind == "embedding":
        if n_states is None:
            raise ValueError("the embedding model needs discrete (integer) states, got n_states=None")
        return embedding_network(
            n_states, embedding_dim, hidden_units or 128, layers or 2, dtype=dtype, seed=seed
        )
    if kind == "gru":
        return gru_network(
            hidden_units or 128,
            layers or 1,
            n_states=n_states,
            embedding_dim=embedding_dim,
            dtype=dtype,
            seed=seed,
        )
    raise ValueError(f"model must be one of {', '.join(MODEL_KINDS)}, got {kind!r}")
