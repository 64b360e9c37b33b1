"""The NEEP training step for the JAX backend: stateless, jitted by Keras, several steps per call.

Keras' JAX trainer calls ``model.train_step(state, data)`` under ``jax.jit``
with the whole state passed in and returned (trainable, non-trainable,
optimizer and metric variables); nothing is mutated. This module writes that
step for ``NEEPModel`` as the Keras guide on custom steps in JAX does
(``stateless_call``, ``jax.value_and_grad``, ``optimizer.stateless_apply``),
plus what the TensorFlow step in ``model.py`` does: coupled L2 weight decay
and the moving average of the weights.

Several optimizer steps per compiled call. Keras' own ``steps_per_execution``
on JAX loops in Python over a jitted single step (one dispatch and one
host-device round trip per batch); here a batch may instead carry a leading
block axis, ``(k, batch, n[, d])``, and the step runs ``jax.lax.scan`` over
it: k optimizer steps per call, one dispatch. The feed (``neep.estimators.training.feed``)
yields such blocks.

Data parallel. Under ``keras.distribution.DataParallel`` Keras replicates the
weights and shards axis 0 of the data across the devices; blocks then arrive
batch first, ``(batch, k, ...)``, and are swapped back here. The loss is the
mean over the whole (sharded) batch, so XLA all-reduces the gradients: the
same arithmetic as one device, split. Over several processes
(``neep.estimators.training.workers``) the same step: Keras assembles the global batch
from every process's rows, and the all-reduce crosses the processes.

Windows drawn and gathered on the device. ``data`` may also be
``(states, counter, shape)`` (``training.feed.device_draws``): the whole training array
already on the device (a ``jax.Array``, passed by reference every call, never
copied), a ``[seed, call]`` counter and an empty array whose shape
``(steps, batch, 0)`` sets how many windows to draw. The step draws the
trajectory and start indices with ``jax.random`` (uniform over all windows,
like the host feed) and gathers the windows there.
"""

from __future__ import annotations

import keras
from keras.src.backend import StatelessScope

__all__ = ["jax_train_step", "gather_on_device", "draw_on_device"]


def gather_on_device(states, m, t, seq_len: int):
    """Windows ``states[m, t : t + seq_len]`` of a device array; float32 or int32 like the host gather."""
    import jax.numpy as jnp

    offsets = jnp.arange(seq_len, dtype=t.dtype)
    windows = states[m[..., None], t[..., None] + offsets]
    if jnp.issubdtype(windows.dtype, jnp.integer):
        return windows.astype(jnp.int32)
    return windows.astype(jnp.float32)


def draw_on_device(states, counter, shape, seq_len: int):
    """Uniform random windows of ``states`` (on the device), ``shape[:2] = (steps, batch)`` of them."""
    import jax

    key = jax.random.fold_in(jax.random.PRNGKey(counter[0]), counter[1])
    key_m, key_t = jax.random.split(key)
    size = shape.shape[:2]
    m = jax.random.randint(key_m, size, 0, states.shape[0])
    t = jax.random.randint(key_t, size, 0, states.shape[1] - seq_len + 1)
    return gather_on_device(states, m, t, seq_len)


def _windows(model, data):
    """The batch (or block of batches) of windows in ``data``, drawn on the device if asked."""
    if isinstance(data, (tuple, list)):  # Keras' (inputs,)
        data = data[0]
    if isinstance(data, (tuple, list)):  # (states on the device, counter, shape)
        return draw_on_device(*data, model.seq_len)
    return data


