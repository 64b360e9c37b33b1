"""tf.data pipelines over the NumPy window draws of ``data.windows`` (TensorFlow backend).

``window_dataset`` / ``pair_dataset``: endless batches of uniformly drawn
windows, to train; ``evaluation_batches``: every evaluation window in order,
once. TensorFlow is imported inside the functions only.

The datasets prefetch a fixed depth with tf.data autotuning switched off
(``_fixed_prefetch``): feeding costs ~0.1 ms of one core per batch of 4096
pairs, far below a training step, so there is nothing to tune, and with
autotuning on, tearing down an iterator (at the end of a ``model.fit`` call)
stalled, both cores idle, for up to the tuner's current period (0.3 s after
2 s of training, 3 s after 18 s; in about half the calls measured), which
made short fits slow at random (benchmarks/RESULTS-estimators.md).
"""

from __future__ import annotations

import numpy as np

from ..data.windows import (
    check_window_args,
    is_discrete,
    iter_evaluation_batches,
    iter_window_blocks,
)

__all__ = ["window_spec", "window_dataset", "pair_dataset", "evaluation_batches"]


def window_spec(states: np.ndarray, seq_len: int):
    """TensorSpec of a batch of windows: (None, n, d) float32 or (None, n) int32."""
    import tensorflow as tf

    if isinstance(states, tuple):
        states = states[0]
    if is_discrete(states):
        return tf.TensorSpec((None, seq_len), tf.int32)
    return tf.TensorSpec((None, seq_len, states.shape[2]), tf.float32)


def window_dataset(states: np.ndarray, seq_len: int, batch_size: int, seed: int = 0, block: int = 16):
    """Endless tf.data.Dataset of batches of uniformly drawn windows (see module doc).

    ``iter_window_blocks`` feeds it one block at a time; the block is sliced
    into batches inside tf.data; prefetched.
    """
    import tensorflow as tf

    check_window_args(states, seq_len, batch_size)

    def generate():
        return iter_window_blocks(states, seq_len, batch_size, seed, block)

    spec = window_spec(states, seq_len)
    block_spec = tf.TensorSpec((block, batch_size) + tuple(spec.shape[1:]), spec.dtype)
    dataset = tf.data.Dataset.from_generator(generate, output_signature=block_spec)
    # One Python call per block, drawn one block ahead (the next block is
    # gathered while the current one is consumed); the block is cut into
    # batches inside tf.data. Prefetching does not reorder: same seed, same batches.
    dataset = dataset.prefetch(1).flat_map(tf.data.Dataset.from_tensor_slices)
    return _fixed_prefetch(dataset, 2)


def _fixed_prefetch(dataset, depth: int):
    """``dataset.prefetch(depth)`` with tf.data autotuning off (see the module doc).

    A caller who chains autotuned stages on top can switch it back on with
    ``dataset.with_options(...)``.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.prefetch(depth).with_options(options)


def pair_dataset(states: np.ndarray, batch_size: int, seed: int = 0):
    """``window_dataset`` with ``seq_len=2``: batches of random consecutive pairs."""
    return window_dataset(states, 2, batch_size, seed)


def evaluation_batches(states: np.ndarray, seq_len: int, batch_size: int):
    """``iter_evaluation_batches`` as a finite tf.data.Dataset (for ``model.evaluate``/``predict``)."""
    import tensorflow as tf

    check_window_args(states, seq_len, batch_size)
    dataset = tf.data.Dataset.from_generator(
        lambda: iter_evaluation_batches(states, seq_len, batch_size),
        output_signature=window_spec(states, seq_len),
    )
    return _fixed_prefetch(dataset, 2)
