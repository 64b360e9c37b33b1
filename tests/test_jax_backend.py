"""The estimator on the JAX backend: the estimator tests again under JAX, and agreement with TensorFlow.

Keras fixes its backend when it is imported, so each JAX run is a subprocess
with ``KERAS_BACKEND=jax``. Skipped where JAX is not installed (``pip install
'.[jax]'``; the test extra installs it).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("jax")

ROOT = Path(__file__).resolve().parent.parent

# The tests of everything the estimator runs on: layers, objective, callbacks, the
# estimator, the run folder, the diagnostics. (Simulators and CLI parsing have no backend.)
ESTIMATOR_TESTS = ["test_layers.py", "test_objective.py", "test_callbacks.py", "test_estimator.py",
                   "test_run.py", "test_diagnostics.py", "test_learning.py", "test_noise_network.py",
                   "test_start.py"]


def _env(backend: str) -> dict:
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu")
    return env


def _python(code: str, backend: str, timeout: int = 600) -> str:
    done = subprocess.run([sys.executable, "-c", code], env=_env(backend), capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_estimator_tests_pass_under_jax():
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                           *[str(ROOT / "tests" / name) for name in ESTIMATOR_TESTS]],
                          env=_env("jax"), capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


FIT = """
import json, sys
import numpy as np
from neep.simulators import BeadSpring, simulate_to_arrays
from neep.estimators import NEEP, Trajectories
model = BeadSpring(n=2, t_cold=1, t_hot=10)
arrays = simulate_to_arrays(model, 64, 2000, seed=3, exact_ep=True)
data = Trajectories.from_array(arrays["states"], dt=model.dt, exact_ep=arrays["ep"],
                               ep_per_step_exact=model.ep_per_step)
est = NEEP(model="mlp", hidden_units=32, layers=2, iterations=800, eval_every=100, batch_size=2048,
           learning_rate=3e-3, seed=5, data_check=False, baseline=False, verbose=0).fit(data)
iv = est.ep_rate_interval_
print(json.dumps({"rate": est.entropy_production_rate_, "stderr": iv.sampling_stderr,
                  "exact": est.ep_rate_exact_held_out_, "tf": "tensorflow" in sys.modules}))
"""


def test_same_seed_and_data_agree_across_backends():
    tf_run = json.loads(_python(FIT, "tensorflow").strip().splitlines()[-1])
    jax_run = json.loads(_python(FIT, "jax").strip().splitlines()[-1])
    assert tf_run["tf"] and not jax_run["tf"]  # the JAX run never imports TensorFlow
    # Both are measured on the same held-out windows, so the sampling noise they share
    # cancels in the difference; what is left is each fit's own training noise, at most
    # of the order of the sampling error each. 3 x sqrt(2) x the standard error: a fit that
    # learned nothing (rate ~0) or half the EP on one backend fails it.
    tolerance = 3 * np.sqrt(2) * max(tf_run["stderr"], jax_run["stderr"])
    assert abs(tf_run["rate"] - jax_run["rate"]) < tolerance
    # Both learned: a tiny MLP on tiny data after 800 steps recovers 85-90 % of the EP on
    # either backend (accuracy itself is the estimator tests' subject); a step that does not
    # train (rate near 0) fails here.
    for run in (tf_run, jax_run):
        assert 0.5 * run["exact"] < run["rate"] < 1.5 * run["exact"]


SAVE = """
import numpy as np, keras
from neep.estimators import NEEPModel, build_network, predict_delta_s
net = build_network("mlp", hidden_units=16, layers=2, seed=1, dim=2)
model = NEEPModel(net, mean=[0.5, -0.5], std=[2.0, 1.0], ema_momentum=0.9)
x = np.random.default_rng(0).normal(size=(4, 50, 2)).astype(np.float32)
model(x[:1, :2])
model.save({path!r})
np.save({out!r}, predict_delta_s(model, x))
"""

LOAD = """
import numpy as np, keras
from neep.estimators import predict_delta_s
model = keras.saving.load_model({path!r})
x = np.random.default_rng(0).normal(size=(4, 50, 2)).astype(np.float32)
np.save({out!r}, predict_delta_s(model, x))
"""


@pytest.mark.parametrize("first,second", [("jax", "tensorflow"), ("tensorflow", "jax")])
def test_a_model_saved_under_one_backend_loads_under_the_other(tmp_path, first, second):
    path = str(tmp_path / "model.keras")
    _python(SAVE.format(path=path, out=str(tmp_path / "a.npy")), first)
    _python(LOAD.format(path=path, out=str(tmp_path / "b.npy")), second)
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    # The same float32 weights and arithmetic; only the order of reductions differs.
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_device_draws_are_windows_of_the_data_reproducible_from_the_seed():
    code = """
