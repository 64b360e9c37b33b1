"""Training batches for any Keras backend: tf.data under TensorFlow, a prefetching NumPy feed under JAX.

``training_feed`` is what ``NEEP`` hands to ``model.fit``:

* TensorFlow: ``pipeline.window_dataset`` (tf.data, as before);
* JAX: a Python generator over the same NumPy core
  (``pipeline.iter_window_blocks``), gathered by a background thread two
  blocks ahead, yielding blocks of ``steps`` batches, ``(steps, batch, n[, d])``,
  which the JAX training step scans over (``neep.estimators.jax_step``): several
  optimizer steps per compiled call. No TensorFlow import on this path.
* JAX with ``device=True``: the training array is put on the device once, and
  the feed yields only the drawn indices ``(states, m, t)``; the step gathers
  the windows on the device. For data that fits in accelerator memory (the
  paper's 5-bead set is 200 MB), this removes the host gather and the
  host-to-device copy of every batch. Same seed, same draws: the device and
  host feeds train on identical batches.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import numpy as np

from .pipeline import _check, draw_windows, iter_window_blocks

__all__ = ["training_feed", "prefetch", "device_fits"]

#: Largest training array put on the device whole by ``device="auto"`` (bytes).
DEVICE_LIMIT = 4 * 2**30


def prefetch(iterator: Iterator, depth: int = 2) -> Iterator:
    """Run ``iterator`` in a daemon thread, ``depth`` items ahead; re-raise its errors here.

    The thread stops when the consumer drops the generator (it blocks on a
    full queue at most ``depth`` items ahead; daemon, so it never holds the
    interpreter open).
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work():
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        items.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as error:  # handed to the consumer
            items.put(error)
            return
        items.put(done)

    thread = threading.Thread(target=work, name="neep-feed", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def device_fits(states: np.ndarray, limit: int = DEVICE_LIMIT) -> bool:
    """Whether ``states`` is small enough to live on the accelerator whole (``device="auto"``)."""
    return int(states.nbytes) <= limit


def _index_blocks(states: np.ndarray, seq_len: int, batch_size: int, seed: int, block: int):
    """The draws of ``iter_window_blocks`` (same generator, same order), as int32 index blocks."""
    rng = np.random.default_rng(seed)
    m_count, starts = states.shape[0], states.shape[1] - seq_len + 1
    count = batch_size * block
    while True:
        m, t = draw_windows(rng, m_count, starts, count)
        yield m.reshape(block, batch_size), t.reshape(block, batch_size)


def training_feed(states: np.ndarray, seq_len: int, batch_size: int, seed: int = 0, *,
                  steps: int = 1, device: bool | str = False):
    """Endless training batches of random windows for ``model.fit`` on the current Keras backend.

    Parameters
    ----------
    states : array (M, L[, d])
        Training trajectories (memory-mapped is fine).
    seq_len, batch_size, seed
        Window length, windows per optimizer step, seed of the draws.
    steps : int
        JAX: optimizer steps per compiled call (batches per yielded block);
        ``model.fit``'s ``steps_per_epoch`` then counts blocks. Ignored on
        TensorFlow (use ``compile(steps_per_execution=...)`` there).
    device : bool or "auto"
        JAX: gather windows on the device from a device copy of ``states``
        (``"auto"``: when it is at most ``DEVICE_LIMIT`` bytes and the
        default device is an accelerator).

    Returns
    -------
    tf.data.Dataset (TensorFlow) or generator (JAX)
    """
    import keras

    _check(states, seq_len, batch_size)
    if isinstance(steps, bool) or int(steps) < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if keras.backend.backend() != "jax":
        from .pipeline import window_dataset

        return window_dataset(states, seq_len, batch_size, seed=seed)
    steps = int(steps)
    if device == "auto":
        import jax

        device = jax.default_backend() != "cpu" and device_fits(states)
    if device:
        import jax

        on_device = jax.device_put(np.ascontiguousarray(states))
        return (((on_device, m, t),) for m, t in prefetch(_index_blocks(states, seq_len, batch_size, seed, steps)))
    # Keras takes generators of tuples: (inputs,).
    return ((block,) for block in prefetch(iter_window_blocks(states, seq_len, batch_size, seed, block=steps)))