def jax_train_step(model, state, data):
    """One call of the NEEP training step on the JAX backend (see the module doc).

    Parameters
    ----------
    model : NEEPModel
    state : tuple
        ``(trainable, non_trainable, optimizer, metrics)`` variable values.
    data : array or tuple
        Windows ``(batch, n[, d])``, a block ``(k, batch, n[, d])``, or
        ``(states_on_device, counter, shape)`` (see the module doc).

    Returns
    -------
    logs : dict
        The trackers' results (loss, objective, ep_per_step).
    state : tuple
        The new state.
    """
    import jax
    import jax.numpy as jnp

    trainable, non_trainable, optimizer_vars, metric_vars = state
    x = _windows(model, data)
    window_rank = 2 if model.n_states is not None else 3
    blocked = x.ndim == window_rank + 1
    if blocked and keras.distribution.distribution() is not None:
        x = jnp.swapaxes(x, 0, 1)  # data parallel: the feed sends (batch, steps, ...) (see feed)
    decay = model.weight_decay
    ema = model._ema_index() if model._ema_vars else None

    def loss_fn(tv, ntv, batch):
        if model.noise_variance is not None:  # the noise-corrected objective (CurrentAnsatz)
            (delta_s, penalty), ntv = model.stateless_call(tv, ntv, batch, training=True, with_penalty=True)
            return -jnp.mean(delta_s - jnp.exp(-delta_s - penalty)), (delta_s, ntv)
        delta_s, ntv = model.stateless_call(tv, ntv, batch, training=True)
        delta_s = delta_s.astype(jnp.float32)
        if getattr(model, "objective", "neep") == "logistic":
            return jnp.mean(jax.nn.softplus(-delta_s)), (delta_s, ntv)
        return -jnp.mean(delta_s - jnp.exp(-delta_s)), (delta_s, ntv)

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def one_step(carry, batch):
        tv, ntv, ov = carry
        (_, (delta_s, ntv)), grads = grad_fn(tv, ntv, batch)
        if decay > 0:  # PyTorch-style coupled L2, through Adam's normalization (see NEEPModel)
            grads = [g + decay * v for g, v in zip(grads, tv)]
        tv, ov = model.optimizer.stateless_apply(ov, grads, tv)
        if ema is not None:
            ntv = _ema_update(model, ema, tv, ntv)
        objective = delta_s - jnp.exp(-delta_s)
        sums = jnp.stack([jnp.sum(objective), jnp.sum(delta_s), jnp.asarray(delta_s.size, jnp.float32)])
        return (tv, ntv, ov), sums

    carry = (trainable, non_trainable, optimizer_vars)
    if blocked:
        carry, sums = jax.lax.scan(one_step, carry, x)
        sums = jnp.sum(sums, axis=0)
    else:
        carry, sums = one_step(carry, x)
    trainable, non_trainable, optimizer_vars = carry
    logs, metric_vars = _update_metrics(model, metric_vars, sums)
    return logs, (trainable, non_trainable, optimizer_vars, metric_vars)


def _ema_update(model, ema, trainable, non_trainable):
    """Moving average of the weights, on the state (the TensorFlow step's rule, stateless)."""
    import jax.numpy as jnp

    count_index, avg_index, train_index = ema
    non_trainable = list(non_trainable)
    count = non_trainable[count_index]
    m = model.ema_momentum
    first = count == 0.0
    for a, w in zip(avg_index, train_index):
        v = trainable[w]
        non_trainable[a] = jnp.where(first, v, m * non_trainable[a] + (1.0 - m) * v).astype(non_trainable[a].dtype)
    non_trainable[count_index] = count + 1.0
    return non_trainable


def _update_metrics(model, metric_vars, sums):
    """Update the loss/objective/EP trackers from block sums, statelessly; return (logs, new values)."""
    objective_sum, ep_sum, count = sums[0], sums[1], sums[2]
    mapping = list(zip(model.metrics_variables, metric_vars))
    with StatelessScope(state_mapping=mapping) as scope:
        model.loss_tracker.update_state(-objective_sum / count, sample_weight=count)
        model.objective_tracker.update_state(objective_sum / count, sample_weight=count)
        model.ep_tracker.update_state(ep_sum / count, sample_weight=count)
        logs = {m.name: m.result() for m in model.metrics}
    new = []
    for ref in model.metrics_variables:
        value = scope.get_current_value(ref)
        new.append(ref.value if value is None else value)
    return logs, new