import numpy as np, keras
from neep.estimators.training.feed import training_feed
from neep.estimators.nn.jax_step import draw_on_device
states = np.arange(7 * 40 * 3, dtype=np.float32).reshape(7, 40, 3)
(dev, counter, shape), = next(iter(training_feed(states, 3, 16, seed=4, steps=5, device=True)))
windows = np.asarray(draw_on_device(dev, counter, shape, 3))
assert windows.shape == (5, 16, 3, 3), windows.shape
# every window is states[m, t:t+3] for some m, t (the values encode their own position)
flat = windows.reshape(-1, 3, 3)
m, t = (flat[:, 0, 0] // 3).astype(int) // 40, (flat[:, 0, 0] // 3).astype(int) % 40
np.testing.assert_array_equal(flat, states[m[:, None], t[:, None] + np.arange(3)])
assert t.max() <= 37 and len(set(m.tolist())) > 1
(dev2, counter2, _), = next(iter(training_feed(states, 3, 16, seed=4, steps=5, device=True)))
np.testing.assert_array_equal(np.asarray(draw_on_device(dev2, counter2, shape, 3)), windows)
print("ok")
"""
    assert _python(code, "jax").strip().endswith("ok")


STACKED = """
import numpy as np, keras
from neep.estimators import NEEPModel, build_network, make_optimizer, predict_delta_s
from neep.estimators.training.feed import training_feed
from neep.estimators.training.stacked import StackedTrainer, stacked_feed
x = (np.random.default_rng(0).normal(size=(20, 300, 2)).cumsum(1) * 0.1).astype(np.float32)
def make(seed):
    model = NEEPModel(build_network("mlp", hidden_units=32, layers=2, seed=seed, dim=2),
                      weight_decay=5e-5, ema_momentum=0.9)
    model.compile(optimizer=make_optimizer(1e-3), jit_compile=True)
    model.build_from_data(x[:, :2])
    return model
alone = [make(k) for k in range(3)]
# the three seeds start from different weights (else the comparison below proves little)
starts = [predict_delta_s(model, x[:3]) for model in alone]
assert not np.allclose(starts[0], starts[1]) and not np.allclose(starts[1], starts[2])
for k, model in enumerate(alone):
    model.fit(training_feed(x, 2, 64, seed=k, steps=5, device={device}), epochs=1, steps_per_epoch=4, verbose=0)
trainer = StackedTrainer([make(k) for k in range(3)])
feed = stacked_feed([training_feed(x, 2, 64, seed=k, steps=5, device={device}) for k in range(3)])
for _ in range(4):
    trainer.step(next(feed))
for a, b in zip(alone, trainer.unstack()):
    pa, pb = predict_delta_s(a, x[:3]), predict_delta_s(b, x[:3])
    # float32 round-off of 20 Adam steps (vmap batches the matmuls differently): ~1e-6 of |dS|
    np.testing.assert_allclose(pb, pa, rtol=0, atol=1e-5 * np.abs(pa).max())
    assert int(keras.ops.convert_to_numpy(b.optimizer.iterations)) == 20
print("ok")
"""


@pytest.mark.parametrize("device", [False, True])
def test_stacked_seeds_train_like_sequential_ones(device):
    assert _python(STACKED.format(device=device), "jax").strip().endswith("ok")


# The data of the stacked and data-parallel comparisons: 2-bead chain, 40 x 1000 steps.
TWO_BEADS = """
import json
import numpy as np
from neep.simulators import BeadSpring, simulate_to_arrays
from neep.estimators import NEEP, Trajectories
model = BeadSpring(n=2, t_cold=1, t_hot=10)
arrays = simulate_to_arrays(model, 40, 1000, seed=3, exact_ep=True)
data = Trajectories.from_array(arrays["states"], dt=model.dt, exact_ep=arrays["ep"])
"""

ESTIMATOR_STACKED = TWO_BEADS + """
rates = {}
for stack in (False, True):
    est = NEEP(model="mlp", hidden_units=16, layers=2, iterations=200, eval_every=100, batch_size=512,
               learning_rate=3e-3, seeds=3, seed=5, data_check=False, baseline=False, verbose=0,
               stack_seeds=stack).fit(data)
    rates[stack] = est.ep_rate_per_seed_.tolist()
print(json.dumps(rates))
"""


def test_neep_seeds_stacked_give_the_sequential_estimates():
    rates = json.loads(_python(ESTIMATOR_STACKED, "jax").strip().splitlines()[-1])
    sequential, stacked = np.array(rates["false"]), np.array(rates["true"])
    assert len(set(np.round(sequential, 6))) == 3  # three different seeds
    # Same seeds, same batches, same selection: float32 round-off apart (vmap may order the
    # matmuls differently), far below any sampling error (~1e-2 here).
    np.testing.assert_allclose(stacked, sequential, rtol=1e-4)


DATA_PARALLEL = TWO_BEADS + """
import jax
assert len(jax.devices()) == 4
rates = {}
for parallel in (False, True):
    est = NEEP(model="mlp", hidden_units=16, layers=2, iterations=200, eval_every=100, batch_size=512,
               learning_rate=3e-3, seed=5, data_check=False, baseline=False, verbose=0,
               data_parallel=parallel).fit(data)
    rates[parallel] = [est.entropy_production_rate_, est.ep_rate_interval_.sampling_stderr,
                       [r["test_objective"] for r in est.history_]]
print(json.dumps(rates))
"""


def test_data_parallel_over_four_devices_gives_the_one_device_estimate():
    # Four logical CPU devices (XLA's host-platform device count): each batch split in four,
    # gradients all-reduced. Same batches, same seeds: only float32 round-off differs (the sums
    # are ordered differently), which training amplifies a little: measured, the validation J
    # agrees to ~2e-5 after 200 steps and the rate to ~0.5 %, a twentieth of its sampling error.
    # A wrong split (a lost shard, a sum instead of a mean) moves J by orders more.
    env = dict(_env("jax"), XLA_FLAGS="--xla_force_host_platform_device_count=4")
    done = subprocess.run([sys.executable, "-c", DATA_PARALLEL], env=env, capture_output=True, text=True,
                          timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    rates = json.loads(done.stdout.strip().splitlines()[-1])
    (one, se, j_one), (four, _, j_four) = rates["false"], rates["true"]
    np.testing.assert_allclose(j_four, j_one, rtol=0, atol=1e-4)
    assert abs(four - one) < 0.5 * se
