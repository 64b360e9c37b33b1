"""Speed of the simulators, measured side by side in one run (run by hand, not in CI).

    python3 benchmarks/simulate.py            # the paper's sizes
    python3 benchmarks/simulate.py --quick    # 10x smaller, to check the script

Rows:
- beads N = 5, M = 1000, L = 10^4 (the paper's size): our kernel (1 and 2
  threads, in memory and to a file) against a NumPy loop vectorized over
  trajectories (what a researcher writes first) and against the floor: the same
  number of normal variates drawn on all threads by the fastest NumPy bit
  generator inside a Numba nogil kernel, stored as float32 (in memory / to a file);
- the whole command ``neep simulate bead --n 5`` (fresh process; Numba cache
  cold, then warm), and the JIT compile time of each kernel separately;
- the ratchet jump chain, 5 x 10^7 steps of one trajectory (the supplement's
  partial-information size): ours (memory bounded by a 2 MiB block) against a
  per-step NumPy loop timed on 10^5 steps and extrapolated.

Each timing is the best of ``--repeat`` runs (the machine is shared).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
from numpy.lib.format import open_memmap

from neep.simulators import BeadSpring, FlashingRatchet, RatchetView, simulate_to_arrays, simulate_to_file


@numba.njit(cache=True, nogil=True)
def _normals(rng, out):  # pragma: no cover - benchmark floor
    flat = out.reshape(-1)
    for i in range(flat.size):
        flat[i] = rng.standard_normal()


def floor(shape, workers, path=None, blocks=128):
    """Normals into float32 ``shape`` on ``workers`` threads, SFC64 per block."""
    out = np.empty(shape, np.float32) if path is None else open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
    edges = np.linspace(0, shape[0], blocks + 1).astype(int)
    seeds = np.random.SeedSequence(0).spawn(blocks)
    with cf.ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda b: _normals(np.random.Generator(np.random.SFC64(seeds[b])), out[edges[b] : edges[b + 1]]),
                      range(blocks)))  # fmt: skip
    if path is not None:
        out.flush()
    return out


def numpy_beads(model, m, steps, seed=0):
    """Euler-Maruyama vectorized over trajectories with NumPy, float32 output."""
    rng = np.random.default_rng(seed)
    b = (np.eye(model.n) + model.dt * model.drift_matrix).T
    noise = np.sqrt(2 * model.dt * np.diag(model.diffusion_matrix))
    out = np.empty((m, steps, model.n), np.float32)
    x = model.sample_stationary(m, rng)
    out[:, 0] = x
    for t in range(1, steps):
        x = x @ b + noise * rng.standard_normal((m, model.n))
        out[:, t] = x
    return out


def numpy_ratchet(ratchet, steps, seed=0):
    """A per-step loop over the jump chain, as the paper's code does it."""
    rng = np.random.default_rng(seed)
    p = ratchet.jump_matrix
    out = np.empty(steps, np.int8)
    state = rng.choice(6, p=ratchet.jump_stationary)
    for t in range(steps):
        out[t] = state
        state = rng.choice(6, p=p[state])
    return out


