"""Several worker processes (hosts) training one model: TensorFlow's MultiWorkerMirroredStrategy.

The cluster is described the TensorFlow way, by the ``TF_CONFIG`` environment
variable of each worker (``{"cluster": {"worker": ["host0:port", ...]},
"task": {"type": "worker", "index": k}}``); every worker runs the same
command. What neep adds:

* ``multi_worker_strategy()``: the strategy, created when ``TF_CONFIG`` names
  two or more workers. TensorFlow wants it created before any other
  TensorFlow operation, so ``neep fit --data-parallel`` creates it first
  thing and fits inside its scope (``NEEP(data_parallel=True)`` then uses the
  strategy in scope).
* Batches: Keras treats each worker's batch of ``batch_size`` windows as the
  global batch and gives each worker ``batch_size / workers`` rows of it per
  step (consecutive slices; measured, TF 2.21 / Keras 3.15); each worker
  draws its windows with its own seed (``worker_seed``), so a step's global
  batch is ``batch_size`` independent windows, as on one device (tested
  against one device to 2e-7 in the weights).
* Outputs: only the chief (worker 0) writes the run folder; the others write
  to a temporary folder that is removed (``is_chief``).
"""

from __future__ import annotations

import json
import os

__all__ = ["cluster_workers", "task_index", "is_chief", "multi_worker_strategy", "worker_seed"]


def _config() -> dict:
    try:
        return json.loads(os.environ.get("TF_CONFIG", "") or "{}")
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON: {error}") from None


def cluster_workers() -> int:
    """Workers named by ``TF_CONFIG`` (1 without it)."""
    return max(1, len(_config().get("cluster", {}).get("worker", [])))


def task_index() -> int:
    """This worker's index in ``TF_CONFIG`` (0 without it)."""
    return int(_config().get("task", {}).get("index", 0))


def is_chief() -> bool:
    """Whether this process writes the outputs (worker 0, or no cluster)."""
    return task_index() == 0


def multi_worker_strategy():
    """``tf.distribute.MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` names two or more workers, else None."""
    if cluster_workers() < 2:
        return None
    import tensorflow as tf

    return tf.distribute.MultiWorkerMirroredStrategy()


def worker_seed(seed: int) -> int:
    """The batch seed of this worker: ``seed`` on one worker, a distinct stream on each of several."""
    import tensorflow as tf

    strategy = tf.distribute.get_strategy()
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return seed
    from .training import seed_for

    return seed_for(seed, 10_000 + task_index())
