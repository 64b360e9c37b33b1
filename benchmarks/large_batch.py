"""Large batches and their learning rate: does the square-root rule keep the estimate at equal windows seen?

Run by hand (not a test)::

    PYTHONPATH=. python3 benchmarks/large_batch.py                       # the table (~10 min on 2 cores)
    PYTHONPATH=. python3 benchmarks/large_batch.py --batch 32768 --seeds 2

Data: the paper's 5-bead chain (Tc = 1, Th = 10; 1000 x 10^4 steps),
simulated here; an MLP on pairs (``model="mlp"``, the network that has to
learn the whole EP; the default "current" model starts at the exact answer
for these linear forces and would show nothing). Each row trains the same
network on the same data; the large-batch rows see as many windows as the
reference (iterations divided by kappa = batch / reference batch) and
differ only in the learning rate:

* ``reference``: batch 4096 at ``neep fit``'s learning rate;
* ``sqrt``: ``estimators.runs.large_batch.scale_to_batch`` (lr times sqrt(kappa),
  the square-root rule for Adam; evaluation cadence and moving-average
  horizon in windows kept);
* ``same lr``: the reference's learning rate at the large batch;
* ``linear``: lr times kappa (the SGD rule);
* ``sqrt x2`` (not run by default): the ``sqrt`` row with twice the
  iterations, i.e. what the same GPU seconds buy at the large batch (the
  H200 trained 2.2x the samples/s at 65 536 as at 4096, bf16).

A GPU's gain comes from its throughput at large batches (measured in
``train.py --device gpu``); a CPU gains nothing, so this table measures only
whether the estimate survives the rule at equal windows seen. Columns: the
EP rate and its standard error (block bootstrap over held-out trajectories,
with the seed spread when --seeds > 1), its error against the exact rate of
the held-out data, the held-out lower bound 1 + J per step (the objective the
training maximizes; higher is better; +- its standard error over seeds; the exact EP per step is printed under the table),
and the wall time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def _data(folder: Path) -> Path:
    from neep.simulators import BeadSpring, simulate_to_file

    path = folder / "beads5.npy"
    simulate_to_file(BeadSpring(n=5, t_cold=1.0, t_hot=10.0), path, 1000, 10_000, seed=0, exact_ep=True)
    return path


def _row(name: str, params: dict, data, seeds: int) -> dict:
    from neep.estimators import NEEP

    est = NEEP(**dict(params, seeds=seeds), baseline=False, data_check=False, verbose=0, seed=0)
    start = time.perf_counter()
    est.fit(data)
    interval = est.ep_rate_interval_
    exact = est.ep_rate_exact_
    return {"row": name, "batch": params["batch_size"], "lr": params["learning_rate"],
            "iterations": params["iterations"], "eval_every": params["eval_every"],
            "ema": params["ema_momentum"], "rate": interval.value, "se": interval.stderr,
            "error": interval.value / exact - 1.0, "z": (interval.value - exact) / interval.stderr,
            "bound": 1.0 + float(np.mean(est.objective_per_seed_)),
            "bound_se": float(np.std(est.objective_per_seed_, ddof=1) / np.sqrt(seeds)) if seeds > 1 else float("nan"),
            "exact_step": est.ep_per_step_exact_, "seconds": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=65536, help="large batch (default 65536)")
    parser.add_argument("--reference-batch", type=int, default=4096)
    parser.add_argument("--iterations", type=int, default=2000, help="reference iterations")
    parser.add_argument("--hidden", type=int, default=128, help="MLP width (CPU-sized; the default fit uses 256)")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--rows", default="reference,sqrt,same lr,linear")
    parser.add_argument("--data", type=Path, help="a trajectory file with exact EP (default: simulate 5 beads)")
    args = parser.parse_args(argv)

    from neep.estimators import load_trajectories
    from neep.estimators.runs.large_batch import scale_to_batch
    from neep.estimators.runs.defaults import kind_defaults

    with tempfile.TemporaryDirectory() as tmp:
        path = args.data or _data(Path(tmp))
        data = load_trajectories(path)
        base = kind_defaults("mlp")
        base.update(model="mlp", hidden_units=args.hidden, layers=args.layers, batch_size=args.reference_batch,
                    iterations=args.iterations)
        sqrt_rule = scale_to_batch(base, args.batch)
        kappa = args.batch / args.reference_batch
        rows = {
            "reference": base,
            "sqrt": sqrt_rule,
            "same lr": dict(sqrt_rule, learning_rate=base["learning_rate"]),
            "linear": dict(sqrt_rule, learning_rate=base["learning_rate"] * kappa),
            "sqrt x2": dict(sqrt_rule, iterations=2 * sqrt_rule["iterations"]),
        }
        print(f"5 beads, MLP {args.layers} x {args.hidden} on pairs, {args.seeds} seed(s); kappa = {kappa:g}; "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
        header = (f"{'row':10} {'batch':>6} {'lr':>8} {'iters':>6} {'eval':>5} {'ema':>6} "
                  f"{'rate':>8} {'se':>7} {'error':>7} {'z':>6} {'1+J':>8} {'+-':>8} {'s':>6}")
        print(header, flush=True)
        results = []
        for name in args.rows.split(","):
            if name not in rows:
                sys.exit(f"unknown row {name!r}; rows: {', '.join(rows)}")
            r = _row(name, rows[name], data, args.seeds)
            results.append(r)
            print(f"{r['row']:10} {r['batch']:6d} {r['lr']:8.2e} {r['iterations']:6d} {r['eval_every']:5d} "
                  f"{r['ema']:6.3f} {r['rate']:8.4f} {r['se']:7.4f} {r['error']:+7.2%} {r['z']:+6.2f} "
                  f"{r['bound']:8.5f} {r['bound_se']:8.5f} {r['seconds']:6.0f}", flush=True)
        if results:
            print(f"exact EP per step of the held-out data: {results[0]['exact_step']:.5f} (the bound 1 + J <= it)")


if __name__ == "__main__":
    main()
