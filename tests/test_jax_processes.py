"""Data parallel across several JAX processes (Keras' distribution API), against one device.

The cluster settings (``neep.estimators.training.workers``) are checked in-process;
the processes themselves are subprocesses on localhost, each with two
logical CPU devices (XLA's host-platform device count), so a batch is split
both within and across processes. (One process over four devices is in
test_jax_backend.py; TensorFlow workers in test_data_parallel.py.)
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from neep.estimators.training import workers

ROOT = Path(__file__).resolve().parent.parent
KERAS = workers.KERAS_VARIABLES


@pytest.fixture
def no_cluster(monkeypatch):
    for name in (*KERAS, "TF_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _set_keras(monkeypatch, addresses="localhost:1234", count="2", index="1"):
    for name, value in zip(KERAS, (addresses, count, index)):
        monkeypatch.setenv(name, value)


def test_keras_variables_name_the_processes(no_cluster):
    assert workers.keras_processes() == (1, 0)
    assert workers.process_count("jax") == 1 and workers.is_chief("jax")
    _set_keras(no_cluster)
    assert workers.keras_processes() == (2, 1)
    assert workers.process_count("jax") == 2 and workers.process_index("jax") == 1
    assert not workers.is_chief("jax")
    # TensorFlow reads TF_CONFIG only, as before.
    assert workers.process_count("tensorflow") == 1 and workers.is_chief("tensorflow")
    _set_keras(no_cluster, addresses="hostA:1234, hostB:1234")  # every process's address: fine too
    assert workers.keras_processes() == (2, 1)


@pytest.mark.parametrize("addresses, count, index, message", [
    (None, "2", "0", "KERAS_DISTRIBUTION_JOB_ADDRESSES not set"),
    ("localhost:1234", "two", "0", "must be an integer, got 'two'"),
    ("localhost:1234", "2", "2", "must be in 0..1"),
    ("localhost:1234", "0", "0", "must be >= 1"),
    ("a:1,b:2,c:3", "2", "0", "names 3 processes but KERAS_DISTRIBUTION_NUM_PROCESSES is 2"),
    ("localhost", "2", "0", "must be host:port"),
])
def test_inconsistent_keras_variables_are_refused(no_cluster, addresses, count, index, message):
    _set_keras(no_cluster, addresses or "", count, index)
    with pytest.raises(ValueError, match=message):
        workers.keras_processes()


def test_cluster_must_fit_the_backend_and_the_command(no_cluster):
    workers.check_cluster("jax", True)
    workers.check_cluster("tensorflow", False)
    _set_keras(no_cluster)
    workers.check_cluster("jax", True)
    with pytest.raises(ValueError, match="backend is tensorflow: set KERAS_BACKEND=jax"):
        workers.check_cluster("tensorflow", True)
    with pytest.raises(ValueError, match="only data parallel"):
        workers.check_cluster("jax", False)
    for name in KERAS:
        no_cluster.delenv(name)
    no_cluster.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]},
                                               "task": {"type": "worker", "index": 1}}))
    workers.check_cluster("tensorflow", True)
    assert not workers.is_chief("tensorflow") and workers.is_chief("jax")
    with pytest.raises(ValueError, match="TF_CONFIG names several TensorFlow workers, but the Keras backend is jax"):
        workers.check_cluster("jax", True)


def test_each_process_feeds_its_devices_rows():
    assert workers.process_share(512, 2, 4) == 256
    assert workers.process_share(512, 4, 4) == 512  # one process
    assert workers.process_share(600, 1, 3) == 200
    with pytest.raises(ValueError, match="batch_size 510 does not split evenly across the 4 devices"):
        workers.process_share(510, 2, 4)


def test_cli_refuses_keras_variables_on_tensorflow(no_cluster, tmp_path):
    from neep.cli.main import cli

    _set_keras(no_cluster, index="0")
    np.save(tmp_path / "x.npy", np.zeros((4, 100, 2), np.float32))
    for backend, flags, message in [("tensorflow", ["--data-parallel"], "set KERAS_BACKEND=jax"),
                                    ("jax", [], "only data parallel (--data-parallel")]:
        no_cluster.setenv("KERAS_BACKEND", backend)
        result = CliRunner().invoke(cli, ["fit", str(tmp_path / "x.npy"), "-o", str(tmp_path / "run"), *flags])
        assert result.exit_code == 1, result.output
        assert message in result.output and "Traceback" not in result.output
        assert not (tmp_path / "run").exists()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in (*KERAS, "TF_CONFIG", "XLA_FLAGS")}
    return dict(env, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3", **extra)


def _process_env(port: int, index: int, devices: int = 2) -> dict:
    return _env(KERAS_DISTRIBUTION_JOB_ADDRESSES=f"localhost:{port}", KERAS_DISTRIBUTION_NUM_PROCESSES="2",
                KERAS_DISTRIBUTION_PROCESS_ID=str(index),
                XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")


DATA = """
import numpy as np
x = np.random.default_rng(0).normal(size=(512, 2, 2)).astype(np.float32)
x[:, 1] = x[:, 0] + 0.3 * x[:, 1] + 0.2
"""

PROCESS = """
import json, sys
from neep.estimators.training.workers import initialize_processes, worker_seed
assert initialize_processes() == 2  # first thing: before any JAX computation
import jax
import numpy as np
from neep.estimators import NEEPModel, build_network, make_optimizer
from neep.estimators.training.feed import training_feed
from neep.estimators.training.loop import data_parallel_scope
""" + DATA + """
with data_parallel_scope(True):
    model = NEEPModel(build_network("mlp", hidden_units=16, layers=2, seed=1, dim=2), weight_decay=0.05,
                      ema_momentum=0.5)
    model.compile(optimizer=make_optimizer(1e-2, 0.05))
    model.build_from_data(x)
    # What NEEP feeds: this process's devices' rows of a batch of 512, batch first, its own seed.
    seed = worker_seed(7)
    block = next(training_feed(x, 2, 512, seed=seed, steps=3))[0]
    # Here: this process's half of the fixed batch x, the same at each of the 3 steps of a call.
    p = jax.process_index()
    half = np.ascontiguousarray(np.repeat(x[None, p * 256:(p + 1) * 256], 3, axis=0).swapaxes(0, 1))
    model.fit(((half,) for _ in range(2)), epochs=2, steps_per_epoch=1, verbose=0, shuffle=False)
