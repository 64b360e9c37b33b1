"""Numba kernel of the exact Gaussian chain ``z' = E z + L xi``, with optional exact EP per step.

Same conventions as the bead chain's Euler-Maruyama kernel: one NumPy
``Generator`` per chunk, drawn from inline; float64 state, float32 output;
``nogil=True`` so a thread pool fills chunks concurrently with an output that
does not depend on the number of threads.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["gaussian_steps"]


@numba.njit(cache=True, nogil=True)
def gaussian_steps(
    rng: np.random.Generator,
    z0: np.ndarray,
    transition: np.ndarray,
    factor: np.ndarray,
    factor_inverse: np.ndarray,
    parity: np.ndarray,
    precision: np.ndarray,
    write_first: bool,
    want_ep: bool,
    states: np.ndarray,
    ep: np.ndarray,
    last: np.ndarray,
) -> None:  # pragma: no cover - compiled (exercised through GaussianChain.fill)
    """Advance ``m`` trajectories of ``z' = E z + L xi``, ``xi ~ N(0, I)``, in place.

    Parameters
    ----------
    rng : numpy.random.Generator
        The chunk's stream; normals drawn trajectory by trajectory, step by
        step, coordinate by coordinate.
    z0 : float64 (m, n)
        Starting states.
    transition, factor, factor_inverse : float64 (n, n)
        ``E``, the lower Cholesky factor ``L`` of the noise covariance, ``L^-1``.
    parity : float64 (n,)
        Time-reversal signs ``eps``.
    precision : float64 (n, n)
        ``P = C^-1 + eps C^-1 eps``. The EP of a step is
        ``|L^-1 (eps z - E eps z')|^2 / 2 - |xi|^2 / 2 - (z^T P z - z'^T P z') / 4``.
    write_first, want_ep, states, ep, last
        As in the bead chain's ``euler_maruyama``.
    """
    m = states.shape[0]
    length = states.shape[1]
    n = states.shape[2]
    z = np.empty(n)
    zn = np.empty(n)
    xi = np.empty(n)
    back = np.empty(n)
    for i in range(m):
        for j in range(n):
            z[j] = z0[i, j]
        t0 = 0
        if write_first:
            for j in range(n):
                states[i, 0, j] = z[j]
            t0 = 1
        for t in range(t0, length):
            for j in range(n):
                xi[j] = rng.standard_normal()
            for a in range(n):
                s = 0.0
                for b in range(n):
                    s += transition[a, b] * z[b]
                for b in range(a + 1):
                    s += factor[a, b] * xi[b]
                zn[a] = s
            if want_ep:
                total = 0.0
                for a in range(n):
                    s = parity[a] * z[a]
                    for b in range(n):
                        s -= transition[a, b] * parity[b] * zn[b]
                    back[a] = s
                for a in range(n):
                    s = 0.0
                    for b in range(a + 1):
                        s += factor_inverse[a, b] * back[b]
                    total += 0.5 * (s * s - xi[a] * xi[a])
                    row, row_next = 0.0, 0.0
                    for b in range(n):
                        row += precision[a, b] * z[b]
                        row_next += precision[a, b] * zn[b]
                    total -= 0.25 * (z[a] * row - zn[a] * row_next)
                ep[i, t - t0] = total
            for j in range(n):
                states[i, t, j] = zn[j]
                z[j] = zn[j]
        for j in range(n):
            last[i, j] = z[j]
