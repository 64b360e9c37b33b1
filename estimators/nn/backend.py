"""What the package needs to know about the Keras backend it runs on (TensorFlow or JAX).

``keep_tensorflow_out()``: under another backend, Keras' own serializer still
checks ``isinstance(obj, tf.TensorShape)`` when TensorFlow is *installed*, and
imports it to do so (``keras.src.utils.module_utils.tensorflow.available``):
every ``model.save`` of a JAX fit (the checkpoints, the final model) then
loaded TensorFlow, 2-4 s and its threads in the middle of training. A model
built under JAX holds no TensorFlow object, so the check is answered "not
available" while TensorFlow has not been imported by the user.

``quiet_import()``: import Keras (and its TensorFlow backend) with TensorFlow's C++ start-up log lines hidden.

TensorFlow 2.21 prints oneDNN / CUDA-driver notes from C++ when it is
imported and when its devices start, even with ``TF_CPP_MIN_LOG_LEVEL=3``.
Unless the user asked for them (the variable set to ``0`` or empty, which
``neep --verbose`` does), the process's stderr file descriptor points at
/dev/null meanwhile. Python errors still show: they are raised after it is
restored. No TensorFlow is imported for another Keras backend.

``configure_cpu_threads()``: TensorFlow's thread pools for a CPU, set before
its runtime starts (``quiet_import`` does it for the ``neep`` command,
``NEEP.fit`` at the first fit of a process). By default TensorFlow splits
every op over all cores (intra-op) and runs two ops at once (inter-op). A
training step of a small network is hundreds of ops on ``(4096, 64)``
tensors, each too small to split profitably: on the 2-core CPU, one thread
per op and two ops at once made a step of the current network (2 x 64,
batch 4096, driven ring) 1.86 ms against 2.67 ms, the embedding's 12.9
against 14.8 ms, the GRU's 25.2 against 27.7 ms, and left the 256 x 3 MLP's
at 28 against 27 ms (benchmarks/RESULTS-estimators.md, session 11). The
rule is two streams of ops with half the cores each (``cpu_threads``).
Left alone: another backend, a visible GPU, ``TF_NUM_INTRAOP_THREADS`` or
``TF_NUM_INTEROP_THREADS`` set by the user, a runtime already started.
"""

from __future__ import annotations

import os
import sys

__all__ = ["backend", "is_jax", "keep_tensorflow_out", "quiet_import", "tf_logs_wanted", "usable_cores", "cpu_threads",
           "configure_cpu_threads", "THREAD_VARIABLES"]

#: Environment variables by which a user sets TensorFlow's thread pools; either one set: left alone.
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def backend() -> str:
    """The Keras backend in use ("tensorflow", "jax", ...)."""
    import keras

    return keras.backend.backend()


def is_jax() -> bool:
    """Whether Keras runs on JAX."""
    return backend() == "jax"


def keep_tensorflow_out() -> None:
    """Stop Keras from importing TensorFlow under another backend (see the module doc)."""
    if backend() == "tensorflow" or "tensorflow" in sys.modules:
        return
    try:
        from keras.src.utils import module_utils

        lazy = module_utils.tensorflow
        if getattr(lazy, "module", None) is None and hasattr(lazy, "_available"):
            lazy._available = False
    except (ImportError, AttributeError):  # another Keras layout: at worst TensorFlow loads
        pass


def usable_cores() -> int:
    """Cores this process may run on (its affinity where the OS tells, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def cpu_threads(cores: int | None = None) -> tuple[int, int]:
    """TensorFlow's ``(intra_op, inter_op)`` threads on ``cores`` CPU cores: two streams of ops, half the cores each.

    Measured on 2 cores only, where it gives ``(1, 2)`` (module doc); on 1 core ``(1, 1)``.
    """
    cores = usable_cores() if cores is None else max(1, int(cores))
    return max(1, cores // 2), min(2, cores)


def configure_cpu_threads() -> tuple[int, int] | None:
    """Set TensorFlow's thread pools to ``cpu_threads()`` if it runs on a CPU and has not started (module doc).

    Returns the ``(intra_op, inter_op)`` set, or None where nothing was changed.
    """
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return None
    if any(os.environ.get(v) for v in THREAD_VARIABLES):  # the user's own choice
        return None
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return None
    intra, inter = cpu_threads()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:  # the runtime has started (an op ran): its pools stay as they are
        return None
    return intra, inter


def tf_logs_wanted() -> bool:
    """True when the user asked for TensorFlow's own log lines (``TF_CPP_MIN_LOG_LEVEL`` 0 or empty)."""
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") in ("", "0")


def quiet_import() -> None:
    """Import keras (and start TensorFlow's devices on that backend) with fd 2 silenced."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if "keras" in sys.modules and (backend != "tensorflow" or "tensorflow" in sys.modules):
        if backend == "tensorflow":  # imported already: its log lines are out, its pools may still be set
            configure_cpu_threads()
        return
    if tf_logs_wanted():
        if backend == "tensorflow":
            configure_cpu_threads()
        import keras  # noqa: F401
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2: nothing to hide
        if backend == "tensorflow":
            configure_cpu_threads()
        import keras  # noqa: F401
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            configure_cpu_threads()  # before the devices start
            tf.config.list_logical_devices()
        import keras  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