def best(fn, repeat):
    """Best wall time and best CPU time (all threads of this process) over ``repeat`` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def command_seconds(args, cache_dir, folder):
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    start, cpu = time.perf_counter(), _children_cpu()
    subprocess.run(
        [shutil.which("neep") or "neep", *args, "-o", str(folder / "c.npy"), "--force"],
        check=True, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - start, _children_cpu() - cpu


def compile_seconds(cache_dir):
    """First call of each kernel in a fresh process: cold cache, then warm."""
    code = (
        "import time; t0 = time.perf_counter();"
        "from neep.simulators import BeadSpring, FlashingRatchet, RatchetView, simulate_to_arrays;"
        "t1 = time.perf_counter(); BeadSpring(n=2).simulate(2, 10, exact_ep=True); t2 = time.perf_counter();"
        "simulate_to_arrays(RatchetView(FlashingRatchet()), 1, 10, exact_ep=True); t3 = time.perf_counter();"
        "print(t1 - t0, t2 - t1, t3 - t2)"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    out = subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True, text=True)
    return [float(v) for v in out.stdout.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10x smaller sizes")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    m, steps, n = 1000 // scale, 10_000, 5
    jumps = 50_000_000 // scale
    rows = []

    def row(name, timing, note=""):
        rows.append((name, timing[0], timing[1], note))
        print(f"  {name}: {timing[0]:.3f} s wall, {timing[1]:.3f} s CPU {note}", file=sys.stderr, flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="neep-bench-"))
    try:
        model = BeadSpring(n=n)
        model.simulate(2, 10, exact_ep=True)  # compile (cached) before timing
        floor((8, 10, n), 1)
        normals = m * (steps - 1) * n
        mb = m * steps * n * 4 / 1e6
        print(f"beads N={n}, M={m}, L={steps} ({normals / 1e6:.0f} M normals, {mb:.0f} MB float32)", file=sys.stderr)
        t_np = best(lambda: numpy_beads(model, m, steps), 1)
        row("beads: NumPy loop vectorized over trajectories", t_np)
        t_floor = {w: best(lambda w=w: floor((m, steps, n), w), args.repeat) for w in (1, 2)}
        for w in (1, 2):
            rate = normals / t_floor[w][1] / 1e6
            row(f"beads: floor, normals only, {w} thread(s), in memory", t_floor[w], f"{rate:.0f} M/s per CPU-second")
        t_floor_file = best(lambda: floor((m, steps, n), 2, tmp / "floor.npy"), args.repeat)
        row("beads: floor, normals only, 2 threads, to a file", t_floor_file)
        ours = {w: best(lambda w=w: simulate_to_arrays(model, m, steps, workers=w), args.repeat) for w in (1, 2)}
        for w in (1, 2):
            row(f"beads: ours, {w} thread(s), in memory", ours[w])
        path = tmp / "beads.npy"
        t_file = best(lambda: simulate_to_file(model, path, m, steps, workers=2, force=True), args.repeat)
        row("beads: ours, 2 threads, to a file", t_file)
        t_ep = best(lambda: simulate_to_file(model, path, m, steps, workers=2, force=True, exact_ep=True), args.repeat)
        row("beads: ours, 2 threads, to a file, --exact-ep", t_ep)

        cache = tempfile.mkdtemp(prefix="neep-numba-cache-")
        cold = compile_seconds(cache)
        warm = compile_seconds(cache)
        shutil.rmtree(cache)
        row("compile: import neep.simulators, cold cache", (cold[0], float("nan")), f"warm cache {warm[0]:.3f} s")
        row("compile: bead kernel, first call, cold cache", (cold[1], float("nan")), f"warm cache {warm[1]:.3f} s")
        row("compile: ratchet kernel, first call, cold cache", (cold[2], float("nan")), f"warm cache {warm[2]:.3f} s")
        cmd = ["simulate", "bead", "--n", "5", "--trajectories", str(m)]
        cache = tempfile.mkdtemp(prefix="neep-numba-cache-")
        t_cmd_cold = command_seconds(cmd, cache, tmp)
        t_cmd = min(command_seconds(cmd, cache, tmp) for _ in range(args.repeat))
        shutil.rmtree(cache)
        row(f"command: neep {' '.join(cmd)}, cold Numba cache", t_cmd_cold)
        row(f"command: neep {' '.join(cmd)}, cached", t_cmd)

        ratchet = FlashingRatchet(potential=2.0)
        view = RatchetView(ratchet)
        print(f"ratchet jump chain, 1 trajectory of {jumps:.0e} steps", file=sys.stderr)
        t_loop = tuple(v * jumps / 100_000 for v in best(lambda: numpy_ratchet(ratchet, 100_000), 1))
        row("ratchet: NumPy per-step loop (10^5 steps, extrapolated)", t_loop)
        row("ratchet: ours, in memory", best(lambda: simulate_to_arrays(view, 1, jumps), args.repeat))
        t_r_file = best(lambda: simulate_to_file(view, tmp / "r.npy", 1, jumps, force=True), args.repeat)
        row("ratchet: ours, to a file (2 MiB blocks along time)", t_r_file)
        hidden = RatchetView(ratchet, hidden=True)
        row("ratchet: ours, hidden view + exact EP, to a file",
            best(lambda: simulate_to_file(hidden, tmp / "r.npy", 1, jumps, force=True, exact_ep=True), args.repeat))  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    ratios = {
        "beads: NumPy loop / ours (2 threads, in memory)": (t_np[0] / ours[2][0], t_np[1] / ours[2][1]),
        "beads: ours / floor (2 threads, in memory)": (ours[2][0] / t_floor[2][0], ours[2][1] / t_floor[2][1]),
        "beads: ours / floor (2 threads, to a file)": (t_file[0] / t_floor_file[0], t_file[1] / t_floor_file[1]),
        "beads: wall speed-up 1 -> 2 threads, ours": (ours[1][0] / ours[2][0], float("nan")),
        "beads: wall speed-up 1 -> 2 threads, floor": (t_floor[1][0] / t_floor[2][0], float("nan")),
        "ratchet: NumPy loop / ours (to a file)": (t_loop[0] / t_r_file[0], t_loop[1] / t_r_file[1]),
    }
    load = os.getloadavg()[0]
    print(f"\nneep simulate benchmark: {platform.machine()}, {os.cpu_count()} CPUs, numba {numba.__version__}, "
          f"numpy {np.__version__}, load average {load:.1f} at the end{' (--quick)' if args.quick else ''}")  # fmt: skip
    print("wall: best of the runs; CPU: process CPU time over all threads (what an idle machine would need)")
    width = max(len(r[0]) for r in rows)
    print(f"\n| {'measurement'.ljust(width)} | wall s | CPU s | note |")
    print(f"|{'-' * (width + 2)}|-------:|------:|------|")
    for name, wall, cpu, note in rows:
        print(f"| {name.ljust(width)} | {wall:6.3f} | {cpu:5.3f} | {note} |".replace("  nan", "    -"))
    print(f"\n| {'ratio'.ljust(width)} | wall | CPU |")
    print(f"|{'-' * (width + 2)}|-----:|----:|")
    for name, (wall, cpu) in ratios.items():
        print(f"| {name.ljust(width)} | {wall:4.2f} | {cpu:3.2f} |".replace(" nan", "   -"))


if __name__ == "__main__":
    main()
