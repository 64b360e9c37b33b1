"""Shared fixtures: every test gets reproducible randomness."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def pytest_configure(config):
    # TensorFlow's thread pools as the neep command sets them (nn.backend.configure_cpu_threads), before any
    # test runs an op: a fit in this process then equals, to the bit, the same fit in a command's worker
    # process (neep reproduce --jobs).
    from neep.estimators.nn.backend import configure_cpu_threads

    configure_cpu_threads()


@pytest.fixture
def rng() -> np.random.Generator:
    """A NumPy generator with a fixed seed, fresh for each test."""
    return np.random.default_rng(12345)
