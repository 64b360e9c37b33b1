"""The transition log-ratio of odd data with a cubic drift (baselines.transition), against exact EP values."""

import numpy as np
import pytest

from neep.estimators.baselines.parity import step_rate
from neep.estimators.baselines.transition import choose_transition, fit_polynomial_transition
from neep.simulators import RotatingTrap

ODD = (2, 3)


def _double_well(m: int, steps: int, dt: float, seed: int, substeps: int = 10, eps: float = 0.5):
    """A 2-D underdamped particle (m = gamma = T = 1) in U = (x^2 - 1)^2 + y^2 / 2 with a force eps (-y, x).

    BAOAB with ``dt / substeps``, vectorized over trajectories. Returns the states ``(m, steps, 4)`` and the
    EP rate of each trajectory: the work of the rotational force over T, eps (x dy - y dx) at the
    midpoint of every fine step (Stratonovich), over the recorded time.
    """
    rng = np.random.default_rng(seed)
    h = dt / substeps
    a = np.exp(-h)
    b = np.sqrt(1.0 - a * a)
    x, v = rng.normal(0.0, 0.7, (m, 2)), rng.normal(0.0, 1.0, (m, 2))

    def force(p):
        return np.stack([-4.0 * p[:, 0] * (p[:, 0] ** 2 - 1.0) - eps * p[:, 1], -p[:, 1] + eps * p[:, 0]], axis=1)

    out, work, f = np.empty((m, steps, 4)), np.zeros(m), force(x)
    for t in range(-steps // 4, steps):  # a quarter of the run as burn-in (relaxation time ~1, 5 time units)
        for _ in range(substeps):
            v = v + 0.5 * h * f
            x0 = x
            x = x + 0.5 * h * v
            v = a * v + b * rng.standard_normal((m, 2))
            x = x + 0.5 * h * v
            if t >= 0:
                mid, dx = 0.5 * (x0 + x), x - x0
                work += eps * (mid[:, 0] * dx[:, 1] - mid[:, 1] * dx[:, 0])
            f = force(x)
            v = v + 0.5 * h * f
        if t >= 0:
            out[:, t, :2], out[:, t, 2:] = x, v
    return out, work / (steps * dt)


def test_on_a_linear_system_the_linear_transition_is_kept_and_exact():
    model = RotatingTrap(dt=0.01)
    z = model.simulate(120, 2000, seed=2).astype(np.float64)
    chosen, record = choose_transition(z[:50], z[50:60], ODD)
    assert chosen.degree == 1 and record["gain_sigmas"] < 2.0
    # The linear transition's log-ratio has mean sigma dt: within 3 standard errors of the held-out rate
    # (block bootstrap over 60 trajectories; the exact rate is the process's).
    found, _ = step_rate(chosen.delta_s(z[60:]), 0.01)
    assert abs(found.value - model.ep_rate) < 3 * found.stderr
    with pytest.raises(ValueError, match="degree must be 1 or 3"):
        fit_polynomial_transition(z[:5], ODD, 2)


def test_on_a_double_well_the_cubic_transition_is_chosen_and_lands_on_the_path_ep():
    z, rates = _double_well(240, 2000, 0.01, seed=3)
    exact, exact_error = rates.mean(), rates.std(ddof=1) / np.sqrt(rates.size)  # 0.234 +- 0.012 here
    chosen, record = choose_transition(z[:100], z[100:120], ODD)
    assert chosen.degree == 3 and record["gain_sigmas"] > 5  # the well's cubic force: measured 11 errors here
    found, _ = step_rate(chosen.delta_s(z[120:]), 0.01)
    linear, _ = step_rate(fit_polynomial_transition(z[:100], ODD, 1).delta_s(z[120:]), 0.01)
    # The cubic within 3 combined standard errors of the path's own EP (the same trajectories' work,
    # measured at the fine step: its discretization error, ~0.1 % at h = 0.001, is far below them).
    # The linear (Gaussian) transition misses by ~45 %: the test can fail.
    error = np.hypot(found.stderr, exact_error)
    assert abs(found.value - exact) < 3 * error
    assert linear.value < exact - 5 * error



def test_a_fit_of_odd_data_reports_the_cubic_transition_where_the_network_is_off():
    """End to end: the choice is made once (``with_parity``), and the cubic is the closed form reported."""
    from neep.estimators import NEEP, Trajectories

    z, rates = _double_well(160, 1500, 0.01, seed=6)
    exact, exact_error = rates.mean(), rates.std(ddof=1) / np.sqrt(rates.size)
    est = NEEP(odd=ODD, hidden_units=16, layers=2, iterations=200, eval_every=100, data_check=False, seed=0,
               verbose=0).fit(Trajectories.from_array(z.astype(np.float32), dt=0.01))
    odd = est.odd_
    assert odd.transition["transition"] == "cubic_transition" and odd.cubic is not None
    # The cubic is reported whatever the network reads (here it kept its Gaussian start: the Gaussian's value).
    assert odd.closed_form is odd.cubic and odd.headline is odd.cubic and odd.reported == "cubic"
    # The cubic's held-out rate within 3 combined standard errors of the paths' own EP (measured 0.265 +- 0.047
    # against 0.269 +- 0.017); the Gaussian form (a linear drift) beyond 3 of its own (0.14 +- 0.02).
    assert abs(odd.cubic.value - exact) < 3 * np.hypot(odd.cubic.stderr, exact_error)
    assert odd.gaussian.value < exact - 3 * np.hypot(odd.gaussian.stderr, exact_error)
