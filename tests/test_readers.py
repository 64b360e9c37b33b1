"""Readers, labels and ragged sets: every format, made here in tmp_path (NumPy and h5py only, no TensorFlow)."""

import h5py
import numpy as np
import pytest

from neep.estimators.data.trajectories import load_trajectories
from neep.estimators.data.labels import describe_labels, encode
from neep.estimators.data.windows import iter_window_blocks
from neep.estimators.data.sets import TrajectorySet, load_set, ragged_subset
from neep.estimators.stats.rates import rate_per_entry
from neep.estimators.data.readers import detect_format, read_arrays
from neep.estimators.stats.uncertainty import block_statistics


def _one_line(match, func, *args, **kwargs):
    with pytest.raises(ValueError, match=match) as info:
        func(*args, **kwargs)
    assert "\n" not in str(info.value)


@pytest.fixture
def traj(rng):
    return rng.normal(size=(300, 2)).astype(np.float32)


def _csv(path, x, dt=0.01, header="t,x,y", delimiter=","):
    t = np.arange(len(x)) * dt
    np.savetxt(path, np.column_stack([t, x]), delimiter=delimiter, header=header, comments="", fmt="%.9g")
    return path


# ---- formats ------------------------------------------------------------------------------------

def test_every_format_gives_the_same_states(tmp_path, traj):
    np.save(tmp_path / "a.npy", traj)
    np.save(tmp_path / "b.npy", traj)
    (tmp_path / "b.npy").rename(tmp_path / "b.dat")  # a valid .npy under another name
    np.savez(tmp_path / "c.npz", states=traj)
    np.savez_compressed(tmp_path / "d.npz", states=traj)
    with h5py.File(tmp_path / "e.h5", "w") as f:
        f.create_dataset("/runs/x", data=traj)
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f.create_dataset("x", data=traj, chunks=(50, 2), compression="gzip")
    _csv(tmp_path / "g.csv", traj)
    _csv(tmp_path / "h.tsv", traj, delimiter="\t", header="t\tx\ty")
    formats = {"a.npy": "npy", "b.dat": "npy", "c.npz": "npz", "d.npz": "npz", "e.h5": "hdf5", "f.h5": "hdf5",
               "g.csv": "text", "h.tsv": "text"}
    for name, fmt in formats.items():
        assert detect_format(tmp_path / name) == fmt
        data = load_trajectories(tmp_path / name)
        np.testing.assert_array_equal(np.asarray(data.states[0]), traj, err_msg=name)
        assert not data.discrete and data.dim == 2
    assert isinstance(load_trajectories(tmp_path / "a.npy").states, np.memmap)
    assert isinstance(read_arrays(tmp_path / "c.npz").arrays[0], np.memmap)  # stored: mapped
    assert isinstance(read_arrays(tmp_path / "e.h5").arrays[0], np.memmap)  # contiguous: mapped
    assert load_trajectories(tmp_path / "g.csv").dt == pytest.approx(0.01)
    assert not load_trajectories(tmp_path / "a.npy").dt_known


def test_npz_keys(tmp_path, traj):
    np.savez(tmp_path / "m.npz", a=traj, b=traj[:100])
    _one_line(r"holds 2 arrays \(a, b\): choose one with --key", load_trajectories, tmp_path / "m.npz")
    assert load_trajectories(tmp_path / "m.npz", key="b").n_steps == 100
    _one_line("has no array c; it holds: a, b", load_trajectories, tmp_path / "m.npz", key="c")
    both = load_set([tmp_path / "m.npz"], key="*")
    assert isinstance(both, TrajectorySet) and both.lengths.tolist() == [300, 100]


def test_hdf5_keys(tmp_path, traj):
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f.create_dataset("/g/a", data=traj)
        f.create_dataset("/g/b", data=traj[:50])
    _one_line(r"holds 2 datasets \(g/a, g/b\)", load_trajectories, tmp_path / "m.h5")
    assert load_trajectories(tmp_path / "m.h5", key="/g/b").n_steps == 50


