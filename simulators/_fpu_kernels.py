"""Numba kernels of the FPU-beta bead chain: fine Euler-Maruyama steps, recorded every K-th.

Same contract as ``_bead_kernels``: one call advances one chunk of
trajectories from one NumPy ``Generator`` (drawn from inline by Numba),
carries the state in float64, writes float32, and releases the GIL
(``nogil=True``), so threads with their own chunks and Generators use every
core and the output does not depend on how many there are.

The model (see ``fpu_chain``): beads ``x_1..x_n`` between walls at 0, springs
``phi(r) = k r^2 / 2 + beta r^4 / 4`` on the ``n + 1`` extensions
``r_0 = x_1``, ``r_j = x_{j+1} - x_j``, ``r_n = -x_n``; the force on bead i is
``F_i = phi'(r_i) - phi'(r_{i-1})`` and one fine step of length ``h`` is
``x' = x + (h / gamma) F(x) + sqrt(2 T_i h / gamma) xi_i``. The heat a fine
step gives to bath i is ``F_i(x_mid) (x'_i - x_i)`` (Stratonovich: the force
at the midpoint ``x_mid = (x + x') / 2``).
"""

from __future__ import annotations


import numba
import numpy as np

__all__ = ["fpu_steps", "fpu_heat"]


@numba.njit(cache=True, nogil=True)
def _forces(x: np.ndarray, k: float, beta: float, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out[i] = phi'(r_i) - phi'(r_{i-1})``, the force on bead i (walls at 0 on both ends)."""
    n = x.shape[0]
    r = x[0]
    left = r * (k + beta * r * r)
    for i in range(n):
        r = (x[i + 1] if i < n - 1 else 0.0) - x[i]
        right = r * (k + beta * r * r)
        out[i] = right - left
        left = right


@numba.njit(cache=True, nogil=True)
def _step(
    rng: np.random.Generator,
    x: np.ndarray,
    xn: np.ndarray,
    force: np.ndarray,
    mid: np.ndarray,
    k: float,
    beta: float,
    drift: float,
    noise: np.ndarray,
    heat: bool,
    inverse_t: np.ndarray,
) -> float:  # pragma: no cover - compiled
    """One fine step of ``x`` in place, ``force`` = F(x) on entry; return its heat over T (0 unless ``heat``).

    ``xn``, ``mid``: scratch. On return ``force`` holds F at the new state.
    """
    n = x.shape[0]
    for j in range(n):
        xn[j] = x[j] + drift * force[j] + noise[j] * rng.standard_normal()
    s = 0.0
    if heat:
        for j in range(n):
            mid[j] = 0.5 * (x[j] + xn[j])
        _forces(mid, k, beta, force)
        for j in range(n):
            s += force[j] * (xn[j] - x[j]) * inverse_t[j]
    for j in range(n):
        x[j] = xn[j]
    _forces(x, k, beta, force)
    return s


@numba.njit(cache=True, nogil=True)
def fpu_steps(
    rng: np.random.Generator,
    x: np.ndarray,
    params: np.ndarray,
    temperatures: np.ndarray,
    substeps: int,
    burn_in: int,
    write_first: bool,
    want_ep: bool,
    states: np.ndarray,
    ep: np.ndarray,
) -> int:  # pragma: no cover - compiled (exercised through FPUChain.fill)
    """Advance ``m`` trajectories in place, recording every ``substeps``-th fine step; return how many diverged.

    Parameters
    ----------
    rng : numpy.random.Generator
        The chunk's own stream; normals are drawn trajectory by trajectory,
        fine step by fine step, bead by bead.
    x : float64 (m, n)
        Starting states; overwritten with the last state of each trajectory.
    params : float64 (5,)
        ``k, beta, gamma, h, escape``: the model, the fine step, and a bound
        on ``|x_i|`` beyond which a trajectory counts as diverged (the kernel
        stops it and reports it instead of writing inf/nan).
    temperatures : float64 (n,)
    substeps : int
        Fine steps per recorded step (``dt = substeps * h``).
    burn_in : int
        Fine steps run, unrecorded, before anything is written.
    write_first : bool
        True: ``states[:, 0]`` is the state after the burn-in and ``ep`` has
        one column fewer than ``states``. False: ``states[:, 0]`` is the next
        recorded state and ``ep[:, 0]`` belongs to the step that reaches it.
    want_ep : bool
        Whether to fill ``ep`` with the medium EP of each recorded step: the
        sum over its fine steps of the Stratonovich heat given to each bath
        over that bath's temperature.
    states : float32 (m, l, n)
    ep : float32 (m, l') or any array when ``want_ep`` is false
    """
    k, beta, gamma, h, escape = params[0], params[1], params[2], params[3], params[4]
    n = x.shape[1]
    drift = h / gamma
    noise = np.sqrt(2.0 * temperatures * h / gamma)
    inverse_t = 1.0 / temperatures
    y = np.empty(n)
    yn = np.empty(n)
    force = np.empty(n)
    mid = np.empty(n)
    diverged = 0
    m = states.shape[0]
    length = states.shape[1]
    for i in range(m):
        for j in range(n):
            y[j] = x[i, j]
        _forces(y, k, beta, force)
        for _ in range(burn_in):
            _step(rng, y, yn, force, mid, k, beta, drift, noise, False, inverse_t)
        t0 = 0
        if write_first:
            for j in range(n):
                states[i, 0, j] = y[j]
            t0 = 1
        for t in range(t0, length):
            s = 0.0
            for _ in range(substeps):
                s += _step(rng, y, yn, force, mid, k, beta, drift, noise, want_ep, inverse_t)
            ok = True
            for j in range(n):
                if not abs(y[j]) <= escape:  # also catches nan
                    ok = False
            if not ok:
                diverged += 1
                break
            if want_ep:
                ep[i, t - t0] = s
            for j in range(n):
                states[i, t, j] = y[j]
        for j in range(n):
            x[i, j] = y[j]
    return diverged


@numba.njit(cache=True, nogil=True)
def fpu_heat(
    rng: np.random.Generator,
    x: np.ndarray,
    params: np.ndarray,
    temperatures: np.ndarray,
    burn_in: int,
    steps: int,
    out: np.ndarray,
) -> int:  # pragma: no cover - compiled (exercised through FPUChain.ep_estimate)
    """Add to ``out[i]`` the medium EP of trajectory i over ``steps`` fine steps after ``burn_in``; return how many diverged.

    The medium EP is the sum of the Stratonovich heat over T, what
    :func:`fpu_steps` records. ``x``, ``params``, ``temperatures`` as there;
    ``x`` receives the last states.
    """
    k, beta, gamma, h, escape = params[0], params[1], params[2], params[3], params[4]
    n = x.shape[1]
    drift = h / gamma
    noise = np.sqrt(2.0 * temperatures * h / gamma)
    inverse_t = 1.0 / temperatures
    y = np.empty(n)
    yn = np.empty(n)
    force = np.empty(n)
    mid = np.empty(n)
    diverged = 0
    for i in range(x.shape[0]):
        for j in range(n):
            y[j] = x[i, j]
        _forces(y, k, beta, force)
        for _ in range(burn_in):
            _step(rng, y, yn, force, mid, k, beta, drift, noise, False, inverse_t)
        total = 0.0
        for _ in range(steps):
            total += _step(rng, y, yn, force, mid, k, beta, drift, noise, True, inverse_t)
        for j in range(n):
            if not abs(y[j]) <= escape:  # also catches nan
                diverged += 1
                break
        out[i] += total
        for j in range(n):
            x[i, j] = y[j]
    return diverged
