"""TensorFlow's thread pools on a CPU (``nn.backend.configure_cpu_threads``): set before the runtime starts, else left.

Why (measured on the 2-core CPU, benchmarks/RESULTS-estimators.md, session 11): one thread per op and two
ops at once made a training step of the current network 1.4x faster; the rule must not touch a runtime
that already runs, a user's own setting, or another backend.
"""

import os
import subprocess
import sys

import pytest

from neep.estimators.nn.backend import THREAD_VARIABLES, configure_cpu_threads, cpu_threads


@pytest.mark.parametrize("cores, expected", [(1, (1, 1)), (2, (1, 2)), (4, (2, 2)), (16, (8, 2))])
def test_two_streams_of_ops_with_half_the_cores_each(cores, expected):
    assert cpu_threads(cores) == expected


def _fresh(code: str, **env) -> str:
    """Output of ``code`` in a new interpreter (no TensorFlow runtime yet), with ``env`` added."""
    environ = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES and k != "KERAS_BACKEND"}
    return subprocess.run([sys.executable, "-c", code], env={**environ, **env}, capture_output=True, text=True,
                          check=True, timeout=120).stdout.strip().splitlines()[-1]


CHECK = ("from neep.estimators.nn.backend import configure_cpu_threads\n"
         "print(configure_cpu_threads())\n"
         "import tensorflow as tf\n"
         "print((tf.config.threading.get_intra_op_parallelism_threads(),"
         " tf.config.threading.get_inter_op_parallelism_threads()))")


def test_a_fresh_process_gets_the_pools_and_a_users_variable_wins():
    assert _fresh(CHECK) == str(cpu_threads())
    # TensorFlow reads the variables itself; the rule leaves its getters at 0 (its own default) and sets nothing.
    assert _fresh(CHECK, TF_NUM_INTRAOP_THREADS="2") == "(0, 0)"


def test_a_running_runtime_is_left_as_it_is():
    # An op ran first (TensorFlow's own pools started): nothing is set, and nothing fails.
    started = "import tensorflow as tf\ntf.constant(1.0) + 1.0\n"
    assert _fresh(started + CHECK) == "(0, 0)"  # TensorFlow's defaults, as they were
    assert _fresh(started + "from neep.estimators.nn.backend import configure_cpu_threads\n"
                  "print(configure_cpu_threads())") == "None"


def test_another_backend_is_not_touched(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert configure_cpu_threads() is None
