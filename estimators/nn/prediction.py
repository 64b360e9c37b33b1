"""Evaluating a trained model on whole trajectories: the EP of every window, and the noise term.

``predict_delta_s`` runs one compiled forward pass per model (``tf.function``
on TensorFlow, ``jax.jit`` on JAX) batch by batch over the evaluation windows
of ``(M, L[, d])`` states, so memory stays bounded. ``predict_noise_penalty``
does the same for the per-pair term ``q`` of a noise-corrected current model
(``CurrentAnsatz(noise=...)``), which the held-out objective
``mean(dS - exp(-dS - q))`` needs.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from .backend import is_jax

__all__ = ["predict_delta_s", "predict_noise_penalty"]


def _predict_fn(model: keras.Model, penalty: bool = False):
    """One compiled forward pass per model: ``tf.function`` on TensorFlow, ``jax.jit`` on JAX.

    ``penalty``: the pass returns the noise term ``q`` of each pair instead of ``dS``.
    """
    attribute = "_neep_penalty_fn" if penalty else "_neep_predict_fn"
    fn = getattr(model, attribute, None)
    if fn is not None:
        return fn
    extra = {"with_penalty": True} if penalty else {}

    def pick(out):
        return out[1] if penalty else out

    if is_jax():
        import jax

        forward = jax.jit(lambda tv, ntv, x: pick(model.stateless_call(tv, ntv, x, training=False, **extra)[0]))

        def fn(batch):
            if not model.built:  # stateless_call needs the variables: one eager call creates them
                model(batch[:1], training=False)
            return forward([v.value for v in model.trainable_variables],
                           [v.value for v in model.non_trainable_variables], batch)
    else:
        import tensorflow as tf

        # Two code objects, not one: TensorFlow counts the traces of a function's code across its instances,
        # and one shared lambda warned of "retracing" once every model had two passes. Each batch in two
        # independent halves: with one thread per op (nn.backend.configure_cpu_threads) the two run at once.
        if penalty:
            fn = tf.function(lambda x: tf.concat([model(h, training=False, with_penalty=True)[1] for h in _halves(x)],
                                                 axis=0), reduce_retracing=True)
        else:
            fn = tf.function(lambda x: tf.concat([model(h, training=False) for h in _halves(x)], axis=0),
                             reduce_retracing=True)
    object.__setattr__(model, attribute, fn)
    return fn


def _halves(x):
    """The first and second half of a batch (TensorFlow tensors; the second holds the odd row)."""
    import tensorflow as tf

    half = tf.shape(x)[0] // 2
    return x[:half], x[half:]


def predict_delta_s(
    model: keras.Model, states, seq_len: int | None = None, batch_size: int = 16384, *, penalty: bool = False
):
    """EP of every evaluation window of ``states`` (``(M, L[, d])``), shape ``(M, K)`` float32.

    Windows tile each trajectory with stride ``seq_len - 1`` (see
    ``neep.estimators.data.windows``): for pairs, ``K = L - 1`` and entry
    ``[m, t]`` is the EP of step ``t -> t+1``; for windows of n states, entry
    ``[m, k]`` is the EP of the window starting at step ``k (n - 1)``. One
    compiled function runs the model batch by batch; memory stays bounded.
    On JAX the last, shorter batch is padded to the batch size, so one
    compilation serves every call. ``penalty``: the noise term ``q`` of each
    pair instead (``predict_noise_penalty``).
    """
    from ..data.windows import count_evaluation_windows, iter_evaluation_batches

    if seq_len is None:
        seq_len = getattr(model, "seq_len", 2)
    fn = _predict_fn(model, penalty)
    pad = is_jax()
    per = count_evaluation_windows(states, seq_len)
    total = states.shape[0] * per
    out = np.empty(total, dtype=np.float32)
    size = min(batch_size, total)
    pos = 0
    for batch in iter_evaluation_batches(states, seq_len, batch_size):
        count = batch.shape[0]
        if pad and count < size:
            batch = np.concatenate([batch, np.repeat(batch[-1:], size - count, axis=0)])
        values = np.asarray(ops.convert_to_numpy(fn(batch)))[:count]
        out[pos : pos + count] = values
        pos += count
    return out.reshape(states.shape[0], per)


def predict_noise_penalty(model: keras.Model, states, batch_size: int = 16384):
    """The noise term ``q`` of every pair of ``states`` (``(M, L, d)``), ``(M, L - 1)`` float32, or None.

    None when the model is not noise-corrected (``NEEPModel(noise_variance=None)``):
    its held-out objective is then the plain ``mean(dS - exp(-dS))``.
    """
    if getattr(model, "noise_variance", None) is None:
        return None
    return predict_delta_s(model, states, 2, batch_size, penalty=True)
