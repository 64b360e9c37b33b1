"""The discrete flashing ratchet: exact values, kernels, sampler protocol.

Statistical tolerances are 5 standard errors derived from the sampling error
of the quantity compared (the derivation is next to each test); the seeds are
fixed, so a pass is reproducible, and a 5-sigma band fails a correct
implementation with probability ~1e-6 per comparison.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import scipy.linalg

from neep.simulators.ratchet import FlashingRatchet
from neep.simulators.ratchet_view import RatchetView

# Published values (paper Fig. 3(c) and the issue), r = 1, T = 1, given to 5 digits:
# compare to half a unit of the last digit.
HALF_LAST_DIGIT = 0.5e-5
PARAMETER_SETS = [(2.0, 1.0, 1.0), (3.0, 1.0, 1.0), (1.25, 0.3, 2.0), (-0.7, 5.0, 0.5), (0.0, 1.0, 1.0)]


def _simulate_full(ratchet, trajectories, steps, seed, continuous_time=False):
    view = RatchetView(ratchet, continuous_time=continuous_time)
    out = {k: np.empty(shape, dtype) for k, (shape, dtype) in view.outputs(trajectories, steps, True).items()}
    view.fill(np.random.default_rng(seed), out)
    return out


# --------------------------------------------------------------------------- exact values
@pytest.mark.parametrize(
    "potential, per_jump, per_time",
    [(2.0, 0.21307, 0.56565), (3.0, 0.39820, None)],
)
def test_published_ep_values(potential, per_jump, per_time):
    ratchet = FlashingRatchet(potential=potential, switching_rate=1.0, temperature=1.0)
    assert abs(ratchet.ep_per_jump - per_jump) < HALF_LAST_DIGIT
    if per_time is not None:
        assert abs(ratchet.ep_rate - per_time) < HALF_LAST_DIGIT


@pytest.mark.parametrize("potential, rate, temperature", PARAMETER_SETS)
def test_stationary_distributions_solve_their_equations(potential, rate, temperature):
    ratchet = FlashingRatchet(potential, rate, temperature)
    q, p_jump = ratchet.rate_matrix, ratchet.jump_matrix
    p, pi = ratchet.stationary, ratchet.jump_stationary
    np.testing.assert_allclose(q.sum(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(p_jump.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_array_equal(np.diag(p_jump), 0.0)
    assert (p > 0).all() and (pi > 0).all()
    np.testing.assert_allclose(p.sum(), 1.0, rtol=1e-14)
    np.testing.assert_allclose(p @ q, 0.0, atol=1e-13 * np.abs(q).max())
    np.testing.assert_allclose(pi @ p_jump, pi, rtol=1e-13)
    # independent solver: the null space of Q^T
    null = scipy.linalg.null_space(q.T)[:, 0]
    np.testing.assert_allclose(p, null / null.sum(), rtol=1e-10)
    # jump-chain stationary state is p weighted by the escape rates
    weighted = p * ratchet.escape_rates
    np.testing.assert_allclose(pi, weighted / weighted.sum(), rtol=1e-12)


@pytest.mark.parametrize("potential, rate, temperature", PARAMETER_SETS)
def test_ep_consistency(potential, rate, temperature):
    ratchet = FlashingRatchet(potential, rate, temperature)
    # per unit time = per jump / mean time per jump
    np.testing.assert_allclose(ratchet.ep_rate, ratchet.ep_per_jump / ratchet.mean_jump_time, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ratchet.mean_jump_time, ratchet.jump_stationary @ (1 / ratchet.escape_rates), rtol=1e-12)
    # the paper's sigma = sum p(a, b)(V_a - V_b) / T over jumps a -> b (only on-state jumps exchange heat)
    pi, p_jump, v = ratchet.jump_stationary, ratchet.jump_matrix, ratchet.potentials
    on = slice(0, 3)  # switching jumps change the energy by work, not heat: leave them out
    heat = np.sum(pi[on, None] * p_jump[on, on] * (v[on, None] - v[None, on])) / temperature
    np.testing.assert_allclose(ratchet.ep_per_jump, heat, rtol=1e-10, atol=1e-15)
    # the mirror-image ratchet has the same EP
    mirror = FlashingRatchet(-potential, rate, temperature)
    np.testing.assert_allclose(mirror.ep_per_jump, ratchet.ep_per_jump, rtol=1e-12, atol=1e-15)
    assert ratchet.ep_per_jump >= 0
    if potential == 0:
        assert ratchet.ep_per_jump == pytest.approx(0.0, abs=1e-15)
        np.testing.assert_allclose(ratchet.stationary, 1 / 6, rtol=1e-14)


def test_rates_follow_the_rules():
    v, r, t = 2.0, 0.5, 1.5
    k = FlashingRatchet(v, r, t).rate_matrix
    # uphill 0 -> 1 costs V: rate exp(-V / 2T); downhill 2 -> 1 gains V
    assert k[0, 1] == pytest.approx(np.exp(-v / (2 * t)), rel=1e-15)
    assert k[0, 2] == pytest.approx(np.exp(-2 * v / (2 * t)), rel=1e-15)
    assert k[2, 1] == pytest.approx(np.exp(v / (2 * t)), rel=1e-15)
    assert k[3, 4] == k[5, 3] == 1.0
    assert k[1, 4] == k[4, 1] == r
    assert k[0, 4] == 0 and k[3, 1] == 0


def test_stochastic_ep_values_and_errors():
    ratchet = FlashingRatchet(2.0)
    p, k = ratchet.stationary, ratchet.rate_matrix
    ep = ratchet.stochastic_ep(np.array([0, 1, 4, 3, 0]))
    expected = [np.log(p[a] * k[a, b] / (p[b] * k[b, a])) for a, b in [(0, 1), (1, 4), (4, 3), (3, 0)]]
    np.testing.assert_allclose(ep, expected, rtol=1e-12)
    assert ratchet.stochastic_ep(np.array([[0, 1], [1, 0]])).shape == (2, 1)
    with pytest.raises(ValueError, match=r"states\[0, 1\] -> states\[0, 2\] \(3 -> 3\)"):
        ratchet.stochastic_ep(np.array([[0, 3, 3]]))
    with pytest.raises(ValueError, match=r"states\[1, 0\] must be in 0..5, got 6"):
        ratchet.stochastic_ep(np.array([[0, 1], [6, 0]]))


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"potential": float("nan")}, "potential"),
        ({"potential": float("inf")}, "potential"),
        ({"potential": "2"}, "potential"),
        ({"switching_rate": 0.0}, "switching_rate"),
        ({"switching_rate": -1.0}, "switching_rate"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -2.0}, "temperature"),
        ({"potential": 500.0}, "potential / temperature"),
    ],
)
def test_invalid_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        FlashingRatchet(**kwargs)


def test_invalid_sizes():
    view = RatchetView(FlashingRatchet())
    with pytest.raises(ValueError, match="trajectories must be an integer >= 1, got 0"):
        view.outputs(0, 10, False)
    with pytest.raises(ValueError, match="steps must be an integer >= 1, got -3"):
        view.outputs(1, -3, False)


# --------------------------------------------------------------------------- partial information
def test_partial_ep_pairs_match_direct_computation():
    ratchet = FlashingRatchet(2.0)
    joint = ratchet.jump_stationary[:, None] * ratchet.jump_matrix
    sites = np.arange(6) % 3
    observed = np.zeros((3, 3))
    np.add.at(observed, (sites[:, None], sites[None, :]), joint)
    direct = np.sum(observed * np.log(observed / observed.T))
    np.testing.assert_allclose(ratchet.partial_ep_per_step(2), direct, rtol=1e-10)
    assert direct > 0  # the observed sites carry the ratchet's current


def test_partial_ep_triples_match_path_enumeration():
    ratchet = FlashingRatchet(1.5, 0.7, 1.0)
    pi, p_jump = ratchet.jump_stationary, ratchet.jump_matrix
    word = np.zeros((3, 3, 3))
    for a, b, c in itertools.product(range(6), repeat=3):
        word[a % 3, b % 3, c % 3] += pi[a] * p_jump[a, b] * p_jump[b, c]
    seen = word > 0
    kl = np.sum(word[seen] * np.log(word[seen] / word.transpose(2, 1, 0)[seen]))
    np.testing.assert_allclose(ratchet.partial_ep_per_step(3), kl / 2, rtol=1e-10)


@pytest.mark.parametrize("potential", [1.25, 2.0])
def test_partial_ep_grows_with_window_and_stays_below_full(potential):
    ratchet = FlashingRatchet(potential)
    values = [ratchet.partial_ep_per_step(n) for n in range(2, 11)]
    assert all(b > a for a, b in zip(values, values[1:]))
    assert values[-1] < ratchet.ep_per_jump
    assert FlashingRatchet(0.0).partial_ep_per_step(6) == pytest.approx(0.0, abs=1e-14)
    with pytest.raises(ValueError, match="n must be an integer >= 2, got 1"):
        ratchet.partial_ep_per_step(1)


# --------------------------------------------------------------------------- kernels, statistics
def test_transition_frequencies_match_jump_matrix():
    ratchet = FlashingRatchet(2.0)
    states = ratchet.simulate(1, 200_000, seed=3)[0].astype(np.int64)
    counts = np.zeros((6, 6))
    np.add.at(counts, (states[:-1], states[1:]), 1)
    visits = counts.sum(axis=1, keepdims=True)
    # Successive exits from a state are i.i.d. (strong Markov property): given
    # N_a exits, n_ab ~ Binomial(N_a, P_ab), standard error sqrt(P(1-P)/N_a).
    p_jump = ratchet.jump_matrix
    se = np.sqrt(p_jump * (1 - p_jump) / visits)
    assert (np.abs(counts / visits - p_jump) <= 5 * se).all()
    assert (counts[p_jump == 0] == 0).all()


def test_first_and_last_states_are_stationary():
    ratchet = FlashingRatchet(3.0)
    m = 20_000
    states = ratchet.simulate(m, 30, seed=4)
    pi = ratchet.jump_stationary
    se = np.sqrt(pi * (1 - pi) / m)  # independent trajectories: binomial error
    for column in (0, -1):
        freq = np.bincount(states[:, column], minlength=6) / m
        assert (np.abs(freq - pi) <= 5 * se).all()


def test_mean_stochastic_ep_matches_ep_per_jump():
    ratchet = FlashingRatchet(2.0)
    out = _simulate_full(ratchet, 400, 500, seed=5)
    # the written EP is the exact stochastic EP of the written states (float32)
    np.testing.assert_allclose(out["ep"], ratchet.stochastic_ep(out["states"]), rtol=1e-6)
    # trajectories are independent: the error of the mean is std(per-trajectory means) / sqrt(M)
    means = out["ep"].astype(np.float64).mean(axis=1)
    se = means.std(ddof=1) / np.sqrt(means.size)
    assert abs(means.mean() - ratchet.ep_per_jump) <= 5 * se


def test_gillespie_dwell_times():
    ratchet = FlashingRatchet(2.0, 0.5, 1.0)
    out = _simulate_full(ratchet, 200, 1000, seed=6, continuous_time=True)
    states, times = out["states"].astype(np.int64), out["times"]
    assert (times[:, 0] == 0).all() and (np.diff(times, axis=1) > 0).all()
    dwell = np.diff(times, axis=1)
    for a in range(6):
        d = dwell[states[:, :-1] == a]
        mean = 1 / ratchet.escape_rates[a]
        # exponential waiting times: i.i.d., standard deviation = mean
        assert abs(d.mean() - mean) <= 5 * mean / np.sqrt(d.size)
    ratchet.stochastic_ep(states)  # every recorded jump is possible
    np.testing.assert_allclose(out["ep"], ratchet.stochastic_ep(states), rtol=1e-6)
    per_trajectory = times[:, -1] / (times.shape[1] - 1)
    se = per_trajectory.std(ddof=1) / np.sqrt(per_trajectory.size)
    assert abs(per_trajectory.mean() - ratchet.mean_jump_time) <= 5 * se


# --------------------------------------------------------------------------- views and chunks
@pytest.mark.parametrize("continuous_time", [False, True])
def test_hidden_view_is_full_state_mod_3(continuous_time):
    ratchet = FlashingRatchet(2.0)
    full = _simulate_full(ratchet, 3, 2000, seed=7, continuous_time=continuous_time)
    view = RatchetView(ratchet, hidden=True, continuous_time=continuous_time)
    out = {k: np.empty(shape, dtype) for k, (shape, dtype) in view.outputs(3, 2000, True).items()}
    view.fill(np.random.default_rng(7), out)
    np.testing.assert_array_equal(out["states"], full["states"] % 3)
    np.testing.assert_array_equal(out["ep"], full["ep"])  # full-information EP
    if continuous_time:
        np.testing.assert_array_equal(out["times"], full["times"])
    assert out["states"].max() == 2


def _fill_in_time_chunks(view, m, length, split, exact_ep, seed):
    shapes = view.outputs(m, length, exact_ep)
    out = {k: np.zeros(shape, dtype) for k, (shape, dtype) in shapes.items()}
    first, second = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    part = {k: a[:, :split] for k, a in out.items()}
    if "ep" in out:
        part["ep"] = out["ep"][:, : split - 1]
    carry = view.fill(first, part)
    rest = {k: a[:, split:] for k, a in out.items()}
    if "ep" in out:
        rest["ep"] = out["ep"][:, split - 1 :]
    view.fill(second, rest, initial=carry)
    return out


@pytest.mark.parametrize("hidden", [False, True])
@pytest.mark.parametrize("continuous_time", [False, True])
def test_time_chunks_continue_the_chain(hidden, continuous_time):
    ratchet = FlashingRatchet(2.0)
    view = RatchetView(ratchet, hidden=hidden, continuous_time=continuous_time)
    out = _fill_in_time_chunks(view, 2, 1000, 400, True, seed=8)
    again = _fill_in_time_chunks(view, 2, 1000, 400, True, seed=8)
    for key in out:
        np.testing.assert_array_equal(out[key], again[key])  # same generators, same file
    full_view = RatchetView(ratchet, continuous_time=continuous_time)
    full = _fill_in_time_chunks(full_view, 2, 1000, 400, True, seed=8)
    # valid across the boundary: every jump possible, EP exact at every step
    np.testing.assert_allclose(full["ep"], ratchet.stochastic_ep(full["states"]), rtol=1e-6)
    np.testing.assert_array_equal(out["states"], full["states"] % view.n_states)
    np.testing.assert_array_equal(out["ep"], full["ep"])
    if continuous_time:
        assert (np.diff(out["times"], axis=1) > 0).all()


def test_hidden_continuation_needs_the_full_state():
    view = RatchetView(FlashingRatchet(), hidden=True)
    out = {"states": np.empty((1, 10), np.int8)}
    with pytest.raises(ValueError, match="full_states"):
        view.fill(np.random.default_rng(0), out, initial={"states": np.array([1], np.int8)})


def test_fill_writes_into_memmap_slices(tmp_path):
    view = RatchetView(FlashingRatchet(2.0), continuous_time=True)
    shapes = view.outputs(5, 300, True)
    maps = {
        k: np.lib.format.open_memmap(tmp_path / f"{k}.npy", mode="w+", dtype=dtype, shape=shape)
        for k, (shape, dtype) in shapes.items()
    }
    view.fill(np.random.default_rng(9), {k: a[2:5] for k, a in maps.items()})
    reference = _simulate_full(view.ratchet, 3, 300, seed=9, continuous_time=True)
    for key, array in maps.items():
        np.testing.assert_array_equal(array[2:5], reference[key])


def test_simulate_and_metadata():
    ratchet = FlashingRatchet(2.0)
    states = ratchet.simulate(4, 100, seed=1)
    assert states.dtype == np.int8 and states.shape == (4, 100)
    np.testing.assert_array_equal(states, ratchet.simulate(4, 100, seed=1))
    assert not np.array_equal(states, ratchet.simulate(4, 100, seed=2))
    hidden, times = ratchet.simulate(2, 50, seed=1, hidden=True, continuous_time=True)
    assert hidden.max() <= 2 and times.shape == (2, 50) and times.dtype == np.float64

    meta = RatchetView(ratchet, hidden=True).metadata()
    json.dumps(meta)
    assert meta["model"] == "flashing-ratchet" and meta["state"] == "discrete"
    assert meta["n_states"] == 3 and meta["hidden"] and not meta["continuous_time"]
    assert meta["dt"] is None
    assert meta["parameters"] == {"potential": 2.0, "switching_rate": 1.0, "temperature": 1.0}
    assert meta["ep_per_step_exact"] == ratchet.ep_per_jump and meta["ep_rate_exact"] == ratchet.ep_rate
    assert "full-information" in meta["notes"].lower()
    timed = RatchetView(ratchet, continuous_time=True).metadata()
    assert timed["n_states"] == 6 and timed["dt"] == ratchet.mean_jump_time


@pytest.mark.parametrize("continuous_time", [False, True])
def test_writer_time_chunks_keep_the_hidden_chain(continuous_time):
    """Through the generic writer, chunked along time: the hidden view continues
    from the full state that ``fill`` returns, whatever the number of workers."""
    from neep.simulators.io import simulate_to_arrays

    ratchet = FlashingRatchet(2.0)
    kwargs = dict(trajectories=1, steps=5000, seed=3, exact_ep=True, chunk_steps=700)
    full = simulate_to_arrays(RatchetView(ratchet, continuous_time=continuous_time), workers=2, **kwargs)
    hidden = simulate_to_arrays(RatchetView(ratchet, True, continuous_time), workers=1, **kwargs)
    np.testing.assert_allclose(full["ep"], ratchet.stochastic_ep(full["states"]), rtol=1e-6)
    np.testing.assert_array_equal(hidden["states"], full["states"] % 3)
    np.testing.assert_array_equal(hidden["ep"], full["ep"])
    if continuous_time:
        assert (np.diff(full["times"], axis=1) > 0).all()
        np.testing.assert_array_equal(hidden["times"], full["times"])


def test_in_memory_simulation_equals_the_written_file(tmp_path):
    # One seed, one chain: FlashingRatchet.simulate and the file writer share the
    # per-chunk random streams, so a script and `neep simulate` agree byte for byte.
    from neep.simulators import simulate_to_file

    ratchet = FlashingRatchet(2.0)
    states, times = ratchet.simulate(3, 500, seed=7, hidden=True, continuous_time=True)
    simulate_to_file(RatchetView(ratchet, hidden=True, continuous_time=True), tmp_path / "r.npy", 3, 500, seed=7)
    np.testing.assert_array_equal(states, np.load(tmp_path / "r.npy"))
    np.testing.assert_array_equal(times, np.load(tmp_path / "r.times.npy"))
