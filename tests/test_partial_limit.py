"""Monte Carlo partial-information EP of the hidden ratchet against exact enumeration."""

import numpy as np
import pytest

from neep.simulators import FlashingRatchet
from neep.simulators._partial import sample_word_values
from neep.simulators.ratchet import LARGEST_EXACT_WORD, PartialEP

# Tolerance: 4 standard errors of the Monte Carlo estimate (the exact value has
# none). For a normal estimate a 4-sigma miss has probability 6e-5 per case;
# every case is seeded, so the outcome is fixed anyway.
SIGMAS = 4.0


@pytest.mark.parametrize(("potential", "n"), [(2.0, 3), (2.0, 8), (2.0, 13), (1.0, 3), (1.0, 11), (-1.5, 8)])
def test_mc_agrees_with_exact_enumeration(potential, n):
    ratchet = FlashingRatchet(potential)
    exact = ratchet.partial_ep_per_step(n, method="exact")
    mc = ratchet.partial_ep_per_step_mc(n, samples=100_000, seed=1)
    assert isinstance(mc, PartialEP) and mc.method == "mc" and mc.n == n and mc.samples == 100_000
    assert 0 < mc.stderr < 0.25 * exact  # else 4 standard errors would not test anything
    assert abs(mc.value - exact) <= SIGMAS * mc.stderr


def test_mc_agrees_with_exact_at_large_potential():
    # |V| / T = 200, the largest accepted: the scaled forward algorithm must not underflow.
    ratchet = FlashingRatchet(200.0)
    exact = ratchet.partial_ep_per_step(6)
    mc = ratchet.partial_ep_per_step_mc(6, samples=50_000, seed=2)
    assert np.isfinite(mc.value) and abs(mc.value - exact) <= SIGMAS * mc.stderr
    assert np.isfinite(ratchet.partial_ep_per_step_mc(300, samples=2_000).value)


def test_mc_matches_the_issues_reference_and_grows_with_n():
    # Independent reference Monte Carlo (issue 7) at V = 2: n = 32: 0.0615 +- 0.0004, n = 128: 0.0768 +- 0.0002.
    ratchet = FlashingRatchet(2.0)
    at13 = ratchet.partial_ep_per_step(13)
    results = {n: ratchet.partial_ep_per_step_mc(n, samples=100_000, seed=3) for n in (16, 32, 64, 128)}
    for n, (reference, error) in {32: (0.0615, 0.0004), 128: (0.0768, 0.0002)}.items():
        assert abs(results[n].value - reference) <= SIGMAS * np.hypot(results[n].stderr, error)
    values = [at13] + [results[n].value for n in sorted(results)]
    errors = [0.0] + [results[n].stderr for n in sorted(results)]
    # Each step up in n exceeds 4 combined standard errors; all stay below the full-information EP.
    for a, b, ea, eb in zip(values, values[1:], errors, errors[1:]):
        assert b - a > SIGMAS * np.hypot(ea, eb)
    assert values[-1] < ratchet.ep_per_jump


def test_equilibrium_gives_zero_for_every_word():
    # V = 0 is reversible, so P(w) = P(reversed w) for every observed word: every
    # per-word value is 0 (exactly 0.0 in float64 here, allow for rounding).
    ratchet = FlashingRatchet(0.0)
    values = sample_word_values(ratchet.kernel_tables, ratchet.jump_stationary, ratchet.jump_matrix, 40, 20_000, 0)
    assert np.max(np.abs(values)) <= 1e-12
    value, stderr = ratchet.partial_ep_per_step_mc(64, samples=5_000)
    assert abs(value) <= 1e-12 and stderr <= 1e-12


def test_mc_is_reproducible_from_the_seed_whatever_the_threads():
    ratchet = FlashingRatchet(2.0)
    args = (ratchet.kernel_tables, ratchet.jump_stationary, ratchet.jump_matrix, 20, 40_000, 5)
    one = sample_word_values(*args, workers=1)  # 40_000 words: three blocks, the last one partial
    np.testing.assert_array_equal(one, sample_word_values(*args, workers=2))
    assert ratchet.partial_ep_per_step_mc(20, 40_000, 5) == ratchet.partial_ep_per_step_mc(20, 40_000, 5)
    assert ratchet.partial_ep_per_step_mc(20, 40_000, 6).value != ratchet.partial_ep_per_step_mc(20, 40_000, 5).value


def test_auto_is_exact_up_to_13_and_mc_beyond(monkeypatch):
    import neep.simulators._ratchet_partial as module  # where partial_ep_per_step looks it up

    ratchet = FlashingRatchet(1.5)
    enumerated = []
    monkeypatch.setattr(module, "exact_partial_ep", lambda pi, p_jump, n: enumerated.append(n) or -1.0)
    assert ratchet.partial_ep_per_step(LARGEST_EXACT_WORD) == -1.0 and enumerated == [13]
    monkeypatch.undo()
    assert ratchet.partial_ep_per_step(14, samples=3_000, seed=4) == ratchet.partial_ep_per_step_mc(14, 3_000, 4).value
    assert ratchet.partial_ep_per_step(5, method="mc", samples=3_000) == ratchet.partial_ep_per_step_mc(5, 3_000).value


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 1}, r"n must be an integer >= 2, got 1"),
        ({"n": 8.0}, r"n must be an integer >= 2, got 8.0"),
        ({"n": True}, r"n must be an integer >= 2, got True"),
        ({"n": 8, "samples": 1}, r"samples must be an integer >= 2, got 1"),
        ({"n": 8, "seed": -1}, r"seed must be an integer >= 0, got -1"),
        ({"n": 8, "method": "fast"}, r"method must be 'auto', 'exact' or 'mc', got 'fast'"),
        ({"n": 14, "method": "exact"}, r"method='exact' enumerates 3\*\*n words and needs n <= 13, got 14"),
    ],
)
def test_bad_input_is_one_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FlashingRatchet(2.0).partial_ep_per_step(**kwargs)


def test_mc_bad_input():
    with pytest.raises(ValueError, match="samples must be an integer >= 2, got 1"):
        FlashingRatchet(2.0).partial_ep_per_step_mc(8, samples=1)
    with pytest.raises(ValueError, match="n must be an integer >= 2, got 0"):
        FlashingRatchet(2.0).partial_ep_per_step_mc(0)


def test_scaled_forward_matches_log_space_on_a_long_word():
    # 600 observed sites: P(w) ~ exp(-600) underflows float64, so the kernel's
    # occasional rescaling must reproduce a forward pass normalized at every step.
    from neep.simulators._partial import _log_word_probability

    ratchet = FlashingRatchet(2.0)
    path = ratchet.simulate(1, 600, seed=7)[0].astype(np.int64)
    pi, p_jump = ratchet.jump_stationary, ratchet.jump_matrix
    for forward in (True, False):
        y = (path if forward else path[::-1]) % 3
        alpha = pi[[y[0], y[0] + 3]]
        log_p = 0.0
        for a, b in zip(y[:-1], y[1:]):
            alpha = alpha @ p_jump[np.ix_([a, a + 3], [b, b + 3])]
            log_p += np.log(alpha.sum())
            alpha /= alpha.sum()
        assert log_p < -300
        assert _log_word_probability(path, forward, pi, p_jump) == pytest.approx(log_p, rel=1e-12)
