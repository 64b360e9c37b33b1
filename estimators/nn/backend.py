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
"""

from __future__ import annotations

import os
import sys

__all__ = ["backend", "is_jax", "keep_tensorflow_out", "quiet_import", "tf_logs_wanted"]


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


def tf_logs_wanted() -> bool:
    """True when the user asked for TensorFlow's own log lines (``TF_CPP_MIN_LOG_LEVEL`` 0 or empty)."""
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") in ("", "0")


def quiet_import() -> None:
    """Import keras (and start TensorFlow's devices on that backend) with fd 2 silenced."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if "keras" in sys.modules and (backend != "tensorflow" or "tensorflow" in sys.modules):
        return
    if tf_logs_wanted():
        import keras  # noqa: F401
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2: nothing to hide
        import keras  # noqa: F401
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            tf.config.list_logical_devices()
        import keras  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
