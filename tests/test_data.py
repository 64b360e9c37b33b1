"""Loading trajectory files: normalisation, sidecar, exact EP, split, and every bad input."""

import json

import numpy as np
import pytest

from neep.estimators import NEEP, Trajectories, load_trajectories


def _save(path, array, sidecar=None, ep=None):
    np.save(path, array)
    if sidecar is not None:
        path.with_suffix(".json").write_text(json.dumps(sidecar))
    if ep is not None:
        np.save(path.with_suffix(".ep.npy"), ep)
    return path


def test_shapes_are_normalised(tmp_path, rng):
    t = load_trajectories(_save(tmp_path / "a.npy", rng.normal(size=(10,)).astype(np.float32)))
    assert t.states.shape == (1, 10, 1) and not t.discrete and t.dim == 1
    t = load_trajectories(_save(tmp_path / "b.npy", rng.normal(size=(10, 3)).astype(np.float32)))
    assert t.states.shape == (1, 10, 3)
    t = load_trajectories(_save(tmp_path / "c.npy", rng.integers(0, 4, size=(2, 10)).astype(np.int8)))
    assert t.states.shape == (2, 10) and t.discrete and t.n_states == 4
    assert isinstance(t.states, np.memmap)
    assert t.dt == 1.0 and not t.dt_known and t.exact_ep is None


def test_sidecar_and_exact_ep(tmp_path, rng):
    x = rng.normal(size=(4, 6, 2)).astype(np.float32)
    ep = rng.normal(size=(4, 5)).astype(np.float32)
    side = {"dt": 0.01, "ep_rate_exact": 2.0, "ep_per_step_exact": 0.02, "ep_file": "x.ep.npy", "state": "continuous"}
    t = load_trajectories(_save(tmp_path / "x.npy", x, side, ep))
    assert t.dt == 0.01 and t.dt_known and t.ep_rate_exact == 2.0 and t.ep_per_step_exact == 0.02
    np.testing.assert_array_equal(t.exact_ep, ep)
    assert load_trajectories(tmp_path / "x.npy", dt=0.5).dt == 0.5  # explicit beats sidecar


def test_split_by_trajectory_and_by_time(rng):
    x = rng.normal(size=(5, 8, 1)).astype(np.float32)
    ep = rng.normal(size=(5, 7))
    train, test = Trajectories.from_array(x, exact_ep=ep).split(0.5)
    assert train.n_trajectories + test.n_trajectories == 5
    np.testing.assert_array_equal(test.states, x[train.n_trajectories :])
    np.testing.assert_array_equal(test.exact_ep, ep[train.n_trajectories :])
    one = Trajectories.from_array(x[:1], exact_ep=ep[:1])
    train, test = one.split(0.5)
    assert train.n_steps == 4 and test.n_steps == 4
    np.testing.assert_array_equal(train.exact_ep, ep[:1, :3])  # steps 0->1 .. 2->3
    np.testing.assert_array_equal(test.exact_ep, ep[:1, 4:])  # steps 4->5 .. 6->7


# ---- bad input: one line, ValueError --------------------------------------------------------

def _one_line_error(match, func, *args, **kwargs):
    with pytest.raises(ValueError, match=match) as info:
        func(*args, **kwargs)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    _one_line_error("not found", load_trajectories, tmp_path / "nope.npy")


def test_not_a_trajectory_file(tmp_path):
    (tmp_path / "a.txt").write_text("1 2 3")
    _one_line_error("need at least 2 data rows", load_trajectories, tmp_path / "a.txt")
    (tmp_path / "b.npy").write_text("garbage")
    _one_line_error("named .npy but is not a valid NumPy .npy file", load_trajectories, tmp_path / "b.npy")
    (tmp_path / "c.bin").write_bytes(bytes(range(256)))
    _one_line_error("not a format neep reads", load_trajectories, tmp_path / "c.bin")


def test_object_dtype(tmp_path):
    np.save(tmp_path / "o.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    _one_line_error("object dtype", load_trajectories, tmp_path / "o.npy")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_name_trajectory_and_step(tmp_path, rng, bad):
    x = rng.normal(size=(3, 10, 2)).astype(np.float32)
    x[1, 7, 0] = bad
    _one_line_error("trajectory 1 at step 7", load_trajectories, _save(tmp_path / "n.npy", x))


def test_wrong_rank(tmp_path):
    _one_line_error("shape", load_trajectories, _save(tmp_path / "f.npy", np.zeros((2, 3, 4, 5), np.float32)))
    _one_line_error("shape", load_trajectories, _save(tmp_path / "i.npy", np.zeros((2, 3, 4), np.int8)))


def test_negative_labels_and_unsupported_states(tmp_path):
    x = np.zeros((2, 5), np.int8)
    x[1, 3] = -1
    data = load_trajectories(_save(tmp_path / "neg.npy", x))
    assert data.labels == (-1, 0) and data.n_states == 2 and data.states[1, 3] == 0 and data.states[0, 0] == 1
    _one_line_error("dtype", load_trajectories, _save(tmp_path / "b.npy", np.zeros((5,), bool)))


def test_bad_dt(tmp_path, rng):
    path = _save(tmp_path / "x.npy", rng.normal(size=(2, 5, 1)).astype(np.float32))
    _one_line_error("dt must be > 0, got 0", load_trajectories, path, dt=0)
    _one_line_error("dt must be > 0", load_trajectories, path, dt=-1.0)
    _save(tmp_path / "y.npy", rng.normal(size=(2, 5, 1)).astype(np.float32), {"dt": -0.1})
    _one_line_error("dt must be > 0", load_trajectories, tmp_path / "y.npy")
    _one_line_error("dt must be > 0", Trajectories.from_array, np.zeros((4, 1)), dt=0.0)


def test_exact_ep_shape_mismatch(tmp_path, rng):
    path = _save(tmp_path / "x.npy", rng.normal(size=(2, 5, 1)).astype(np.float32), ep=np.zeros((2, 5), np.float32))
    _one_line_error(r"exact EP must have shape \(2, 4\)", load_trajectories, path)


def test_too_little_data_to_split(rng):
    one = Trajectories.from_array(rng.normal(size=(3, 1)).astype(np.float32))
    _one_line_error("too little data to split", one.split)
    _one_line_error("too little data to split", NEEP(verbose=0).fit, rng.normal(size=(3, 1)).astype(np.float32))


def test_fewer_steps_than_a_window(rng):
    x = rng.integers(0, 3, size=(4, 10)).astype(np.int8)
    _one_line_error("fewer than one window", NEEP(model="gru", seq_len=16, verbose=0).fit, x)


def test_float_data_with_the_embedding_model(rng):
    x = rng.normal(size=(4, 10, 2)).astype(np.float32)
    _one_line_error("model 'embedding' needs integer", NEEP(model="embedding", verbose=0).fit, x)


def test_bad_hyperparameters(rng):
    x = rng.normal(size=(4, 10, 2)).astype(np.float32)
    _one_line_error("iterations must be an integer >= 1, got 0", NEEP(iterations=0).fit, x)
    _one_line_error("model must be one of", NEEP(model="cnn").fit, x)
    _one_line_error("precision must be one of", NEEP(precision="float16").fit, x)