def test_csv_options(tmp_path, traj):
    np.savetxt(tmp_path / "plain.txt", traj, fmt="%.9g")  # whitespace, no header
    data = load_trajectories(tmp_path / "plain.txt")
    np.testing.assert_array_equal(data.states[0], traj)
    one = load_trajectories(tmp_path / "plain.txt", columns="1")
    np.testing.assert_array_equal(one.states[0, :, 0], traj[:, 1])
    _csv(tmp_path / "c.csv", traj)
    assert load_trajectories(tmp_path / "c.csv", columns="y,x").states[0, 0, 0] == traj[0, 1]
    _one_line("has no column 'z'", load_trajectories, tmp_path / "c.csv", columns="x,z")
    # uneven time steps: an error naming the row
    t = np.arange(300) * 0.01
    t[100:] += 0.005
    np.savetxt(tmp_path / "u.csv", np.column_stack([t, traj]), delimiter=",", header="time,x,y", comments="")
    _one_line("not evenly spaced .* data row 101", load_trajectories, tmp_path / "u.csv")
    _one_line("--key applies to .npz and HDF5", load_trajectories, tmp_path / "c.csv", key="x")
    (tmp_path / "bad.csv").write_text("x,y\n1,2\n3,oops\n")
    _one_line("'oops' is not a number", load_trajectories, tmp_path / "bad.csv")
    (tmp_path / "ragged.csv").write_text("x,y\n1,2\n3\n")
    _one_line("data row 2 has 1 fields, expected 2", load_trajectories, tmp_path / "ragged.csv")


def test_bad_files(tmp_path):
    _one_line("not found", load_trajectories, tmp_path / "none.csv")
    _one_line("is a folder", load_trajectories, tmp_path)
    (tmp_path / "e.csv").write_text("")
    _one_line("is empty", load_trajectories, tmp_path / "e.csv")
    (tmp_path / "z.npz").write_bytes(b"PK\x03\x04garbage")
    _one_line("not a valid .npz", load_trajectories, tmp_path / "z.npz")
    (tmp_path / "h.h5").write_bytes(b"\x89HDF\r\n\x1a\ngarbage")
    _one_line("not a readable HDF5", load_trajectories, tmp_path / "h.h5")
    (tmp_path / "b.bin").write_bytes(bytes(range(256)) * 4)
    _one_line("not a format neep reads", load_trajectories, tmp_path / "b.bin")


# ---- labels -------------------------------------------------------------------------------------

def test_integer_labels_are_mapped_and_reported(tmp_path, rng):
    states = rng.choice([5, 17, 42], size=(3, 200)).astype(np.int64)
    np.save(tmp_path / "s.npy", states)
    data = load_trajectories(tmp_path / "s.npy")
    assert data.n_states == 3 and data.labels == (5, 17, 42)
    np.testing.assert_array_equal(np.asarray(data.labels)[data.states], states)
    assert data.describe_states() == "discrete, 3 states: 5, 17, 42"
    codes = np.arange(6).repeat(10).reshape(3, 20).astype(np.int8)  # already 0..K-1: kept as it is
    np.save(tmp_path / "c.npy", codes)
    assert isinstance(load_trajectories(tmp_path / "c.npy").states, np.memmap)


def test_string_labels_and_unseen_states(tmp_path):
    (tmp_path / "s.csv").write_text("state\n" + "\n".join(["on", "off", "mid", "on", "off"] * 10) + "\n")
    data = load_trajectories(tmp_path / "s.csv")
    assert data.labels == ("mid", "off", "on") and data.states.shape == (1, 50)
    assert describe_labels(data.labels) == "3 states: mid, off, on"
    _one_line(r"state 'broken' \(step 1\) was never seen in training; the model knows 3 states",
              encode, np.array(["on", "broken"]), data.labels)
    _one_line(r"state 99 \(trajectory 0, step 2\) was never seen", encode, np.array([[5, 17, 99]]), [5, 17, 42])


def test_jump_data_time_and_waiting_time(tmp_path, rng):
    waits = rng.exponential(0.4, size=500)
    times = np.concatenate([[0.0], np.cumsum(waits[:-1])])
    states = rng.integers(0, 3, size=500)
    np.savetxt(tmp_path / "j.csv", np.column_stack([states, times]), delimiter=",", header="state,t",
               comments="", fmt=["%d", "%.12g"])
    data = load_trajectories(tmp_path / "j.csv")
    assert data.discrete and data.metadata["jump_data"] and data.dt_known
    assert data.dt == pytest.approx(np.mean(waits[:-1]))  # mean time per jump
    np.savetxt(tmp_path / "w.csv", np.column_stack([states, waits]), delimiter=",", header="state,wait",
               comments="", fmt=["%d", "%.12g"])
    assert load_trajectories(tmp_path / "w.csv").dt == pytest.approx(np.mean(waits[:-1]))


# ---- ragged sets --------------------------------------------------------------------------------

