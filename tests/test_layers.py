"""Antisymmetry to the bit, networks' shapes, serialization of the custom layers."""

import keras
import numpy as np
import pytest

from neep.estimators import (
    Antisymmetric,
    NEEPModel,
    Standardize,
    embedding_network,
    gru_network,
    mlp_network,
)


def _exactly_antisymmetric(layer, x):
    forward = np.asarray(layer(x))
    backward = np.asarray(layer(np.flip(x, axis=1).copy()))
    assert forward.shape == (x.shape[0],)
    assert np.any(forward != 0)
    # Bit for bit, not approximately.
    assert np.array_equal(forward, -backward)


@pytest.mark.parametrize("dtype", [None, "mixed_bfloat16"])
def test_pair_form_mlp_is_antisymmetric_to_the_bit(rng, dtype):
    layer = Antisymmetric(mlp_network(32, 2, dtype=dtype, seed=1))
    x = rng.normal(size=(513, 2, 3)).astype(np.float32)
    _exactly_antisymmetric(layer, x)
    # dS(s, s) = 0 for a transition to the same state.
    same = np.repeat(x[:, :1], 2, axis=1)
    assert np.array_equal(np.asarray(layer(same)), np.zeros(len(x), np.float32))


def test_pair_form_embedding_is_antisymmetric_to_the_bit(rng):
    layer = Antisymmetric(embedding_network(6, 8, 16, 2, seed=2))
    x = rng.integers(0, 6, size=(400, 2)).astype(np.int32)
    _exactly_antisymmetric(layer, x)


@pytest.mark.parametrize("n_states", [None, 3])
def test_window_form_gru_is_antisymmetric_to_the_bit(rng, n_states):
    layer = Antisymmetric(gru_network(8, n_states=n_states, embedding_dim=4, seed=3))
    if n_states is None:
        x = rng.normal(size=(64, 7, 2)).astype(np.float32)
    else:
        x = rng.integers(0, 3, size=(64, 7)).astype(np.int32)
    _exactly_antisymmetric(layer, x)


def test_window_form_reverses_the_whole_window(rng):
    # h(w) - h(reversed w) with reversed = (s_{t+n-1}, ..., s_t), not a swap of two states.
    net = mlp_network(16, 1, seed=4)
    layer = Antisymmetric(net)
    x = rng.normal(size=(5, 4, 1)).astype(np.float32)
    expected = np.asarray(net(x))[:, 0] - np.asarray(net(x[:, ::-1].copy()))[:, 0]
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-6, atol=1e-7)


def test_model_with_standardize_stays_antisymmetric(rng):
    model = NEEPModel(mlp_network(16, 2, seed=5), mean=[1.0, -2.0], std=[2.0, 0.5])
    x = rng.normal(size=(100, 2, 2)).astype(np.float32)
    _exactly_antisymmetric(model, x)


def test_standardize_rejects_zero_std():
    with pytest.raises(ValueError, match="std must be > 0"):
        Standardize([0.0], [0.0])


def test_antisymmetric_round_trips_through_config(rng):
    layer = Antisymmetric(mlp_network(8, 1, seed=6))
    x = rng.normal(size=(10, 2, 2)).astype(np.float32)
    before = np.asarray(layer(x))
    config = keras.saving.serialize_keras_object(layer)
    clone = keras.saving.deserialize_keras_object(config)
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    assert np.array_equal(np.asarray(clone(x)), before)


def test_network_sizes_are_validated():
    with pytest.raises(ValueError, match="hidden_units must be an integer >= 1, got 0"):
        mlp_network(0)


def _nonzero_current(dim, dtype=None, seed=4):
    """A current network whose zero-initialized correction has been given weights."""
    from neep.estimators.nn.networks import current_network, set_linear_current

    network = current_network(dim, 16, 2, dtype=dtype, seed=seed)
    network.build((None, dim))
    rng = np.random.default_rng(seed)
    set_linear_current(network, rng.normal(size=(dim, dim)), rng.normal(size=dim))
    correction = network.get_layer("correction")
    correction.set_weights([rng.normal(size=w.shape).astype("float32") for w in correction.get_weights()])
    return network


@pytest.mark.parametrize("dtype", [None, "mixed_bfloat16"])
def test_current_ansatz_is_antisymmetric_to_the_bit(rng, dtype):
    from neep.estimators import CurrentAnsatz

    layer = CurrentAnsatz(_nonzero_current(3, dtype))
    x = rng.normal(size=(513, 2, 3)).astype(np.float32)
    _exactly_antisymmetric(layer, x)
    same = np.repeat(x[:, :1], 2, axis=1)
    assert np.array_equal(np.asarray(layer(same)), np.zeros(len(x), np.float32))


def test_current_ansatz_is_force_dot_displacement(rng):
    from neep.estimators import CurrentAnsatz

    network = _nonzero_current(2)
    x = rng.normal(size=(64, 2, 2)).astype(np.float32)
    force = np.asarray(network(0.5 * (x[:, 0] + x[:, 1])))
    expected = np.sum(force * (x[:, 1] - x[:, 0]), axis=1)
    np.testing.assert_allclose(np.asarray(CurrentAnsatz(network)(x)), expected, rtol=1e-5, atol=1e-6)


def test_current_ansatz_refuses_windows():
    from neep.estimators import CurrentAnsatz, current_network

    with pytest.raises(ValueError, match="reads pairs"):
        CurrentAnsatz(current_network(2, 8, 1)).build((None, 5, 2))
    with pytest.raises(ValueError, match="seq_len 2"):
        NEEPModel(current_network(2, 8, 1), seq_len=4, kind="current")


def test_current_model_saves_and_loads(tmp_path, rng):
    model = NEEPModel(_nonzero_current(2), kind="current", mean=[0.1, -0.2], std=[1.5, 0.5])
    x = rng.normal(size=(32, 2, 2)).astype(np.float32)
    before = np.asarray(model(x))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    np.testing.assert_array_equal(np.asarray(loaded(x)), before)
    assert not loaded.network.get_layer("linear").trainable
