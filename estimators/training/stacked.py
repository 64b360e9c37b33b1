"""Several seeds as one model (JAX): the stateless training step mapped over a seed axis.

K networks of the same architecture, each with its own initialization,
optimizer state and batches, trained by one compiled call per block of steps:
``jax.vmap`` of ``jax_train_step`` over the stacked state (a leading seed axis
on every weight, moment and tracker). On an accelerator the K small networks
fill the device together (one kernel per layer for all seeds) instead of
queueing K times the launches; on a CPU it costs about K times one seed.

Each seed stays an independent fit: no weight, statistic or batch is shared,
so after ``unstack`` every model is what training it alone on the same
batches gives (to float round-off; tested). Model selection and estimates stay
per seed (the caller evaluates each unstacked model).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["StackedTrainer", "stacked_feed"]


def _state_of(model) -> tuple:
    return ([v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            [v.value for v in model.optimizer.variables],
            [v.value for v in model.metrics_variables])


class StackedTrainer:
    """Train K compiled ``NEEPModel`` s of one architecture as one stacked model (JAX backend).

    Parameters
    ----------
    models : sequence of NEEPModel
        Built and compiled (``model.compile(optimizer=...)`` with optimizers
        built: ``model.build_from_data(batch)``), same architecture and
        options; their initial weights may differ (one seed each).

    Notes
    -----
    ``step(data)`` runs one compiled call: ``data`` is one block per seed,
    stacked on a leading axis, ``(K, steps, batch, n[, d])``, or
    ``((states, counters, shape),)`` with ``counters`` of shape ``(K, 2)`` (one
    seed per model; ``training.feed.device_draws``), the states and the shape shared. ``unstack()`` writes the weights, optimizer
    state and trackers back into the K models.
    """

    def __init__(self, models: Sequence):
        import jax

        from ..nn.backend import is_jax

        if not is_jax():
            raise RuntimeError("StackedTrainer needs the JAX backend (KERAS_BACKEND=jax)")
        self.models = list(models)
        if not self.models:
            raise ValueError("models must hold at least one model")
        first = self.models[0]
        for model in self.models:
            if getattr(model, "optimizer", None) is None or not model.optimizer.built:
                raise ValueError("compile every model and build its optimizer first (build_from_data)")
            shapes = [tuple(v.shape) for v in model.trainable_variables]
            if shapes != [tuple(v.shape) for v in first.trainable_variables]:
                raise ValueError("the stacked models must share one architecture")
        self.state = jax.tree_util.tree_map(lambda *xs: jax.numpy.stack(xs), *[_state_of(m) for m in self.models])
        from ..nn.jax_step import jax_train_step

        def one(state, data):
            return jax_train_step(first, state, data)

        self._step = jax.jit(jax.vmap(one, in_axes=(0, 0)), donate_argnums=0)
        self._step_shared = jax.jit(jax.vmap(one, in_axes=(0, ((None, 0, None),))), donate_argnums=0)

    @property
    def seeds(self) -> int:
        return len(self.models)

    def step(self, data) -> dict:
        """One compiled call on one block per seed; returns the trackers' values, shape (K,) each."""
        shared = isinstance(data, (tuple, list)) and isinstance(data[0], (tuple, list))
        fn = self._step_shared if shared else self._step
        logs, self.state = fn(self.state, data)
        return logs

    def reload_optimizer(self, k: int) -> None:
        """Copy model ``k``'s optimizer variables into the stacked state (a callback changed its learning rate)."""
        trainable, non_trainable, optimizer, metrics = self.state
        optimizer = [value.at[k].set(v.value) for value, v in zip(optimizer, self.models[k].optimizer.variables)]
        self.state = (trainable, non_trainable, optimizer, metrics)

    def unstack(self, stopped: Sequence[int] = ()) -> list:
        """Write each seed's state back into its model (but those in ``stopped``: they keep theirs)."""
        trainable, non_trainable, optimizer, metrics = self.state
        for k, model in enumerate(self.models):
            if k in stopped:
                continue
            for groups, values in ((model.trainable_variables, trainable),
                                   (model.non_trainable_variables, non_trainable),
                                   (model.optimizer.variables, optimizer),
                                   (model.metrics_variables, metrics)):
                for variable, value in zip(groups, values):
                    variable.assign(value[k])  # stays on the device
        return self.models


def stacked_feed(feeds: Sequence):
    """Zip K per-seed feeds (``training.feed.training_feed``) into stacked blocks for ``StackedTrainer.step``.

    Host feeds yield ``(block,)``: stacked to ``(K, steps, batch, ...)``.
    Device feeds (``training.feed.device_draws``) yield ``((states, counter, shape),)``:
    the counters are stacked, the device array and the shape (the same for
    every seed) passed once.
    """
    for items in zip(*feeds):
        first = items[0][0]
        if isinstance(first, (tuple, list)):
            yield ((first[0], np.stack([it[0][1] for it in items]), first[2]),)
        else:
            yield np.stack([it[0] for it in items])
