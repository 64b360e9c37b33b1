"""Numba kernel of the driven ring: Euler-Maruyama steps with optional exact EP.

Same contract as ``_bead_kernels``: one call fills one chunk of trajectories
from one NumPy ``Generator`` (drawn from inline by Numba), writes float32
states while carrying the state in float64, and releases the GIL
(``nogil=True``), so threads with their own chunks and Generators use every
core and the output does not depend on how many there are.

The model (see ``driven_ring``)::

    U(x) = a (|x|^2 - r0^2)^2 / 4 + b x_1
    f(x) = (w0 + w1 exp(-U(x))) R grad U(x),   R (u, v) = (-v, u)
    x' = x + (dt / gamma) (-grad U + f)(x) + sqrt(2 T dt / gamma) xi
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["euler_maruyama"]


@numba.njit(cache=True, nogil=True, inline="always")
def _potential(a: float, r0: float, b: float, x0: float, x1: float) -> float:  # pragma: no cover - compiled
    s = x0 * x0 + x1 * x1 - r0 * r0
    return 0.25 * a * s * s + b * x0


@numba.njit(cache=True, nogil=True)
def euler_maruyama(
    rng: np.random.Generator,
    x0: np.ndarray,
    params: np.ndarray,
    write_first: bool,
    want_ep: bool,
    states: np.ndarray,
    ep: np.ndarray,
    last: np.ndarray,
) -> int:  # pragma: no cover - compiled (exercised through DrivenRing.fill)
    """Advance ``m`` trajectories in place; return how many diverged (0 when all is well).

    Parameters
    ----------
    rng : numpy.random.Generator
        The chunk's own stream; normals are drawn trajectory by trajectory,
        step by step, coordinate by coordinate.
    x0 : float64 (m, 2)
        Starting state of each trajectory.
    params : float64 (9,)
        ``a, r0, b, w0, w1, temperature, gamma, dt, escape``: the model, and a
        squared radius beyond which a trajectory counts as diverged (the
        Euler-Maruyama chain of a superlinear drift can blow up; the kernel
        stops that trajectory and reports it instead of writing inf/nan).
    write_first : bool
        True: ``states[:, 0] = x0`` and ``ep`` has one column fewer than
        ``states``. False: ``states[:, 0]`` is the successor of ``x0`` and
        ``ep[:, 0]`` is the EP of that step.
    want_ep : bool
        Whether to fill ``ep`` with the exact stochastic EP of each step,
        ``[U(x') - U(x) + F(x_mid) . (x' - x)] / T``, ``F = -grad U + f``,
        ``x_mid = (x + x') / 2``, computed from the float64 states.
    states : float32 (m, l, 2)
        Output states (may be a slice of a memory map).
    ep : float32 (m, l') or any array when ``want_ep`` is false
    last : float64 (m, 2)
        Receives the last float64 state of each trajectory (to continue).
    """
    a, r0, b, w0, w1 = params[0], params[1], params[2], params[3], params[4]
    temperature, gamma, dt, escape = params[5], params[6], params[7], params[8]
    step = dt / gamma
    noise = math.sqrt(2.0 * temperature * dt / gamma)
    r02 = r0 * r0
    diverged = 0
    m = states.shape[0]
    length = states.shape[1]
    for i in range(m):
        y0 = x0[i, 0]
        y1 = x0[i, 1]
        t0 = 0
        if write_first:
            states[i, 0, 0] = y0
            states[i, 0, 1] = y1
            t0 = 1
        for t in range(t0, length):
            s = y0 * y0 + y1 * y1 - r02
            g0 = a * s * y0 + b  # grad U
            g1 = a * s * y1
            omega = w0 + w1 * math.exp(-(0.25 * a * s * s + b * y0))
            n0 = y0 + step * (-g0 - omega * g1) + noise * rng.standard_normal()
            n1 = y1 + step * (-g1 + omega * g0) + noise * rng.standard_normal()
            r2 = n0 * n0 + n1 * n1
            if not r2 <= escape:  # also catches nan
                diverged += 1
                break
            if want_ep:
                c0 = 0.5 * (y0 + n0)
                c1 = 0.5 * (y1 + n1)
                sc = c0 * c0 + c1 * c1 - r02
                h0 = a * sc * c0 + b
                h1 = a * sc * c1
                om = w0 + w1 * math.exp(-(0.25 * a * sc * sc + b * c0))
                d0 = n0 - y0
                d1 = n1 - y1
                heat = (-h0 - om * h1) * d0 + (-h1 + om * h0) * d1
                system = _potential(a, r0, b, n0, n1) - _potential(a, r0, b, y0, y1)
                ep[i, t - t0] = (system + heat) / temperature
            states[i, t, 0] = n0
            states[i, t, 1] = n1
            y0 = n0
            y1 = n1
        last[i, 0] = y0
        last[i, 1] = y1
    return diverged
