"""Nonlinear underdamped test data for ``neep fit`` with odd columns: a double well or a quartic trap, with its EP.

A 2-D particle (mass, friction, temperature 1) with a rotational force
``eps (-y, x)``, ``eps = 0.5``, in one of two potentials:

* ``well``: ``U = (x^2 - 1)^2 + y^2 / 2`` (a double well along x);
* ``quartic``: ``U = r^2 / 2 + r^4 / 4``.

Simulated by BAOAB at the fine step ``h = 0.001`` (recorded every ``dt``),
from a burn-in of 20 time units. No closed form exists; the EP rate is the
mean work of the rotational force over T, ``eps (x dy - y dx)`` at the
midpoint of every fine step (Stratonovich), the system's energy being
stationary; its standard error is the spread of the trajectories' means.
Linear check (``U = r^2 / 2``, 1000 x 10^4 states at dt = 0.01): 0.6633 +-
0.0068 against the exact 0.6667.

Writes ``OUT.npy`` (float32 ``(M, L, 4)``: x1, x2, v1, v2) and ``OUT.json``
(the sidecar: odd columns 2, 3; ``ep_rate_exact`` and its error). Run by hand::

    python benchmarks/underdamped_nonlinear.py well -o well.npy
    neep fit well.npy -o run/

Measured (session 10; ``--seed 1``, 1000 x 10^4 states at dt = 0.01): well
0.2490 +- 0.0027 (a longer run, 2000 trajectories of 400 time units, 0.2488
+- 0.0009); quartic 0.2233 +- 0.0025.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numba
import numpy as np

POTENTIALS = {"well": 0, "quartic": 1, "harmonic": 2}


@numba.njit(cache=True)
def _force(x, y, kind, eps):  # pragma: no cover - compiled
    if kind == 0:
        return -4.0 * x * (x * x - 1.0) - eps * y, -y + eps * x
    c = 1.0 + (x * x + y * y if kind == 1 else 0.0)
    return -c * x - eps * y, -c * y + eps * x


@numba.njit(cache=True)
def _run(seed, steps, substeps, burn, h, kind, eps, out, work):  # pragma: no cover - compiled
    np.random.seed(seed)
    a = np.exp(-h)
    b = np.sqrt(1.0 - a * a)
    for i in range(out.shape[0]):
        x, y = np.random.normal(), np.random.normal()
        vx, vy = np.random.normal(), np.random.normal()
        fx, fy = _force(x, y, kind, eps)
        w = 0.0
        for t in range(-burn, steps):
            for _ in range(substeps):
                vx += 0.5 * h * fx
                vy += 0.5 * h * fy
                x0, y0 = x, y
                x += 0.5 * h * vx
                y += 0.5 * h * vy
                vx = a * vx + b * np.random.normal()
                vy = a * vy + b * np.random.normal()
                x += 0.5 * h * vx
                y += 0.5 * h * vy
                if t >= 0:
                    w += eps * (0.5 * (x0 + x) * (y - y0) - 0.5 * (y0 + y) * (x - x0))
                fx, fy = _force(x, y, kind, eps)
                vx += 0.5 * h * fx
                vy += 0.5 * h * fy
            if t >= 0:
                out[i, t, 0], out[i, t, 1], out[i, t, 2], out[i, t, 3] = x, y, vx, vy
        work[i] = w


def simulate(potential: str, trajectories: int, steps: int, dt: float, seed: int, eps: float = 0.5):
    """States ``(M, L, 4)`` float32 and the EP rate of each trajectory (float64 ``(M,)``)."""
    substeps = max(1, int(round(dt / 0.001)))
    h = dt / substeps
    out = np.empty((trajectories, steps, 4), np.float32)
    work = np.empty(trajectories)
    _run(seed, steps, substeps, int(round(20.0 / dt)), h, POTENTIALS[potential], eps, out, work)
    return out, work / (steps * dt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("potential", choices=sorted(POTENTIALS))
    parser.add_argument("-o", "--output", required=True, type=Path)
    parser.add_argument("--trajectories", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--dt", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    start = time.perf_counter()
    states, rates = simulate(args.potential, args.trajectories, args.steps, args.dt, args.seed)
    rate, error = float(rates.mean()), float(rates.std(ddof=1) / np.sqrt(rates.size))
    out = args.output.with_suffix(".npy")
    np.save(out, states)
    meta = {"format": "neep-trajectories/1", "model": f"underdamped-{args.potential}", "state": "continuous",
            "n_states": None, "parameters": {"potential": args.potential, "torque": 0.5, "mass": 1.0, "gamma": 1.0,
                                             "temperature": 1.0, "dt": args.dt},
            "dt": args.dt, "columns": ["x1", "x2", "v1", "v2"], "odd_columns": [2, 3],
            "ep_rate_exact": rate, "ep_rate_exact_error": error, "ep_per_step_exact": rate * args.dt,
            "hidden": False, "continuous_time": False, "seed": args.seed, "shape": list(states.shape),
            "dtype": "float32", "states_file": out.name, "ep_file": None, "times_file": None,
            "notes": "EP rate: the rotational force's work over T along the fine BAOAB path (benchmarks/"
                     "underdamped_nonlinear.py), with its standard error over trajectories."}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"{out}: {args.potential}, EP rate {rate:.5g} +- {error:.2g} per unit time "
          f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