np.save(sys.argv[1], np.concatenate([np.ravel(w) for w in model.get_weights()]))
print(json.dumps({"devices": [jax.device_count(), jax.local_device_count()], "block": block.shape,
                  "seed": seed, "outside": worker_seed(7)}))
"""

ONE_DEVICE = """
import sys
import numpy as np
from neep.estimators import NEEPModel, build_network, make_optimizer
""" + DATA + """
def train(batch):
    model = NEEPModel(build_network("mlp", hidden_units=16, layers=2, seed=1, dim=2), weight_decay=0.05,
                      ema_momentum=0.5)
    model.compile(optimizer=make_optimizer(1e-2, 0.05))
    model.build_from_data(batch)
    block = np.repeat(batch[None], 3, axis=0)  # 3 steps per call on the whole batch
    model.fit(((block,) for _ in range(2)), epochs=2, steps_per_epoch=1, verbose=0, shuffle=False)
    return np.concatenate([np.ravel(w) for w in model.get_weights()])
np.save(sys.argv[1], train(x))
# What the processes would reach if both fed the same windows (one seed, not one per process).
np.save(sys.argv[2], train(np.concatenate([x[:256], x[:256]])))
"""


def _run_processes(script: str, args: list[list[str]], cwd: Path, timeout: int = 600) -> list[str]:
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, "-c", script, *args[k]], env=_process_env(port, k), cwd=cwd,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(2)]
    outs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, err[-3000:]
            outs.append(out)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    return outs


@pytest.mark.slow
def test_two_jax_processes_train_like_one_device(tmp_path):
    # Two processes of two devices each hold half of a fixed batch of 512 pairs: after 6 steps
    # (two calls of 3 scanned steps) both hold the weights (and moving averages) one device
    # reaches on the whole batch. Measured: 5.8e-7 at most (739 numbers, 25 of them above 1e-7).
    one = subprocess.Popen([sys.executable, "-c", ONE_DEVICE, str(tmp_path / "one.npy"),
                            str(tmp_path / "same.npy")], env=_env(), cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outs = _run_processes(PROCESS, [[str(tmp_path / f"w{k}.npy")] for k in range(2)], ROOT)
    _, err = one.communicate(timeout=600)
    assert one.returncode == 0, err[-3000:]
    info = [json.loads(out.strip().splitlines()[-1]) for out in outs]
    assert [i["devices"] for i in info] == [[4, 2], [4, 2]]
    # Each process feeds its two devices' 256 of the 512 windows, with a seed of its own.
    assert [i["block"] for i in info] == [[256, 3, 2, 2]] * 2
    assert info[0]["seed"] != info[1]["seed"] and 7 not in (info[0]["seed"], info[1]["seed"])
    assert [i["outside"] for i in info] == [7, 7]  # outside the distribution: the seed as given
    w0, w1, single, same = (np.load(tmp_path / f"{n}.npy") for n in ("w0", "w1", "one", "same"))
    np.testing.assert_array_equal(w0, w1)  # replicated: one value, read on each process
    # Tolerance: float32 round-off of the reduction order. One device sums the 512 per-window
    # gradients in one pass; here each device sums 128 and XLA (Gloo across the processes)
    # all-reduces the four partial sums: the same sum, rounded differently, an error of a few
    # eps (6e-8) times the sum of the terms' magnitudes. Adam divides each gradient component
    # by its own size, so a component that nearly cancels over the batch (terms of both signs)
    # carries that error relative to its small sum, times the step (lr 1e-2): 6 steps move
    # weights of order 0.1-1 by 1e-7..1e-6 (measured 5.8e-7; TensorFlow's workers 2e-7).
    # 1e-5 leaves a margin of 17; a wrong share or scale is 4 orders above it. The weight decay
    # (0.05) is large so that a wrong scale of the loss against the L2 term, which Adam's
    # normalization would otherwise hide, moves the weights at first order. Mutations,
    # measured: the loss scaled by the process count (a sum of per-process means) 0.10; each
    # process averaging its own half only (DataParallel over jax.local_devices()) 0.077 and
    # w0 != w1; both processes feeding the same half (no seed of their own) 0.077, the control:
    assert np.abs(w0 - single).max() < 1e-5
    assert np.abs(same - single).max() > 1e-3


@pytest.mark.slow
def test_neep_fit_on_two_jax_processes_writes_one_run_folder(tmp_path):
    from neep.simulators import BeadSpring, simulate_to_file

    simulate_to_file(BeadSpring(n=2, t_cold=1, t_hot=10), tmp_path / "b.npy", 64, 2000, seed=3, exact_ep=True)
    command = [sys.executable, "-m", "neep.cli.main", "fit", "b.npy", "--model", "mlp", "--hidden-units", "16",
               "--iterations", "200", "--eval-every", "100", "--batch-size", "512", "--no-data-check",
               "--data-parallel", "-o", "run"]
    port = _free_port()
    scratch = tmp_path / "scratch"  # the temporary folder of process 1's outputs lands here
    scratch.mkdir()
    procs = [subprocess.Popen(command, env=dict(_process_env(port, k), TMPDIR=str(scratch)), cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(2)]
    try:
        outs = [proc.communicate(timeout=600) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert [p.returncode for p in procs] == [0, 0], outs[0][1][-2000:] + outs[1][1][-2000:]
    assert "EP rate" in outs[0][0] and "worker done" in outs[1][0]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["ep_rate"] > 0
    assert not [p for p in scratch.iterdir() if p.name.startswith("neep-worker-")]  # removed
