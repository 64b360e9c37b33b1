"""Accuracy of NEEP against exact EP on the paper's benchmarks, and the steadiness of the estimate.

Run by hand (not a test), from the repository root:

    python3 benchmarks/accuracy.py                       # all cases + steadiness (about 20 min, 2 cores)
    python3 benchmarks/accuracy.py --cases bead2 --no-steadiness

Cases (simulated with ``neep.simulators`` into a temporary folder, read back
with ``load_trajectories`` like a user's file, fitted with ``neep fit``'s own
defaults ``neep.estimators.runs.defaults.FIT_DEFAULTS`` unless a column says otherwise):

- ``bead2``: 2 beads, Tc = 1, Th = 10, dt = 0.01, M = 1000 x L = 10^4 (the
  paper's size); exact 2.025 per unit time; paper R^2 = 0.9972 per step.
- ``bead5``: 5 beads, same temperatures and sizes; paper R^2 = 0.9750.
- ``ratchet``: flashing ratchet V = 2, jump chain, one trajectory of
  ``--ratchet-steps`` jumps (paper: exact 0.21307 per jump).

Reported per case: the held-out EP rate (mean +- std over ``--seeds``), the
exact value of the held-out data (mean exact per-step EP) and of the process,
the relative error, R^2 of per-step estimates against exact per-step EP, the
wall time of the fit.

Steadiness (issue 3, part 10): on the 2-bead data, the paper's plain setting
(learning rate 1e-4, raw SGD weights) against ours (moving average of the
weights, ``ema_momentum``), same iterations: the spread of the held-out
estimate over the last ``--last`` evaluations (std and max - min, relative to
the exact value).
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


def simulate(case: str, folder: Path, ratchet_steps: int, trajectories: int, steps: int) -> Path:
    """Write the case's trajectory file (with sidecar and exact EP) into ``folder``."""
    from neep.simulators.bead_spring import BeadSpring
    from neep.simulators.io import simulate_to_file
    from neep.simulators import FlashingRatchet, RatchetView

    path = folder / f"{case}.npy"
    if case == "bead2":
        simulate_to_file(BeadSpring(n=2, t_cold=1.0, t_hot=10.0), path, trajectories, steps, seed=1, exact_ep=True)
    elif case == "bead5":
        simulate_to_file(BeadSpring(n=5, t_cold=1.0, t_hot=10.0), path, trajectories, steps, seed=2, exact_ep=True)
    elif case == "ratchet":
        view = RatchetView(FlashingRatchet(potential=2.0))
        simulate_to_file(view, path, 1, ratchet_steps, seed=3, exact_ep=True)
    else:
        raise ValueError(f"unknown case {case!r}")
    return path


def fit_case(path: Path, seeds: int, overrides: dict) -> tuple[object, float, object]:
    from neep.estimators.runs.defaults import FIT_DEFAULTS, default_hidden_units
    from neep.estimators import NEEP, load_trajectories

    data = load_trajectories(path)
    settings = {k: v for k, v in FIT_DEFAULTS.items()}
    settings.update(overrides)
    settings["seeds"] = seeds
    kind = "embedding" if data.discrete else "mlp"
    settings.setdefault("hidden_units", default_hidden_units(kind))
    start = time.perf_counter()
    est = NEEP(model=kind, verbose=0, **settings).fit(data)
    return est, time.perf_counter() - start, data


