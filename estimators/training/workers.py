"""Several processes (hosts) training one model: TensorFlow workers, or JAX processes.

Every process runs the same command; only its index in the cluster differs.
Only process (worker) 0 writes the outputs; the others write to a temporary
folder that is removed (``is_chief``). Each process draws its windows with its
own seed (``worker_seed``), so a step's global batch is ``batch_size``
independent windows, as on one device.

TensorFlow (MultiWorkerMirroredStrategy). The cluster is the ``TF_CONFIG``
environment variable of each worker (``{"cluster": {"worker": ["host0:port",
...]}, "task": {"type": "worker", "index": k}}``).

* ``multi_worker_strategy()``: the strategy, created when ``TF_CONFIG`` names
  two or more workers. TensorFlow wants it created before any other
  TensorFlow operation, so ``neep fit --data-parallel`` creates it first
  thing and fits inside its scope (``NEEP(data_parallel=True)`` then uses the
  strategy in scope).
* Batches: Keras treats each worker's batch of ``batch_size`` windows as the
  global batch and gives each worker ``batch_size / workers`` rows of it per
  step (consecutive slices; measured, TF 2.21 / Keras 3.15); tested against
  one device to 2e-7 in the weights.

JAX (Keras' distribution API). The cluster is Keras' environment variables,
the same on every process but the id: ``KERAS_DISTRIBUTION_JOB_ADDRESSES``
(``host:port`` of process 0, the coordinator; or every process's address,
comma separated, process 0's first), ``KERAS_DISTRIBUTION_NUM_PROCESSES`` and
``KERAS_DISTRIBUTION_PROCESS_ID``.

* ``initialize_processes()``: ``keras.distribution.initialize()`` (which calls
  ``jax.distributed.initialize``), before any JAX computation; on CPUs the
  cross-process collectives are Gloo's. ``neep fit --data-parallel`` calls it
  first thing; a script calls it before using ``NEEP(data_parallel=True)``.
* Then ``keras.distribution.DataParallel`` spans ``jax.devices()``, every
  device of every process (``training.data_parallel_scope``). Keras builds a
  step's global batch from each process's local rows
  (``jax.make_array_from_process_local_data``; the order of the rows is
  immaterial to the mean loss), so each process feeds its devices' share, ``batch_size / processes`` windows
  with as many devices on each (``process_share``, used by
  ``training.feed.training_feed``). The step's loss is the mean over the
  global batch; XLA all-reduces the gradients across the processes.
"""

from __future__ import annotations

import json
import os

__all__ = ["cluster_workers", "task_index", "is_chief", "multi_worker_strategy", "worker_seed", "KERAS_VARIABLES",
           "keras_processes", "process_count", "process_index", "check_cluster", "initialize_processes",
           "check_processes", "process_share"]

#: Keras' description of a cluster of JAX processes (read by ``keras.distribution.initialize``).
KERAS_VARIABLES = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES",
                   "KERAS_DISTRIBUTION_PROCESS_ID")


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


def _integer(name: str) -> int:
    value = os.environ[name]
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def _host_port(address: str) -> bool:
    host, _, port = address.rpartition(":")
    return bool(host) and port.isdigit()


def keras_processes() -> tuple[int, int]:
    """``(processes, this process's id)`` named by Keras' variables (``KERAS_VARIABLES``); ``(1, 0)`` without.

    Raises
    ------
    ValueError
        One line, when the variables are incomplete or disagree (a count
        below 1, an id out of range, a list of addresses of another length).
    """
    given = [name for name in KERAS_VARIABLES if os.environ.get(name, "").strip()]
    if not given:
        return 1, 0
    missing = [name for name in KERAS_VARIABLES if name not in given]
    if missing:
        raise ValueError(f"{', '.join(missing)} not set: several JAX processes need all of "
                         f"{', '.join(KERAS_VARIABLES)}")
    count, index = _integer(KERAS_VARIABLES[1]), _integer(KERAS_VARIABLES[2])
    if count < 1:
        raise ValueError(f"KERAS_DISTRIBUTION_NUM_PROCESSES must be >= 1, got {count}")
    if not 0 <= index < count:
        raise ValueError(f"KERAS_DISTRIBUTION_PROCESS_ID must be in 0..{count - 1} "
                         f"(KERAS_DISTRIBUTION_NUM_PROCESSES is {count}), got {index}")
    addresses = [a.strip() for a in os.environ[KERAS_VARIABLES[0]].split(",")]
    if len(addresses) > 1 and len(addresses) != count:
        raise ValueError(f"KERAS_DISTRIBUTION_JOB_ADDRESSES names {len(addresses)} processes but "
                         f"KERAS_DISTRIBUTION_NUM_PROCESSES is {count}")
    if not all(_host_port(a) for a in addresses):
        raise ValueError("KERAS_DISTRIBUTION_JOB_ADDRESSES must be host:port (process 0's, or every "
                         f"process's, comma separated), got {os.environ[KERAS_VARIABLES[0]]!r}")
    return count, index


