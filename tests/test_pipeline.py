"""The tf.data pipelines: windows stay inside one trajectory, evaluation covers each window once."""

import numpy as np
import pytest

from neep.estimators import (
    evaluation_batches,
    iter_evaluation_batches,
    pair_dataset,
    window_dataset,
)
from neep.estimators.data.windows import count_evaluation_windows, gather_windows


def _labelled(m_count, length, discrete=False):
    """States that say where they come from: continuous (m, t); discrete m * length + t."""
    m, t = np.meshgrid(np.arange(m_count), np.arange(length), indexing="ij")
    if discrete:
        return (m * length + t).astype(np.int64)
    return np.stack([m, t], axis=-1).astype(np.float32)


def _decode(batch, length, discrete):
    if discrete:
        return batch // length, batch % length
    return batch[..., 0].astype(int), batch[..., 1].astype(int)


@pytest.mark.parametrize("seq_len", [2, 5])
@pytest.mark.parametrize("discrete", [False, True])
def test_training_windows_are_contiguous_inside_one_trajectory(seq_len, discrete):
    m_count, length = 7, 23
    states = _labelled(m_count, length, discrete)
    seen_m, seen_t = set(), set()
    for batch in window_dataset(states, seq_len, 64, seed=3).take(30):
        batch = batch.numpy()
        assert batch.shape[:2] == (64, seq_len)
        assert batch.dtype == (np.int32 if discrete else np.float32)
        m, t = _decode(batch, length, discrete)
        assert np.all(m == m[:, :1])  # never across trajectories
        assert np.all(np.diff(t, axis=1) == 1)  # consecutive steps
        assert np.all(t[:, -1] < length)
        seen_m.update(m[:, 0])
        seen_t.update(t[:, 0])
    # 1920 uniform draws over 7 x (24 - n) start positions reach every one
    # (P(miss one) < 150 * (1 - 1/150)^1920 ~ 4e-4).
    assert seen_m == set(range(m_count))
    assert seen_t == set(range(length - seq_len + 1))


def test_training_stream_is_reproducible_from_seed():
    states = _labelled(3, 50)
    a = [b.numpy() for b in pair_dataset(states, 16, seed=1).take(3)]
    b = [b.numpy() for b in pair_dataset(states, 16, seed=1).take(3)]
    c = [b.numpy() for b in pair_dataset(states, 16, seed=2).take(3)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_training_stream_is_the_documented_draw_in_order():
    # Prefetching must not reorder: batch k of block j is rows k*B..(k+1)*B of
    # the j-th draw of default_rng(seed) (m then t), across block boundaries.
    states, seq_len, batch, block = _labelled(5, 40), 3, 8, 4
    rng = np.random.default_rng(7)
    expected = []
    for _ in range(3):
        m = rng.integers(0, 5, size=batch * block)
        t = rng.integers(0, 40 - seq_len + 1, size=batch * block)
        expected.extend(np.split(gather_windows(states, m, t, seq_len), block))
    got = [b.numpy() for b in window_dataset(states, seq_len, batch, seed=7, block=block).take(3 * block)]
    assert len(got) == len(expected)
    assert all(np.array_equal(x, y) for x, y in zip(got, expected))


def test_datasets_do_not_autotune():
    # Autotuning stalled iterator teardown (the end of each fit) for up to its period; see the module doc.
    states = _labelled(2, 10)
    assert pair_dataset(states, 4).options().autotune.enabled is False
    assert evaluation_batches(states, 2, 4).options().autotune.enabled is False


@pytest.mark.parametrize("seq_len,batch_size", [(2, 7), (2, 1000), (4, 5)])
def test_evaluation_walks_every_window_once_in_order(seq_len, batch_size):
    m_count, length = 5, 31
    states = _labelled(m_count, length)
    batches = list(iter_evaluation_batches(states, seq_len, batch_size))
    assert all(len(b) <= batch_size for b in batches)
    windows = np.concatenate(batches)
    per = (length - 1) // (seq_len - 1)
    assert len(windows) == m_count * per == m_count * count_evaluation_windows(states, seq_len)
    m, t = _decode(windows, length, False)
    assert np.all(m == m[:, :1]) and np.all(np.diff(t, axis=1) == 1)
    expected_m = np.repeat(np.arange(m_count), per)
    expected_t = np.tile(np.arange(per) * (seq_len - 1), m_count)
    np.testing.assert_array_equal(m[:, 0], expected_m)
    np.testing.assert_array_equal(t[:, 0], expected_t)
    if seq_len == 2:
        # every transition (m, t -> t+1) exactly once
        pairs = set(zip(m[:, 0], t[:, 0]))
        assert len(pairs) == len(windows) == m_count * (length - 1)


def test_evaluation_dataset_matches_the_numpy_walk():
    states = _labelled(3, 20, discrete=True)
    from_tf = np.concatenate([b.numpy() for b in evaluation_batches(states, 3, 8)])
    from_np = np.concatenate(list(iter_evaluation_batches(states, 3, 8)))
    np.testing.assert_array_equal(from_tf, from_np)


def test_gather_from_memmap(tmp_path):
    states = _labelled(4, 10)
    np.save(tmp_path / "x.npy", states)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    out = gather_windows(mm, np.array([3, 0]), np.array([8, 2]), 2)
    np.testing.assert_array_equal(out, np.stack([states[3, 8:10], states[0, 2:4]]))


def test_bad_pipeline_arguments():
    states = _labelled(2, 5)
    with pytest.raises(ValueError, match="seq_len must be an integer >= 2, got 1"):
        window_dataset(states, 1, 4)
    with pytest.raises(ValueError, match="fewer than one window"):
        window_dataset(states, 6, 4)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        pair_dataset(states, 0)


def test_strided_views_are_gathered_without_flattening():
    # A non-contiguous view takes the 2-D fancy-index path; same windows.
    full = _labelled(6, 40)
    view = full[::2, ::3]
    assert not view.flags.c_contiguous
    out = gather_windows(view, np.array([2, 0]), np.array([5, 0]), 3)
    np.testing.assert_array_equal(out, np.stack([view[2, 5:8], view[0, 0:3]]))
    contiguous = np.ascontiguousarray(view)
    np.testing.assert_array_equal(out, gather_windows(contiguous, np.array([2, 0]), np.array([5, 0]), 3))
