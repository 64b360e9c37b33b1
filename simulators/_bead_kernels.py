"""Numba kernel of the bead-spring chain: Euler-Maruyama steps with optional exact EP.

One call fills one chunk of trajectories from one NumPy ``Generator`` (passed
in, drawn from inline by Numba), writing float32 states while the state itself
is carried in float64. The kernel releases the GIL (``nogil=True``), so a pool
of Python threads, each with its own chunk and its own Generator, uses every
core, and the output does not depend on how many threads there are.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["euler_maruyama"]


@numba.njit(cache=True, nogil=True)
def euler_maruyama(
    rng: np.random.Generator,
    x0: np.ndarray,
    lower: np.ndarray,
    diag: np.ndarray,
    upper: np.ndarray,
    noise: np.ndarray,
    dt: float,
    ep_matrix: np.ndarray,
    write_first: bool,
    want_ep: bool,
    states: np.ndarray,
    ep: np.ndarray,
    last: np.ndarray,
) -> None:  # pragma: no cover - compiled (exercised through BeadSpring.fill)
    """Advance ``m`` trajectories of ``dx = A x dt + sqrt(2 D dt) xi`` in place.

    Parameters
    ----------
    rng : numpy.random.Generator
        The chunk's own stream; normals are drawn trajectory by trajectory,
        step by step, coordinate by coordinate.
    x0 : float64 (m, n)
        Starting state of each trajectory.
    lower, diag, upper : float64 (n,)
        The tridiagonal drift matrix: ``(A x)_j = lower[j] x[j-1] + diag[j] x[j]
        + upper[j] x[j+1]`` (``lower[0]`` and ``upper[n-1]`` unused).
    noise : float64 (n,)
        ``sqrt(2 D_jj dt)``.
    dt : float
        Time step.
    ep_matrix : float64 (n, n)
        ``M`` such that the exact stochastic EP of a step is
        ``((x + x') / 2)^T M (x' - x)``.
    write_first : bool
        True: ``states[:, 0] = x0`` and ``ep`` has one column fewer than
        ``states``. False: ``states[:, 0]`` is the successor of ``x0`` and
        ``ep[:, 0]`` is the EP of that step.
    want_ep : bool
        Whether to fill ``ep``.
    states : float32 (m, l, n)
        Output states (may be a slice of a memory map).
    ep : float32 (m, l') or any array when ``want_ep`` is false
        Output per-step EP, computed from the float64 states.
    last : float64 (m, n)
        Receives the last float64 state of each trajectory (to continue).
    """
    m = states.shape[0]
    length = states.shape[1]
    n = states.shape[2]
    x = np.empty(n)
    xn = np.empty(n)
    for i in range(m):
        for j in range(n):
            x[j] = x0[i, j]
        t0 = 0
        if write_first:
            for j in range(n):
                states[i, 0, j] = x[j]
            t0 = 1
        for t in range(t0, length):
            for j in range(n):
                drift = diag[j] * x[j]
                if j > 0:
                    drift += lower[j] * x[j - 1]
                if j < n - 1:
                    drift += upper[j] * x[j + 1]
                xn[j] = x[j] + dt * drift + noise[j] * rng.standard_normal()
            if want_ep:
                s = 0.0
                for a in range(n):
                    row = 0.0
                    for b in range(n):
                        row += ep_matrix[a, b] * (xn[b] - x[b])
                    s += 0.5 * (x[a] + xn[a]) * row
                ep[i, t - t0] = s
            for j in range(n):
                states[i, t, j] = xn[j]
                x[j] = xn[j]
        for j in range(n):
            last[i, j] = x[j]
