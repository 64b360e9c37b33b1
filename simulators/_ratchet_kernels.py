"""Numba kernels for the discrete flashing ratchet (jump chain and Gillespie).

Plain functions over arrays: the caller (``neep.simulators.ratchet``) builds the
small lookup tables once, and every kernel writes into output slices it is
given. Each kernel takes a NumPy ``Generator`` (Numba compiles its methods
inline) and walks the trajectories of its chunk one after the other, so the
result depends only on the Generator's state, never on threads; ``nogil=True``
lets a thread pool run disjoint chunks on all cores.

Tables (``k`` = the largest number of possible jumps out of a state, 3 here):

- ``targets`` int64 ``(K, k)``: the states one can jump to from each state;
- ``cumulative`` float64 ``(K, k)``: cumulative jump probabilities along
  ``targets``; the last column is exactly 1.0 (padding repeats it), so one
  uniform ``u`` in [0, 1) picks the first column with ``u < cumulative``;
- ``step_ep`` float64 ``(K, k)``: the stochastic EP of each of those jumps;
- ``start_cumulative`` float64 ``(K,)``: cumulative stationary distribution of
  the first state (last entry exactly 1.0);
- ``mean_dwell`` float64 ``(K,)``: 1 / escape rate of each state (Gillespie).

Every kernel draws one uniform per jump (plus one exponential per jump for
Gillespie, plus one uniform per trajectory for a stationary first state).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["N_STATES", "N_SITES", "kernel_tables", "jump_chain", "gillespie_chain"]

#: States of the ratchet: positions 0, 1, 2 with the potential on, then the same with it off.
N_STATES = 6
#: Positions (what the hidden view records: state mod 3).
N_SITES = 3


def kernel_tables(log_rates: np.ndarray, jump_matrix: np.ndarray, step_ep: np.ndarray,
                  jump_stationary: np.ndarray, escape_rates: np.ndarray) -> dict[str, np.ndarray]:
    """The lookup tables of the module doc, from the ratchet's exact matrices (float64).

    Parameters
    ----------
    log_rates : (K, K)
        Log transition rates (-inf where no jump is possible).
    jump_matrix : (K, K)
        Jump probabilities of the embedded chain.
    step_ep : (K, K)
        Stochastic EP of each jump.
    jump_stationary, escape_rates : (K,)
        Stationary distribution of the jump chain, and total rate out of each state.
    """
    possible = np.isfinite(log_rates)
    width = int(possible.sum(axis=1).max())
    n = log_rates.shape[0]
    targets = np.zeros((n, width), dtype=np.int64)
    cumulative = np.ones((n, width))
    step = np.zeros((n, width))
    for a in range(n):
        (to,) = np.nonzero(possible[a])
        targets[a, : to.size] = to
        targets[a, to.size :] = to[-1]
        cum = np.cumsum(jump_matrix[a, to])
        cumulative[a, : to.size] = cum / cum[-1]  # last entry exactly 1.0
        step[a, : to.size] = step_ep[a, to]
        step[a, to.size :] = step_ep[a, to[-1]]
    start = np.cumsum(jump_stationary)
    start /= start[-1]
    return {"targets": targets, "cumulative": cumulative, "step_ep": step, "start_cumulative": start,
            "mean_dwell": 1.0 / escape_rates}


@numba.njit(cache=True, nogil=True, inline="always")
def _pick(u: float, row: np.ndarray) -> int:
    """Index of the first entry of the cumulative ``row`` exceeding ``u``."""
    # Branchless: the row is non-decreasing and ends in 1.0 > u, so the index
    # is the number of entries <= u (no unpredictable branch per jump).
    j = 0
    for c in range(row.shape[0] - 1):
        j += u >= row[c]
    return j


@numba.njit(cache=True, nogil=True)
def jump_chain(
    rng,
    targets,
    cumulative,
    step_ep,
    start_cumulative,
    initial,
    continuing,
    modulus,
    states,
    ep,
    write_ep,
):
    """Simulate the embedded jump chain in place.

    Parameters
    ----------
    rng : numpy.random.Generator
        The chunk's random stream (used serially).
    targets, cumulative, step_ep, start_cumulative : ndarray
        Lookup tables, see the module docstring.
    initial : int64 ndarray, shape (m,)
        Full states (0..K-1) each trajectory continues from; read only when
        ``continuing`` is true.
    continuing : bool
        False: draw the first state of each trajectory from
        ``start_cumulative`` and store it at ``states[:, 0]``; ``ep`` then has
        ``L - 1`` columns. True: ``states[:, 0]`` is the successor of
        ``initial`` and ``ep`` has ``L`` columns (its first entry is the jump
        from ``initial``).
    modulus : int
        Values stored are ``state % modulus`` (6: full information, 3: the
        on/off switch hidden). The chain itself always runs on full states.
    states : int8 ndarray, shape (m, L)
        Output.
    ep : float32 ndarray, shape (m, L - 1) or (m, L); ignored unless ``write_ep``
        Output: the full-information stochastic EP of each jump.
    write_ep : bool
        Whether to fill ``ep``.

    Returns
    -------
    last : int64 ndarray, shape (m,)
        The full last state of every trajectory (to continue from).
    """
    m, length = states.shape
    last = np.empty(m, dtype=np.int64)
    for i in range(m):
        t0 = 0
        e = 0
        if continuing:
            s = initial[i]
        else:
            s = _pick(rng.random(), start_cumulative)
            states[i, 0] = s % modulus
            t0 = 1
        for t in range(t0, length):
            j = _pick(rng.random(), cumulative[s])
            if write_ep:
                ep[i, e] = step_ep[s, j]
                e += 1
            s = targets[s, j]
            states[i, t] = s % modulus
        last[i] = s
    return last


@numba.njit(cache=True, nogil=True)
def gillespie_chain(
    rng,
    targets,
    cumulative,
    step_ep,
    start_cumulative,
    mean_dwell,
    initial,
    initial_times,
    continuing,
    modulus,
    states,
    times,
    ep,
    write_ep,
):
    """Simulate the continuous-time chain (Gillespie), recording every jump.

    The same jump sequence as :func:`jump_chain` plus the time of each state:
    the dwell time in state ``s`` is exponential with mean ``mean_dwell[s]``.
    ``times[i, 0]`` is 0 for a fresh trajectory; when ``continuing`` it is
    ``initial_times[i]`` plus the dwell time in ``initial[i]``. Other
    arguments and the return value as in :func:`jump_chain`.
    """
    m, length = states.shape
    last = np.empty(m, dtype=np.int64)
    for i in range(m):
        t0 = 0
        e = 0
        if continuing:
            s = initial[i]
            clock = initial_times[i]
        else:
            s = _pick(rng.random(), start_cumulative)
            states[i, 0] = s % modulus
            clock = 0.0
            times[i, 0] = clock
            t0 = 1
        for t in range(t0, length):
            clock += rng.standard_exponential() * mean_dwell[s]
            j = _pick(rng.random(), cumulative[s])
            if write_ep:
                ep[i, e] = step_ep[s, j]
                e += 1
            s = targets[s, j]
            states[i, t] = s % modulus
            times[i, t] = clock
        last[i] = s
    return last
