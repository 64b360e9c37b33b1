"""Accuracy grid: every estimator against exact EP, with intervals, coverage and diagnostics.

Run by hand (not a test), from the repository root:

    python3 benchmarks/accuracy_grid.py                     # the whole grid (~30 min, 2 cores)
    python3 benchmarks/accuracy_grid.py --systems bead2-0.1 ring --estimators current

Systems (simulated into a temporary folder at the paper's sizes, read back
with ``load_trajectories`` as a user's file):

- ``beadN-R``: N = 2, 5 beads, Tc/Th = R in 0.1, 0.5, 0.8 (Th = 10), dt 0.01,
  1000 x 10^4 steps. Exact: the Euler-Maruyama chain's own mean EP per step.
- ``ring``: the driven Mexican hat (``DrivenRing``, nonlinear forces), same
  sizes. Exact sigma is the continuous process's; the simulated chain's own
  pair value (what a pair estimator converges to) is 2.0 % lower at dt = 0.01,
  and it is the reference for coverage: the sidecar's ``ep_per_step_exact``,
  measured with the exact Euler transition densities (with its standard error).
- ``ratchet``: flashing ratchet V = 2, jump chain, 10^6 jumps, exact per jump.

Estimators: ``current-bare`` (the ansatz trained from zero, no closed-form
start, no data check: what the closed form adds), ``current`` (the default of ``neep fit`` for float data:
closed-form linear current + neural correction, with the data check),
``mlp`` (the paper's general form, ``neep fit --model mlp`` sizes, no data
check: refits of it would triple an already long fit; baseline and bound
checks still run), ``embedding`` (discrete data). Every fit uses
``neep fit``'s defaults otherwise.

Each row: data size, estimate +- 95 % interval, exact, whether the interval
covers it, R^2, the diagnostics that fired, wall time. At the end: coverage
counted, and whether every miss was flagged. Results go to stdout as a
Markdown table and, with ``--json``, to a file (the figure reads it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

RATIOS = (0.1, 0.5, 0.8)
SYSTEMS = [f"bead{n}-{r}" for n in (2, 5) for r in RATIOS] + ["ring", "ratchet"]


def make_system(name: str):
    from neep.simulators import BeadSpring, DrivenRing, FlashingRatchet, RatchetView

    if name.startswith("bead"):
        n, ratio = name[4:].split("-")
        return BeadSpring(n=int(n), t_cold=10.0 * float(ratio), t_hot=10.0)
    if name == "ring":
        return DrivenRing()
    if name == "ratchet":
        return RatchetView(FlashingRatchet(potential=2.0))
    raise ValueError(f"unknown system {name!r}")


def run(system: str, estimator: str, folder: Path, args) -> dict:
    from neep.estimators import fit_to_folder, load_trajectories
    from neep.simulators.io import simulate_to_file

    model = make_system(system)
    path = folder / f"{system}.npy"
    if not path.exists():
        if system == "ratchet":
            simulate_to_file(model, path, 1, args.ratchet_steps, seed=3, exact_ep=True)
        else:
            simulate_to_file(model, path, args.trajectories, args.steps, seed=1, exact_ep=True)
    data = load_trajectories(path)
    exact, exact_se, exact_note = data.ep_per_step_exact / data.dt, 0.0, "exact"
    if system == "ring":  # the sidecar's value is the chain's own (reference run of exact Euler log-ratios)
        error = json.loads(path.with_suffix(".json").read_text()).get("ep_per_step_exact_error", 0.0)
        exact, exact_se, exact_note = data.ep_per_step_exact / data.dt, error / data.dt, "the chain's own"
    kwargs = {"verbose": 0, "seed": args.seed}
    if estimator == "mlp":
        kwargs.update(model="mlp", data_check=False)
    elif estimator == "current":
        kwargs.update(model="current")
    elif estimator == "current-bare":  # the ansatz alone, without the closed-form start
        kwargs.update(model="current", linear_start=False, data_check=False)
    start = time.perf_counter()
    est, summary = fit_to_folder(data, folder / f"run-{system}-{estimator}", force=True, plots=False, **kwargs)
    seconds = time.perf_counter() - start
    iv = est.ep_rate_interval_
    return {
        "system": system, "estimator": estimator, "shape": list(data.states.shape),
        "estimate": iv.value, "low": iv.low, "high": iv.high, "stderr": iv.stderr,
        "exact": exact, "exact_stderr": exact_se, "exact_note": exact_note,
        "exact_held_out": est.ep_rate_exact_held_out_,
        "covers": bool(iv.low - 2 * exact_se <= exact <= iv.high + 2 * exact_se),
        "relative_error": (iv.value - exact) / exact, "r2": est.r2_,
        "flags": [d.name for d in est.diagnostics_ if d.flagged], "messages": list(est.flags_),
        "seconds": seconds,
        "baseline": summary["baselines"].get("linear_current", {}).get("value"),
        "unit": summary["rate_unit"],
    }


def table(rows: list[dict]) -> str:
    lines = ["| system | estimator | data | estimate [95 % interval] | exact | covers | error | R^2 | "
             "flags | time s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        shape = "x".join(str(s) for s in r["shape"])
        exact = f"{r['exact']:.5g}" + (f" ± {r['exact_stderr']:.2g}" if r["exact_stderr"] else "")
        lines.append(
            f"| {r['system']} | {r['estimator']} | {shape} | {r['estimate']:.5g} [{r['low']:.5g}, {r['high']:.5g}] | "
            f"{exact} | {'yes' if r['covers'] else 'NO'} | {r['relative_error']:+.1%} | "
            f"{'' if r['r2'] is None else format(r['r2'], '.4f')} | {', '.join(r['flags']) or '-'} | "
            f"{r['seconds']:.0f} |")
    covered = sum(r["covers"] for r in rows)
    missed_unflagged = [f"{r['system']}/{r['estimator']}" for r in rows if not r["covers"] and not r["flags"]]
    lines.append("")
    lines.append(f"coverage: {covered}/{len(rows)} intervals cover the exact value "
                 f"({covered / max(len(rows), 1):.0%}); misses without a flag: {', '.join(missed_unflagged) or 'none'}")
    return "\n".join(lines)


def plot_grid(rows: list[dict], path: Path) -> Path:
    """estimate / exact with 95 % intervals: against Tc/Th for the beads, by system for the rest."""
    from neep.estimators.plots import pyplot, save_figure

    fig, axes = pyplot().subplots(1, 3, figsize=(13, 4), layout="constrained",
                                   gridspec_kw={"width_ratios": [2, 2, 1.4]})
    estimators = sorted({r["estimator"] for r in rows}, key=["current", "mlp", "current-bare", "embedding"].index)
    markers = {"current": "o", "mlp": "s", "current-bare": "^", "embedding": "D"}
    for ax, n in zip(axes[:2], (2, 5)):
        for k, name in enumerate(estimators):
            pick = [r for r in rows if r["system"].startswith(f"bead{n}-") and r["estimator"] == name]
            if not pick:
                continue
            x = np.array([float(r["system"].split("-")[1]) for r in pick]) + 0.01 * (k - 0.5)
            y = np.array([r["estimate"] / r["exact"] for r in pick])
            err = np.array([[r["estimate"] - r["low"], r["high"] - r["estimate"]] for r in pick]).T / \
                np.array([r["exact"] for r in pick])
            ax.errorbar(x, y, yerr=err, fmt=markers[name], capsize=3, label=name)
        ax.axhline(1.0, color="k", lw=1, ls="--")
        ax.set_xlabel("Tc / Th")
        ax.set_ylabel("estimate / exact")
        ax.set_title(f"{n} beads (1000 x 10^4 steps)")
        ax.legend(fontsize="small")
    others = [r for r in rows if not r["system"].startswith("bead")]
    labels = []
    for i, r in enumerate(others):
        labels.append(f"{r['system']}\n{r['estimator']}")
        ax = axes[2]
        ax.errorbar([i], [r["estimate"] / r["exact"]],
                    yerr=[[(r["estimate"] - r["low"]) / r["exact"]], [(r["high"] - r["estimate"]) / r["exact"]]],
                    fmt=markers.get(r["estimator"], "o"), capsize=3, color=f"C{estimators.index(r['estimator'])}"
                    if r["estimator"] in estimators else "C2")
    axes[2].axhline(1.0, color="k", lw=1, ls="--")
    axes[2].set_xticks(range(len(others)), labels, fontsize="small")
    axes[2].set_title("nonlinear ring, ratchet")
    return save_figure(fig, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--systems", nargs="+", default=SYSTEMS)
    parser.add_argument("--estimators", nargs="+", default=["current", "mlp"])
    parser.add_argument("--trajectories", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--ratchet-steps", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here (with --from-json: the merged rows)")
    parser.add_argument("--figure", type=Path, default=None, help="also draw the rows into this PNG")
    parser.add_argument("--from-json", type=Path, nargs="+", default=None,
                        help="no fits: table and figure from saved rows (later files replace earlier rows "
                             "of the same system and estimator)")
    args = parser.parse_args(argv)
    if args.from_json is not None:
        merged: dict = {}
        for path in args.from_json:
            for row in json.loads(path.read_text()):
                merged[(row["system"], row["estimator"])] = row
        rows = list(merged.values())
        print(table(rows))
        if args.json:  # the merged rows
            args.json.write_text(json.dumps(rows, indent=1))
        if args.figure:
            plot_grid(rows, args.figure)
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="neep-grid-") as tmp:
        for system in args.systems:
            estimators = ["embedding"] if system == "ratchet" else args.estimators
            for estimator in estimators:
                row = run(system, estimator, Path(tmp), args)
                rows.append(row)
                print(f"{system:10s} {estimator:9s} {row['estimate']:.5g} [{row['low']:.5g}, {row['high']:.5g}] "
                      f"exact {row['exact']:.5g} covers {row['covers']} R2 {row['r2']} flags {row['flags']} "
                      f"{row['seconds']:.0f} s", file=sys.stderr, flush=True)
                if args.json:
                    args.json.write_text(json.dumps(rows, indent=1))
            for stale in Path(tmp).glob(f"{system}*"):
                stale.unlink() if stale.is_file() else None
    print(table(rows))
    if args.figure:
        plot_grid(rows, args.figure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
