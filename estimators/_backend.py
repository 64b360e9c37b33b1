"""What the package needs to know about the Keras backend it runs on (TensorFlow or JAX).

``keep_tensorflow_out()``: under another backend, Keras' own serializer still
checks ``isinstance(obj, tf.TensorShape)`` when TensorFlow is *installed*, and
imports it to do so (``keras.src.utils.module_utils.tensorflow.available``):
every ``model.save`` of a JAX fit (the checkpoints, the final model) then
loaded TensorFlow, 2-4 s and its threads in the middle of training. A model
built under JAX holds no TensorFlow object, so the check is answered "not
available" while TensorFlow has not been imported by the user.
"""

from __future__ import annotations

import sys

__all__ = ["backend", "is_jax", "keep_tensorflow_out"]


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
