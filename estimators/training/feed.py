"""Training batches for any Keras backend: tf.data under TensorFlow, a prefetching NumPy feed under JAX.

``training_feed`` is what ``NEEP`` hands to ``model.fit``:

* TensorFlow: ``training.tfdata.window_dataset`` (tf.data);
* JAX: a Python generator over the same NumPy core
  (``data.windows.iter_window_blocks``), gathered by a background thread two
  blocks ahead, yielding blocks of ``steps`` batches, ``(steps, batch, n[, d])``,
  which the JAX training step scans over (``neep.estimators.jax_step``): several
  optimizer steps per compiled call. No TensorFlow import on this path.
* JAX under a Keras distribution (``keras.distribution.DataParallel``: data
  parallel over several devices): host blocks, batch axis first (Keras shards
  axis 0 across the devices; the step swaps it back). Over several processes
  (``neep.estimators.workers``) each process feeds only its devices' rows of
  the ``batch_size`` windows, drawn with its own seed; ``device`` is ignored
  (no draws on the device under a distribution).
* JAX with ``device=True``: the training array is put on the device once;
  the feed yields only ``(states, counter, shape)``: the seed and call number
  (8 bytes) and a zero-size array whose shape ``(steps, batch, 0)`` tells the
  compiled step how many windows to draw. The step draws the (trajectory,
  start) indices with ``jax.random`` and gathers the windows on the device
  (``jax_step``). For data that fits in accelerator memory (the paper's 5-bead
  set is 200 MB) nothing but those 8 bytes crosses to the device per call, and
  the host does no work per batch: on an H200, drawing the indices on the host
  (NumPy, 2 x 4 bytes per window) was the bottleneck of large batches and of
  stacked seeds. Reproducible from the seed, but not the host feed's batches
  (another generator).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import numpy as np

from ..data.windows import check_window_args, iter_window_blocks
from ..nn.backend import is_jax

__all__ = ["training_feed", "prefetch", "device_fits", "device_draws"]

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


def device_draws(states: np.ndarray, batch_size: int, seed: int = 0, steps: int = 1):
    """Endless ``((states_on_device, counter, shape),)`` items: the step draws and gathers on the device.

    ``counter = [seed, call]`` (uint32) seeds ``jax.random`` in the step;
    ``shape`` is an empty uint8 array of shape ``(steps, batch_size, 0)``.
    """
    import jax

    on_device = jax.device_put(np.ascontiguousarray(states))
    shape = np.zeros((int(steps), int(batch_size), 0), np.uint8)
    call = 0
    while True:
        yield ((on_device, np.array([seed % 2**32, call % 2**32], np.uint32), shape),)
        call += 1


def _process_rows(distribution, batch_size: int) -> int:
    """This process's rows of a global batch of ``batch_size`` under a Keras distribution (JAX)."""
    import jax

    from .workers import process_share

    devices = np.ravel(distribution.device_mesh.backend_mesh.devices)
    local = sum(device.process_index == jax.process_index() for device in devices)
    return process_share(int(batch_size), local, devices.size)


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

    check_window_args(states, seq_len, batch_size)
    if isinstance(steps, bool) or int(steps) < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if not is_jax():
        from .tfdata import window_dataset

        return window_dataset(states, seq_len, batch_size, seed=seed)
    steps = int(steps)
    distribution = keras.distribution.distribution()
    if distribution is not None:
        # Data parallel (keras.distribution.DataParallel): Keras shards axis 0 of every input
        # across the devices, so the blocks travel batch first, (batch, steps, ...), and the
        # step swaps them back (jax_step). Drawn on the host: the index draws would be sharded.
        # Several processes: each feeds its devices' rows of the global batch (workers).
        batch_size = _process_rows(distribution, batch_size)
        return ((np.ascontiguousarray(np.swapaxes(block, 0, 1)),)
                for block in prefetch(iter_window_blocks(states, seq_len, batch_size, seed, block=steps)))
    ragged = isinstance(states, tuple)  # a ragged set: drawn and gathered on the host
    if device == "auto":
        import jax

        device = not ragged and jax.default_backend() != "cpu" and device_fits(states)
    if device and not ragged:
        return device_draws(states, batch_size, seed, steps)
    # Keras takes generators of tuples: (inputs,).
    return ((block,) for block in prefetch(iter_window_blocks(states, seq_len, batch_size, seed, block=steps)))
