"""Shared fixtures: every test gets reproducible randomness."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture
def rng() -> np.random.Generator:
    """A NumPy generator with a fixed seed, fresh for each test."""
    return np.random.default_rng(12345)
