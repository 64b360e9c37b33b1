"""Numba kernels of the planar driven systems: Euler-Maruyama steps with optional exact EP.

Same contract as ``_bead_kernels``: one call fills one chunk of trajectories
from one NumPy ``Generator`` (drawn from inline by Numba), writes float32
states while carrying the state in float64, and releases the GIL
(``nogil=True``), so threads with their own chunks and Generators use every
core and the output does not depend on how many there are.

The models (``driven_ring``, ``swirl``) share one loop, :func:`_euler_maruyama`,
for any potential ``U`` and non-conservative force ``f``::

    x' = x + (dt / gamma) (-grad U + f)(x) + sqrt(2 T dt / gamma) xi

Each model contributes a compiled ``fields(params, x0, x1) -> (U, dU/dx0,
dU/dx1, f0, f1)`` and a compiled entry point that passes it to the loop
(Numba specialises the loop for each fields function).
"""

from __future__ import annotations

import math

import numba

__all__ = ["ring_euler_maruyama", "swirl_euler_maruyama", "ring_chain_log_ratio", "swirl_chain_log_ratio"]


@numba.njit(cache=True, nogil=True)
def _euler_maruyama(
    fields, rng, x0, params, temperature, gamma, dt, escape, write_first, want_ep, states, ep, last
) -> int:  # pragma: no cover - compiled (exercised through the models' fill)
    """Advance ``m`` trajectories in place; return how many diverged (0 when all is well).

    Parameters
    ----------
    fields : compiled function
        ``fields(params, x0, x1) -> (U, g0, g1, f0, f1)``: the potential, its
        gradient and the non-conservative force at a point.
    rng : numpy.random.Generator
        The chunk's own stream; normals are drawn trajectory by trajectory,
        step by step, coordinate by coordinate.
    x0 : float64 (m, 2)
        Starting state of each trajectory.
    params : float64 array
        The model's parameters, handed to ``fields``.
    temperature, gamma, dt : float
    escape : float
        Squared radius beyond which a trajectory counts as diverged (the
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
    step = dt / gamma
    noise = math.sqrt(2.0 * temperature * dt / gamma)
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
        u, g0, g1, f0, f1 = fields(params, y0, y1)
        for t in range(t0, length):
            n0 = y0 + step * (f0 - g0) + noise * rng.standard_normal()
            n1 = y1 + step * (f1 - g1) + noise * rng.standard_normal()
            r2 = n0 * n0 + n1 * n1
            if not r2 <= escape:  # also catches nan
                diverged += 1
                break
            un, g0, g1, f0, f1 = fields(params, n0, n1)
            if want_ep:
                d0 = n0 - y0
                d1 = n1 - y1
                _, h0, h1, e0, e1 = fields(params, 0.5 * (y0 + n0), 0.5 * (y1 + n1))
                heat = (e0 - h0) * d0 + (e1 - h1) * d1
                ep[i, t - t0] = ((un - u) + heat) / temperature
            u = un
            states[i, t, 0] = n0
            states[i, t, 1] = n1
            y0 = n0
            y1 = n1
        last[i, 0] = y0
        last[i, 1] = y1
    return diverged


# ----------------------------------------------------------------- driven ring
@numba.njit(cache=True, nogil=True)
def _ring_fields(params, x0, x1):  # pragma: no cover - compiled
    """``U = a (|x|^2 - r0^2)^2 / 4 + b x0``, ``f = (w0 + w1 exp(-U)) R grad U``; params ``a, r0, b, w0, w1``."""
    a, r0, b, w0, w1 = params[0], params[1], params[2], params[3], params[4]
    s = x0 * x0 + x1 * x1 - r0 * r0
    u = 0.25 * a * s * s + b * x0
    g0 = a * s * x0 + b
    g1 = a * s * x1
    omega = w0 + w1 * math.exp(-u)
    return u, g0, g1, -omega * g1, omega * g0


def ring_euler_maruyama(rng, x0, params, temperature, gamma, dt, escape, write_first, want_ep, states, ep, last):
    """:func:`_euler_maruyama` for the driven ring (``params``: ``a, r0, b, w0, w1``)."""
    return _euler_maruyama(
        _ring_fields, rng, x0, params, temperature, gamma, dt, escape, write_first, want_ep, states, ep, last
    )


# ----------------------------------------------------------------------- swirl
@numba.njit(cache=True, nogil=True)
def _swirl_fields(params, x0, x1):  # pragma: no cover - compiled
    """``U = k |x|^2 / 2 + a (cos q x0 + cos q x1)``, ``f = w R grad U``; params ``k, a, q, w``."""
    k, a, q, w = params[0], params[1], params[2], params[3]
    c0 = math.cos(q * x0)
    c1 = math.cos(q * x1)
    u = 0.5 * k * (x0 * x0 + x1 * x1) + a * (c0 + c1)
    g0 = k * x0 - a * q * math.sin(q * x0)
    g1 = k * x1 - a * q * math.sin(q * x1)
    return u, g0, g1, -w * g1, w * g0


def swirl_euler_maruyama(rng, x0, params, temperature, gamma, dt, escape, write_first, want_ep, states, ep, last):
    """:func:`_euler_maruyama` for the swirl (``params``: ``k, a, q, w``)."""
    return _euler_maruyama(
        _swirl_fields, rng, x0, params, temperature, gamma, dt, escape, write_first, want_ep, states, ep, last
    )


# ------------------------------------------------------- the chain's own pair value
@numba.njit(cache=True, nogil=True)
def _chain_log_ratio(fields, rng, x, params, temperature, gamma, dt, escape, burn_in, steps, totals
                     ) -> int:  # pragma: no cover
    """Advance ``x (m, 2)`` in place; add each trajectory's summed Euler log-ratio to ``totals``.

    After ``burn_in`` unmeasured steps, every step ``x -> x'`` of the chain adds
    ``ln p(x'|x) - ln p(x|x')`` with the Gaussian Euler-Maruyama transition
    ``p(x'|x) = N(x + h F(x), 2 T h)``, ``h = dt / gamma``, ``F = -grad U + f``::

        [|x - x' - h F(x')|^2 - |x' - x - h F(x)|^2] / (4 T h)

    Its stationary mean is the KL divergence between the chain's forward and
    reversed pairs (the system-entropy term averages to zero), the value a
    pair estimator converges to on the chain's data. Returns the number of
    trajectories that diverged (``|x|^2`` beyond ``escape``, as in
    :func:`_euler_maruyama`; 0 when all is well).
    """
    h = dt / gamma
    noise = math.sqrt(2.0 * temperature * h)
    scale = 1.0 / (4.0 * temperature * h)
    diverged = 0
    for i in range(x.shape[0]):
        y0 = x[i, 0]
        y1 = x[i, 1]
        _, g0, g1, f0, f1 = fields(params, y0, y1)
        total = 0.0
        for t in range(burn_in + steps):
            n0 = y0 + h * (f0 - g0) + noise * rng.standard_normal()
            n1 = y1 + h * (f1 - g1) + noise * rng.standard_normal()
            if not n0 * n0 + n1 * n1 <= escape:  # also catches nan
                diverged += 1
                break
            _, k0, k1, e0, e1 = fields(params, n0, n1)
            if t >= burn_in:
                a0 = n0 - y0 - h * (f0 - g0)
                a1 = n1 - y1 - h * (f1 - g1)
                b0 = y0 - n0 - h * (e0 - k0)
                b1 = y1 - n1 - h * (e1 - k1)
                total += (b0 * b0 + b1 * b1 - a0 * a0 - a1 * a1) * scale
            y0, y1, g0, g1, f0, f1 = n0, n1, k0, k1, e0, e1
        x[i, 0] = y0
        x[i, 1] = y1
        totals[i] += total
    return diverged


def ring_chain_log_ratio(rng, x, params, temperature, gamma, dt, escape, burn_in, steps, totals):
    """:func:`_chain_log_ratio` for the driven ring."""
    return _chain_log_ratio(_ring_fields, rng, x, params, temperature, gamma, dt, escape, burn_in, steps,
                            totals)


def swirl_chain_log_ratio(rng, x, params, temperature, gamma, dt, escape, burn_in, steps, totals):
    """:func:`_chain_log_ratio` for the swirl."""
    return _chain_log_ratio(_swirl_fields, rng, x, params, temperature, gamma, dt, escape, burn_in, steps,
                            totals)