def _backend(backend: str | None) -> str:
    if backend is not None:
        return backend
    from ..nn.backend import backend as current

    return current()


def process_count(backend: str | None = None) -> int:
    """Processes training together: ``TF_CONFIG``'s workers on TensorFlow, Keras' variables on JAX.

    ``backend``: the Keras backend ("tensorflow", "jax"); default the one in use.
    """
    return keras_processes()[0] if _backend(backend) == "jax" else cluster_workers()


def process_index(backend: str | None = None) -> int:
    """This process's index in its cluster (0 without one); ``backend`` as in ``process_count``."""
    return keras_processes()[1] if _backend(backend) == "jax" else task_index()


def is_chief(backend: str | None = None) -> bool:
    """Whether this process writes the outputs (process 0, or no cluster); ``backend`` as in ``process_count``."""
    return process_index(backend) == 0


def check_cluster(backend: str, data_parallel: bool) -> None:
    """Refuse a cluster description that does not fit the backend or the command (``ValueError``, one line).

    Keras' variables naming several processes need the JAX backend and data
    parallel training; several ``TF_CONFIG`` workers with data parallel
    training need TensorFlow.
    """
    count, _ = keras_processes()
    if count > 1 and backend != "jax":
        raise ValueError(f"KERAS_DISTRIBUTION_NUM_PROCESSES={count} describes JAX processes, but the Keras "
                         f"backend is {backend}: set KERAS_BACKEND=jax (TensorFlow workers read TF_CONFIG)")
    if count > 1 and not data_parallel:
        raise ValueError(f"KERAS_DISTRIBUTION_NUM_PROCESSES={count}: several processes train one model only "
                         "data parallel (--data-parallel, NEEP(data_parallel=True))")
    if backend == "jax" and data_parallel and cluster_workers() > 1:
        raise ValueError("TF_CONFIG names several TensorFlow workers, but the Keras backend is jax: describe "
                         "JAX processes with KERAS_DISTRIBUTION_JOB_ADDRESSES, _NUM_PROCESSES and _PROCESS_ID")


def initialize_processes() -> int:
    """Join the JAX processes named by Keras' variables; return their number (1: nothing to join).

    Calls ``keras.distribution.initialize()`` (``jax.distributed.initialize``),
    which must come before any JAX computation, once per process; a second
    call after a successful one does nothing. On CPUs the cross-process
    collectives are set to Gloo where JAX has none chosen (older JAX; JAX
    0.10's default is Gloo already).
    """
    count, _ = keras_processes()
    if count < 2:
        return 1
    import jax
    import keras

    check_cluster(keras.backend.backend(), True)
    if not getattr(jax.distributed, "is_initialized", lambda: False)():
        try:
            if jax.config.jax_cpu_collectives_implementation in (None, "none"):
                jax.config.update("jax_cpu_collectives_implementation", "gloo")
        except AttributeError:  # a JAX without this option: its own default
            pass
        keras.distribution.initialize()
    check_processes()
    return count


def check_processes() -> None:
    """Refuse to train when Keras' variables name several processes that JAX has not joined (``ValueError``)."""
    count, index = keras_processes()
    if count < 2:
        return
    import jax

    if (jax.process_count(), jax.process_index()) != (count, index):
        raise ValueError(f"Keras' variables name process {index} of {count}, but JAX runs process "
                         f"{jax.process_index()} of {jax.process_count()}: call "
                         "neep.estimators.workers.initialize_processes() before any JAX computation")


def process_share(batch_size: int, local_devices: int, devices: int) -> int:
    """Windows one process feeds per step: its devices' rows of a global batch of ``batch_size`` (JAX).

    ``devices``: the devices of the data-parallel mesh, all processes
    together; ``local_devices``: this process's among them. The batch must
    split evenly across the devices (``ValueError`` otherwise).
    """
    if batch_size % devices:
        raise ValueError(f"batch_size {batch_size} does not split evenly across the {devices} devices of "
                         f"data parallel training: use a multiple of {devices}")
    return batch_size // devices * local_devices


def multi_worker_strategy():
    """``tf.distribute.MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` names two or more workers, else None."""
    if cluster_workers() < 2:
        return None
    import tensorflow as tf

    return tf.distribute.MultiWorkerMirroredStrategy()


def worker_seed(seed: int) -> int:
    """The batch seed of this process: ``seed`` alone, a distinct stream on each of several.

    Several: TensorFlow workers under ``MultiWorkerMirroredStrategy``, or JAX
    processes under a Keras distribution.
    """
    from ..nn.backend import is_jax
    from .seeds import seed_for

    if is_jax():
        import jax
        import keras

        if keras.distribution.distribution() is None or jax.process_count() < 2:
            return seed
        return seed_for(seed, 10_000 + jax.process_index())
    import tensorflow as tf

    strategy = tf.distribute.get_strategy()
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return seed
    return seed_for(seed, 10_000 + task_index())
