"""The NEEP objective and the lower bounds against NumPy and exact values."""

import keras
import numpy as np
import pytest

from neep.estimators import lower_bound_dv, lower_bound_j, neep_objective, objective_numpy


def test_objective_matches_numpy(rng):
    ds = rng.normal(0.3, 1.5, size=10_000).astype(np.float32)
    ref = np.mean(ds.astype(np.float64) - np.exp(-ds.astype(np.float64)))
    got = float(neep_objective(keras.ops.convert_to_tensor(ds)))
    # float32 reduction of 1e4 terms of size ~e^3: relative round-off ~1e-6.
    assert got == pytest.approx(ref, rel=1e-5)
    assert objective_numpy(ds) == pytest.approx(ref, rel=1e-12)


def _gradient(values: np.ndarray) -> np.ndarray:
    """dJ/d(dS) through the backend's own autodiff (the path training takes)."""
    if keras.backend.backend() == "jax":
        import jax

        return np.asarray(jax.grad(neep_objective)(values))
    import tensorflow as tf

    ds = tf.Variable(values)
    with tf.GradientTape() as tape:
        j = neep_objective(ds)
    return tape.gradient(j, ds).numpy()


def test_objective_gradient_is_one_plus_exp_minus_ds():
    values = np.array([-1.0, 0.0, 0.5, 2.0], dtype=np.float32)
    np.testing.assert_allclose(_gradient(values), (1 + np.exp(-values)) / 4, rtol=1e-6)


def test_bounds_are_tight_at_the_true_entropy_production():
    # Two outcomes with P(a) = 3/4, dS_a = ln 3 and P(b) = 1/4, dS_b = -ln 3:
    # E[exp(-dS)] = 3/4 * 1/3 + 1/4 * 3 = 1 (fluctuation theorem), so both
    # bounds equal E[dS] = ln(3) / 2 exactly (up to float64 round-off).
    ds = np.array([np.log(3)] * 3 + [-np.log(3)])
    assert lower_bound_j(ds) == pytest.approx(np.log(3) / 2, abs=1e-12)
    assert lower_bound_dv(ds) == pytest.approx(np.log(3) / 2, abs=1e-12)


def test_dv_bound_is_at_least_the_j_bound(rng):
    # ln x <= x - 1 makes DV >= 1 + J for any sample.
    for _ in range(20):
        ds = rng.normal(rng.normal(), rng.uniform(0.1, 3), size=100)
        assert lower_bound_dv(ds) >= lower_bound_j(ds) - 1e-12


def test_dv_bound_does_not_overflow():
    ds = np.array([-800.0, 1.0])
    assert np.isfinite(lower_bound_dv(ds))


def test_empty_input_is_rejected():
    with pytest.raises(ValueError, match="at least one"):
        lower_bound_j(np.array([]))
