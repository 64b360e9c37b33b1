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

ROOT = Path(__file__).resolve().parent.parent

STEPS = """
import contextlib, json
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 4)
import numpy as np
from neep.estimators import NEEPModel, build_network, make_optimizer
from neep.estimators.training import data_parallel_scope
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