def steadiness(path: Path, iterations: int, eval_every: int, last: int) -> list[tuple]:
    """Spread of the held-out estimate over the last evaluations: plain SGD weights vs moving average."""
    from neep.estimators.runs.defaults import FIT_DEFAULTS
    from neep.estimators import NEEP, load_trajectories

    data = load_trajectories(path)
    rows = []
    for label, lr, ema in (("plain (paper: lr 1e-4, raw weights)", 1e-4, None),
                           (f"raw weights, lr {FIT_DEFAULTS['learning_rate']:g}", FIT_DEFAULTS["learning_rate"], None),
                           (f"EMA {FIT_DEFAULTS['ema_momentum']}, lr {FIT_DEFAULTS['learning_rate']:g} (neep fit)",
                            FIT_DEFAULTS["learning_rate"], FIT_DEFAULTS["ema_momentum"])):
        start = time.perf_counter()
        est = NEEP(model="mlp", hidden_units=256, learning_rate=lr, ema_momentum=ema, iterations=iterations,
                   eval_every=eval_every, batch_size=FIT_DEFAULTS["batch_size"], seed=0, verbose=0).fit(data)
        seconds = time.perf_counter() - start
        history = est.history_
        tail = np.array([h["ep_rate"] for h in history[-last:]])
        errors = np.array([h["error"] for h in history[-last:]])
        exact = est.ep_per_step_exact_ / est.dt_
        rows.append((label, lr, ema, tail.mean(), tail.std(ddof=1), tail.max() - tail.min(), exact,
                     np.abs(errors).max(), est.entropy_production_rate_, seconds, len(history)))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="+", default=["bead2", "bead5", "ratchet"],
                        choices=["bead2", "bead5", "ratchet"])
    parser.add_argument("--seeds", type=int, default=1, help="networks per case (paper: 5)")
    parser.add_argument("--trajectories", type=int, default=1000, help="M for the bead cases")
    parser.add_argument("--steps", type=int, default=10_000, help="L for the bead cases")
    parser.add_argument("--ratchet-steps", type=int, default=1_000_000)
    parser.add_argument("--iterations", type=int, default=None, help="override neep fit's default")
    parser.add_argument("--steadiness", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--steady-iterations", type=int, default=2000)
    parser.add_argument("--steady-eval-every", type=int, default=100)
    parser.add_argument("--last", type=int, default=10, help="evaluations in the steadiness spread")
    args = parser.parse_args(argv)

    import warnings

    warnings.simplefilter("ignore")
    from neep.estimators.runs.defaults import FIT_DEFAULTS

    print(f"# neep fit defaults: {FIT_DEFAULTS}")
    overrides = {} if args.iterations is None else {"iterations": args.iterations}
    paper_r2 = {"bead2": "0.9972", "bead5": "0.9750", "ratchet": "-"}
    with tempfile.TemporaryDirectory(prefix="neep-accuracy-") as tmp:
        folder = Path(tmp)
        paths = {}
        print("\n| case | data (M x L) | network | iterations | EP rate (held-out) | exact (held-out) | "
              "exact (process) | rel. error | R^2 | paper R^2 | fit s |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for case in args.cases:
            start = time.perf_counter()
            paths[case] = simulate(case, folder, args.ratchet_steps, args.trajectories, args.steps)
            sim_seconds = time.perf_counter() - start
            est, seconds, data = fit_case(paths[case], args.seeds, overrides)
            exact_held = est.ep_per_step_exact_ / est.dt_
            unit = "/time" if est.dt_known_ else "/jump"
            error = est.ep_per_step_ / est.ep_per_step_exact_ - 1
            spread = f" ± {est.entropy_production_rate_std_:.4f}" if args.seeds > 1 else ""
            shape = "x".join(str(s) for s in data.states.shape[:2])
            print(f"| {case} | {shape} | {est.kind_} {est.hidden_units} units | "
                  f"{overrides.get('iterations', FIT_DEFAULTS['iterations'])} x {args.seeds} | "
                  f"{est.entropy_production_rate_:.4f}{spread} {unit} | {exact_held:.4f} | "
                  f"{(data.ep_rate_exact if est.dt_known_ else data.ep_per_step_exact):.5g} | {error:+.2%} | {est.r2_:.4f} | {paper_r2[case]} | "
                  f"{seconds:.0f} (+{sim_seconds:.0f} sim) |", flush=True)
        if args.steadiness:
            bead2 = paths.get("bead2") or simulate("bead2", folder, 0, args.trajectories, args.steps)
            print(f"\n# steadiness: 2 beads, 3 x 256 MLP, batch {FIT_DEFAULTS['batch_size']}, "
                  f"{args.steady_iterations} iterations, held-out subset evaluated every "
                  f"{args.steady_eval_every}; spread over the last {args.last} evaluations")
            print("| setting | mean of last | std | max - min | (max - min) / exact | max abs error | "
                  "final (all held-out) | exact | fit s |")
            print("|---|---|---|---|---|---|---|---|---|")
            for (label, _, _, mean, std, span, exact, max_err, final, seconds, _) in steadiness(
                    bead2, args.steady_iterations, args.steady_eval_every, args.last):
                print(f"| {label} | {mean:.4f} | {std:.4f} | {span:.4f} | {span / exact:.1%} | {max_err:.1%} | "
                      f"{final:.4f} | {exact:.4f} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
