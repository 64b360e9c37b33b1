"""Data-parallel training (TensorFlow MirroredStrategy) on logical CPU devices, against one device.

TensorFlow's logical devices must be configured before it starts, so the run
is a subprocess. (The JAX DataParallel counterpart is in test_jax_backend.py.)
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent

STEPS = """
import contextlib, json
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 4)
import numpy as np
import pytest
from neep.estimators import NEEPModel, build_network, make_optimizer
from neep.estimators.training.loop import data_parallel_scope
x = np.random.default_rng(0).normal(size=(512, 2, 2)).astype(np.float32)
x[:, 1] = x[:, 0] + 0.3 * x[:, 1] + 0.2
weights = {}
for parallel in (False, True):
    with data_parallel_scope(parallel):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        model = NEEPModel(build_network("mlp", hidden_units=16, layers=2, seed=1, dim=2), weight_decay=0.05,
                          ema_momentum=0.5)
        model.compile(optimizer=make_optimizer(1e-2, 0.05))
        model.build_from_data(x)
    model.fit(tf.data.Dataset.from_tensors(x).repeat(), epochs=1, steps_per_epoch=3, verbose=0)
    weights[parallel] = [np.asarray(w).tolist() for w in model.get_weights()]
    weights[f"replicas {str(parallel).lower()}"] = replicas
print(json.dumps(weights))
"""


def test_mirrored_steps_equal_one_device_steps():
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", STEPS], env=env, capture_output=True, text=True, timeout=300,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["replicas true"] == 4 and out["replicas false"] == 1
    # Each replica takes a quarter of the batch; its loss and L2 term are scaled by 1/4 and the
    # optimizer sums the four gradients. The weight decay is large (0.05) so that a wrong
    # scale of either part (which Adam's normalization would otherwise hide) changes the
    # weights at first order; the moving-average weights are compared too. Left: float32
    # round-off of differently blocked matmuls, ~1e-7 of weights of order 1.
    for one, four in zip(out["false"], out["true"]):
        diff = np.abs(np.asarray(one) - np.asarray(four)).max()
        assert diff < 1e-5


def _free_ports(count: int) -> list[int]:
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _tf_config(ports: list[int], index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


WORKER = """
import sys
import numpy as np
import pytest
from neep.estimators.training.workers import multi_worker_strategy, worker_seed
strategy = multi_worker_strategy()  # before any other TensorFlow operation
import tensorflow as tf
from neep.estimators import NEEPModel, build_network, make_optimizer
from neep.estimators.training.workers import task_index
x = np.random.default_rng(0).normal(size=(512, 2, 2)).astype(np.float32)
x[:, 1] = x[:, 0] + 0.3 * x[:, 1] + 0.2
with strategy.scope():
    model = NEEPModel(build_network("mlp", hidden_units=16, layers=2, seed=1, dim=2), weight_decay=0.05,
                      ema_momentum=0.5)
    model.compile(optimizer=make_optimizer(1e-2, 0.05))
    model.build_from_data(x)
options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
# Keras takes each worker's batch as the global one and uses batch / workers rows of it per step
# (consecutive slices): a batch holding this worker's half twice gives it that half every step.
half = x[task_index() * 256:(task_index() + 1) * 256]
data = tf.data.Dataset.from_tensors(np.concatenate([half, half])).repeat().with_options(options)
model.fit(data, epochs=1, steps_per_epoch=3, verbose=0)
np.save(sys.argv[1], np.concatenate([np.ravel(w) for w in model.get_weights()]))
with strategy.scope():
    assert worker_seed(7) != 7  # each worker draws its own windows
assert worker_seed(7) == 7  # outside the strategy: the seed as given
"""

ONE_DEVICE = """
import sys
import numpy as np, tensorflow as tf
from neep.estimators import NEEPModel, build_network, make_optimizer
x = np.random.default_rng(0).normal(size=(512, 2, 2)).astype(np.float32)
x[:, 1] = x[:, 0] + 0.3 * x[:, 1] + 0.2
model = NEEPModel(build_network("mlp", hidden_units=16, layers=2, seed=1, dim=2), weight_decay=0.05,
                  ema_momentum=0.5)
model.compile(optimizer=make_optimizer(1e-2, 0.05))
model.build_from_data(x)
model.fit(tf.data.Dataset.from_tensors(x).repeat(), epochs=1, steps_per_epoch=3, verbose=0)
np.save(sys.argv[1], np.concatenate([np.ravel(w) for w in model.get_weights()]))
"""


def test_two_worker_processes_train_like_one_device(tmp_path):
    # Two workers on localhost (MultiWorkerMirroredStrategy through TF_CONFIG), each holding half
    # of a batch: after 3 steps both hold the weights one device reaches on the whole batch,
    # to float32 round-off (the same scaling checks as the mirrored test above).
    ports = _free_ports(2)
    base = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path / f"w{k}.npy")],
                                env=dict(base, TF_CONFIG=_tf_config(ports, k)), cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(2)]
    one = subprocess.run([sys.executable, "-c", ONE_DEVICE, str(tmp_path / "one.npy")], env=base, cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-2000:]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-3000:]
    w0, w1, single = (np.load(tmp_path / f"{n}.npy") for n in ("w0", "w1", "one"))
    np.testing.assert_array_equal(w0, w1)
    assert np.abs(w0 - single).max() < 1e-5


@pytest.mark.slow
def test_neep_fit_on_two_workers_writes_one_run_folder(tmp_path):
    from neep.simulators import BeadSpring, simulate_to_file

    simulate_to_file(BeadSpring(n=2, t_cold=1, t_hot=10), tmp_path / "b.npy", 64, 2000, seed=3, exact_ep=True)
    ports = _free_ports(2)
    base = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    command = ["neep", "fit", "b.npy", "--model", "mlp", "--hidden-units", "16", "--iterations", "200",
               "--eval-every", "100", "--batch-size", "512", "--no-data-check", "--data-parallel", "-o", "run"]
    workers = [subprocess.Popen(command, env=dict(base, TF_CONFIG=_tf_config(ports, k)), cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(2)]
    outs = [w.communicate(timeout=600) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outs[0][1][-2000:] + outs[1][1][-2000:]
    assert "EP rate" in outs[0][0] and "worker done" in outs[1][0]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["ep_rate"] > 0
