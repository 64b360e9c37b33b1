"""Import Keras (and its TensorFlow backend) with TensorFlow's C++ start-up log lines hidden.

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

__all__ = ["quiet_import", "tf_logs_wanted"]


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