def test_ragged_set_from_files_keeps_memmaps_and_splits_by_length(tmp_path, rng):
    lengths = [100, 400, 200, 300]
    for k, n in enumerate(lengths):
        np.save(tmp_path / f"t{k}.npy", rng.normal(size=(n, 2)).astype(np.float32))
    data = load_set([tmp_path])  # a folder stands for its files
    assert isinstance(data, TrajectorySet) and data.lengths.tolist() == lengths
    assert all(isinstance(s, np.memmap) for s in data.states)
    train, test = data.split(0.5)
    # steps 99, 399, 199, 299: the cut nearest half of 996 steps is after the second trajectory
    assert train.lengths.tolist() == [100, 400] and test.lengths.tolist() == [200, 300]
    _one_line("different time steps", load_set, [_csv(tmp_path / "a.csv", np.zeros((20, 2)), dt=0.1),
                                                 _csv(tmp_path / "b.csv", np.zeros((20, 2)), dt=0.2)])
    _one_line("not of one kind", load_set, [np.zeros((20, 2), np.float32), np.zeros((20, 3), np.float32)])


def test_ragged_labels_are_common(rng):
    data = load_set([np.array([5, 17, 5, 17]), np.array([42, 5, 42])])
    assert data.labels == (5, 17, 42)
    np.testing.assert_array_equal(data.parts[1].states[0], [2, 0, 2])


def test_windows_never_cross_a_trajectory_boundary():
    parts = (np.arange(2 * 50, dtype=np.float32).reshape(2, 50, 1),
             1000 + np.arange(3 * 7, dtype=np.float32).reshape(3, 7, 1))
    block = next(iter_window_blocks(parts, 4, 256, seed=0, block=4))
    windows = block.reshape(-1, 4)
    assert np.all(np.diff(windows, axis=1) == 1)  # consecutive states of one trajectory
    starts = windows[:, 0]
    small = starts[starts >= 1000] - 1000
    assert np.all(small % 7 <= 7 - 4)  # never past the end of a 7-state trajectory
    big = starts[starts < 1000]
    assert np.all(big % 50 <= 50 - 4)
    # uniform over windows: 2 x 47 in the long part, 3 x 4 in the short one
    assert abs(np.mean(starts < 1000) - 94 / 106) < 4 * np.sqrt(0.1 / windows.shape[0])


def test_ragged_rate_weights_trajectories_by_time():
    parts = (np.full((1, 100), 2.0), np.full((2, 300), 1.0))
    assert rate_per_entry(parts) == pytest.approx((100 * 2 + 600 * 1) / 700)
    rect = np.random.default_rng(0).normal(size=(40, 30))
    split = (rect[:15], rect[15:])  # equal lengths: the same blocks and numbers as the rectangle
    a, b = block_statistics(rect), block_statistics(split)
    assert a.n_blocks == b.n_blocks and a.by_trajectory and b.by_trajectory
    for key in ("rate", "lower_bound_j", "lower_bound_dv"):
        np.testing.assert_allclose(b.statistics()[key], a.statistics()[key], rtol=1e-12)


def test_ragged_subset_is_rectangular_and_keeps_every_pair():
    parts = (np.arange(40, dtype=np.float32).reshape(1, 40, 1), 100 + np.arange(25, dtype=np.float32)[None, :, None])
    sub, _ = ragged_subset(parts, None, 1000, 2, seed=0)
    assert sub.shape[1] == 25
    pairs = {(a, b) for piece in sub[..., 0] for a, b in zip(piece[:-1], piece[1:])}
    assert all(b - a == 1 for a, b in pairs) and len(pairs) == sub.shape[0] * 24


def test_jump_data_rate_per_unit_time_is_ep_per_jump_over_mean_waiting_time(tmp_path):
    """The Markov formula used for jump data, checked with the ratchet's exact per-jump EP (no training).

    Gillespie trajectory written as CSV (state label, jump time); the loader sets dt to the mean
    waiting time; the exact EP of the embedded jump chain per jump / dt must be the continuous-time
    chain's exact rate, within the sampling error (time blocks).
    """
    from neep.estimators.stats.uncertainty import mean_stderr
    from neep.simulators import FlashingRatchet

    ratchet = FlashingRatchet(potential=2.0)
    states, times = ratchet.simulate(1, 100_000, seed=3, continuous_time=True)
    names = np.array(["on0", "on1", "on2", "off0", "off1", "off2"])
    with open(tmp_path / "jumps.csv", "w") as handle:
        handle.write("state,t\n")
        handle.writelines(f"{names[s]},{float(t)!r}\n" for s, t in zip(states[0], times[0]))
    data = load_trajectories(tmp_path / "jumps.csv")
    assert data.metadata["jump_data"] and data.n_states == 6
    ep = ratchet.stochastic_ep(states)  # exact EP of every jump of the jump chain
    rate = float(np.mean(ep)) / data.dt
    stderr = mean_stderr(ep) / data.dt
    assert abs(rate - ratchet.ep_rate) < 4 * stderr, (rate, ratchet.ep_rate, stderr)
    assert data.dt == pytest.approx(ratchet.mean_jump_time, rel=0.05)
