"""Peers: the classical StochasticForceInference (SFI) and neep on the same files, one run, one table.

Run by hand (not a test), from the repository root, with a Python that can
import SFI (``pip install .[bench]``, or a separate venv with
``pip install stochasticforceinference``) and neep (installed, or
``PYTHONPATH`` pointing at it)::

    python benchmarks/peers.py --quick                      # smoke run, tiny data (a few minutes)
    python benchmarks/peers.py --json peers.json            # the default table (1000 x 10^4 steps per row)
    python benchmarks/peers.py --data fpu.npy --data other.npy --rows none

Rows (simulated with ``neep simulate``, seeded, cached in ``--workdir``):
``bead2-0.1``, ``bead2-0.5``, ``bead5-0.1``, ``bead5-0.5`` (N beads, Tc = 1,
Th = 10 or 2, so Tc/Th = 0.1 or 0.5), ``ring`` (the driven ring, nonlinear
forces), and every ``--data FILE.npy``: any continuous (M, L, d) file with a
sidecar FILE.json giving ``dt`` and ``ep_rate_exact``.

Methods per row, each fitted on the whole file (neep: its own split, half
trained, half measured):

- ``SFI linear`` / ``quadratic`` / ``cubic``: ``infer_force_linear`` on the
  vector monomials up to degree 1, 2, 3, the ``'clean'`` preset (Ito
  moments, trapeze Gram) after ``compute_diffusion_constant('WeakNoise')``;
  the files are simulated without measurement noise.
- ``SFI cubic robust``: the noise-robust preset (``'robust'``: Stratonovich
  moments, shifted Gram) after ``compute_diffusion_constant('noisy')``.
- ``neep``: ``neep fit FILE -o DIR`` at its defaults (CLI, subprocess).

The estimate is SFI's ``Sdot +- Sdot_error`` (its debiased ``Sdot_debiased``
in its own column) and neep's ``ep_rate`` with its 95 % interval
(``summary.json``); both per unit time. The truth is the sidecar's
``ep_rate_exact`` (the continuous process's rate; the simulated chains
differ from it at O(dt), see the sidecar notes; where the sidecar has the
chain's own value, ``ep_per_step_exact / dt`` (the bead chain), it is shown
too). Coverage: is the truth (and the chain's value) inside estimate +- 1.96
error (SFI) or neep's interval. Wall time: the fit
only (SFI: from the collection to the EP, JAX compilation included; neep:
``summary.json``'s ``seconds``, the whole fit with its data check and
baselines), data already simulated. SFI's cost grows with the square of the
basis size (d x C(d + degree, degree) functions): a method above
``--max-basis`` or running past ``--sfi-timeout`` is reported as skipped.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Row", "Result", "sfi_basis_size", "covers", "format_table", "report", "main"]

Z95 = 1.959963984540054
# name -> (monomial degree, compute_diffusion_constant method, infer_force_linear preset)
SFI_METHODS = {
    "SFI linear": (1, "WeakNoise", "clean"),
    "SFI quadratic": (2, "WeakNoise", "clean"),
    "SFI cubic": (3, "WeakNoise", "clean"),
    "SFI cubic robust": (3, "noisy", "robust"),
    "SFI linear robust": (1, "noisy", "robust"),  # the noise rows of issue 16 (linear chain)
}
# name -> (simulate subcommand, options, seed)
BUILTIN_ROWS = {
    "bead2-0.1": ("bead", ["--n", "2", "--t-cold", "1", "--t-hot", "10"], 1),
    "bead2-0.5": ("bead", ["--n", "2", "--t-cold", "1", "--t-hot", "2"], 2),
    "bead5-0.1": ("bead", ["--n", "5", "--t-cold", "1", "--t-hot", "10"], 3),
    "bead5-0.5": ("bead", ["--n", "5", "--t-cold", "1", "--t-hot", "2"], 4),
    "ring": ("ring", [], 5),
}
NEEP_CLI = [sys.executable, "-c", "from neep.cli.main import main; main()"]


@dataclass(frozen=True)
class Row:
    """One data file of the table: its name, path, dt and exact EP rate (from the sidecar)."""

    name: str
    path: Path
    dt: float
    truth: float
    shape: tuple
    chain: float | None = None           # the simulated chain's rate where the sidecar has it (beads)

    @classmethod
    def from_file(cls, path: Path, name: str | None = None) -> "Row":
        sidecar = Path(path).with_suffix(".json")
        if not sidecar.exists():
            raise ValueError(f"{path}: no sidecar {sidecar.name} (dt and ep_rate_exact are read from it)")
        meta = json.loads(sidecar.read_text())
        for key in ("dt", "ep_rate_exact"):
            if meta.get(key) is None:
                raise ValueError(f"{sidecar}: no {key!r}")
        if meta.get("state", "continuous") != "continuous" or len(meta.get("shape", [0, 0, 0])) != 3:
            raise ValueError(f"{path}: SFI needs continuous (M, L, d) states")
        truth, dt = float(meta["ep_rate_exact"]), float(meta["dt"])
        chain = meta.get("ep_per_step_exact")
        chain = None if chain is None or math.isclose(chain / dt, truth, rel_tol=1e-9) else chain / dt
        return cls(name or Path(path).stem, Path(path), dt, truth, tuple(meta.get("shape", ())), chain)


@dataclass(frozen=True)
class Result:
    """One cell of the table: a method's estimate on a row, or why there is none."""

    row: str
    method: str
    estimate: float | None = None
    error: float | None = None           # standard error (SFI's Sdot_error; neep's ep_rate_stderr)
    low: float | None = None
    high: float | None = None
    debiased: float | None = None        # SFI only
    seconds: float | None = None
    truth: float | None = None
    notes: str = ""                      # neep's flags, SFI's basis size, or why it was skipped
    chain: float | None = None           # the chain's rate (Row.chain)

    @property
    def covered(self) -> bool | None:
        return None if self.low is None or self.truth is None else covers(self.low, self.high, self.truth)

    @property
    def covered_chain(self) -> bool | None:
        return None if self.low is None or self.chain is None else covers(self.low, self.high, self.chain)

    @property
    def relative_error(self) -> float | None:
        if self.estimate is None or not self.truth:
            return None
        return self.estimate / self.truth - 1


def _none(row: Row, method: str, notes: str) -> Result:
    """The cell of a method that gave no estimate on ``row``, saying why."""
    return Result(row.name, method, truth=row.truth, notes=notes, chain=row.chain)


def sfi_basis_size(degree: int, dim: int) -> int:
    """Functions of SFI's ``monomials_up_to(degree, dim=dim, rank='vector')``: d x C(d + degree, degree)."""
    return dim * math.comb(dim + degree, degree)


def covers(low: float, high: float, truth: float) -> bool:
    """Whether the interval [low, high] contains the truth."""
    return low <= truth <= high


def _num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def format_table(results: list[Result]) -> str:
    """The results as a Markdown table (one line per row and method)."""
    yes = {None: "-", True: "yes", False: "**no**"}
    lines = ["| data | method | EP rate +- error | 95 % interval | truth | covered | rel. error | "
             "chain's rate: covered | SFI debiased | fit s | notes |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if r.estimate is None:
            lines.append(f"| {r.row} | {r.method} | {r.notes} | | {_num(r.truth)} | | | | | | |")
            continue
        rel = "-" if r.relative_error is None else f"{r.relative_error:+.1%}"
        chain = "-" if r.chain is None else f"{r.chain:.5g}: {yes[r.covered_chain]}"
        lines.append(f"| {r.row} | {r.method} | {r.estimate:.4f} +- {_num(r.error, 2)} | "
                     f"{r.low:.4f} .. {r.high:.4f} | {_num(r.truth)} | {yes[r.covered]} | {rel} | {chain} | "
                     f"{_num(r.debiased)} | {_num(r.seconds, 3)} | {r.notes} |")
    return "\n".join(lines)


# -- SFI ------------------------------------------------------------------------------------------


def sfi_fit(path: str, degree: int, diffusion: str, preset: str) -> dict:
    """SFI's overdamped EP on the file at ``path`` (runs in the worker process; needs SFI)."""
    import numpy as np
    from SFI import OverdampedLangevinInference, TrajectoryCollection
    from SFI.bases import monomials_up_to

    row = Row.from_file(Path(path))
    x = np.load(path, mmap_mode="r")
    start = time.perf_counter()
    # SFI wants (T, N, d): the M trajectories become M independent, identical particles.
    data = TrajectoryCollection.from_arrays(X=np.ascontiguousarray(x.transpose(1, 0, 2)), dt=row.dt)
    inf = OverdampedLangevinInference(data)
    inf.compute_diffusion_constant(method=diffusion)
    inf.infer_force_linear(monomials_up_to(order=degree, dim=x.shape[2], rank="vector"), preset=preset)
    ep = inf.compute_entropy_production()
    seconds = time.perf_counter() - start
    return {"Sdot": ep["Sdot"], "Sdot_error": ep["Sdot_error"], "Sdot_debiased": ep["Sdot_debiased"],
            "Nb": ep["Nb"], "tauN": ep["tauN"], "preset": inf.metadata.get("force_preset"), "seconds": seconds}


def sfi_available(python: str) -> str | None:
    """SFI's version in ``python``, or None where it cannot be imported."""
    out = subprocess.run([python, "-c", "import SFI; print(SFI.__version__)"], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


def run_sfi(row: Row, method: str, python: str, max_basis: int, timeout: float) -> Result:
    """One SFI method on one row, in a subprocess (a time limit that can stop it, JAX away from neep)."""
    degree, diffusion, preset = SFI_METHODS[method]
    size = sfi_basis_size(degree, row.shape[2])
    if size > max_basis:
        return _none(row, method, f"skipped (basis too large: {size} > --max-basis "
                                                               f"{max_basis})")
    spec = json.dumps([str(row.path), degree, diffusion, preset])
    try:
        out = subprocess.run([python, __file__, "--sfi-worker", spec], capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        return _none(row, method, f"skipped (over --sfi-timeout {timeout:g} s)")
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return _none(row, method, f"failed: {last[:120]}")
    fit = json.loads(out.stdout.strip().splitlines()[-1])
    value, error = fit["Sdot"], fit["Sdot_error"]
    return Result(row.name, method, value, error, value - Z95 * error, value + Z95 * error, fit["Sdot_debiased"],
                  fit["seconds"], row.truth, f"{fit['Nb']} functions, preset {fit['preset']}", row.chain)


# -- neep -----------------------------------------------------------------------------------------


def run_neep(row: Row, folder: Path, extra: list[str]) -> Result:
    """``neep fit FILE -o DIR`` at its defaults (plus ``extra``), read back from DIR/summary.json."""
    command = NEEP_CLI + ["fit", str(row.path), "-o", str(folder), "--force", *extra]
    out = subprocess.run(command, capture_output=True, text=True)
    summary_path = folder / "summary.json"
    if out.returncode != 0 or not summary_path.exists():
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return _none(row, "neep", f"failed: {last[:120]}")
    summary = json.loads(summary_path.read_text())
    if summary.get("rate_unit") != "per unit time":
        return _none(row, "neep", f"failed: rates {summary.get('rate_unit')}")
    low, high = summary["ep_rate_interval"]
    flags = "; ".join(summary.get("flags") or []) or "no flags"
    return Result(row.name, "neep", summary["ep_rate"], summary.get("ep_rate_stderr"), low, high, None,
                  summary.get("seconds"), row.truth, f"{summary.get('model')}: {flags}", row.chain)


# -- data -----------------------------------------------------------------------------------------


def simulate_row(name: str, workdir: Path, trajectories: int, steps: int) -> Row:
    """The built-in row ``name``, simulated with ``neep simulate`` into ``workdir`` unless already there."""
    command, options, seed = BUILTIN_ROWS[name]
    path = workdir / f"{name}-M{trajectories}-L{steps}-seed{seed}.npy"
    if not (path.exists() and path.with_suffix(".json").exists()):
        out = subprocess.run(NEEP_CLI + ["simulate", command, *options, "--trajectories", str(trajectories),
                                         "--steps", str(steps), "--seed", str(seed), "--force", "-o", str(path)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"neep simulate {command} failed: {out.stderr.strip()[-300:]}")
    return Row.from_file(path, name)


def _worker(spec: str) -> None:
    path, degree, diffusion, preset = json.loads(spec)
    print(json.dumps(sfi_fit(path, degree, diffusion, preset)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", nargs="+", default=list(BUILTIN_ROWS), choices=[*BUILTIN_ROWS, "none"],
                        help="built-in rows to simulate and fit ('none': only --data files)")
    parser.add_argument("--data", action="append", default=[], type=Path, metavar="FILE.npy",
                        help="an extra continuous (M, L, d) file with a sidecar (repeatable)")
    parser.add_argument("--methods", nargs="+", default=[*SFI_METHODS, "neep"], choices=[*SFI_METHODS, "neep"])
    parser.add_argument("--trajectories", type=int, default=1000, help="M of the built-in rows")
    parser.add_argument("--steps", type=int, default=10_000, help="L of the built-in rows")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 50 x 2000 steps, neep 200 iterations (evaluated every 50)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/neep-peers"),
                        help="cache of the simulated files and neep's run folders")
    parser.add_argument("--max-basis", type=int, default=120,
                        help="skip an SFI method with more basis functions (5-D: 30, 105, 280)")
    parser.add_argument("--sfi-timeout", type=float, default=600.0, help="seconds per SFI method")
    parser.add_argument("--sfi-python", default=sys.executable, help="the Python that imports SFI")
    parser.add_argument("--neep-args", default="", help="extra options for neep fit (e.g. '--seeds 3')")
    parser.add_argument("--json", type=Path, help="also write the table here")
    parser.add_argument("--from-json", type=Path, help="reprint the table of an earlier --json, measure nothing")
    parser.add_argument("--sfi-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sfi_worker:
        return _worker(args.sfi_worker)
    if args.from_json:
        return report(json.loads(args.from_json.read_text()))

    load_start = os.getloadavg()
    trajectories, steps = (50, 2000) if args.quick else (args.trajectories, args.steps)
    neep_extra = (["--iterations", "200", "--eval-every", "50"] if args.quick else []) + args.neep_args.split()
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows = [simulate_row(name, args.workdir, trajectories, steps) for name in args.rows if name != "none"]
    try:
        rows += [Row.from_file(path) for path in args.data]
    except (ValueError, OSError) as error:
        parser.error(str(error))

    sfi_version = sfi_available(args.sfi_python)
    methods = list(args.methods)
    if sfi_version is None and any(m in SFI_METHODS for m in methods):
        print(f"# SFI is not importable by {args.sfi_python} (pip install stochasticforceinference): "
              "SFI rows skipped")
        methods = [m for m in methods if m not in SFI_METHODS]
    print(f"# peers: SFI {sfi_version or 'absent'}, neep fit {' '.join(neep_extra) or 'defaults'}; "
          f"load average at start {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f} "
          f"({os.cpu_count()} CPUs)", flush=True)

    results = []
    for row in rows:
        for method in methods:
            if method == "neep":
                folder = args.workdir / "runs" / row.path.stem
                folder.parent.mkdir(exist_ok=True)
                result = run_neep(row, folder, neep_extra)
            else:
                result = run_sfi(row, method, args.sfi_python, args.max_basis, args.sfi_timeout)
            results.append(result)
            print(f"# {row.name} {'x'.join(map(str, row.shape))} {method}: {_num(result.estimate)} "
                  f"(truth {_num(row.truth)}) {_num(result.seconds, 3)} s {result.notes}", flush=True)

    load_end = os.getloadavg()
    payload = {"sfi_version": sfi_version, "neep_args": neep_extra, "load_start": load_start,
               "load_end": load_end, "cpus": os.cpu_count(), "argv": sys.argv[1:] if argv is None else argv,
               "rows": [{"name": r.name, "path": str(r.path), "shape": r.shape, "dt": r.dt, "truth": r.truth,
                         "chain": r.chain} for r in rows],
               "results": [{**vars(r), "covered": r.covered, "covered_chain": r.covered_chain,
                            "relative_error": r.relative_error} for r in results]}
    report(payload)
    if args.json:
        args.json.write_text(json.dumps(payload, indent=2))


def report(payload: dict) -> None:
    """Print the load, the files and the table of a run (``main``'s payload, or one read from --json)."""
    start, end = payload["load_start"], payload["load_end"]
    print(f"\nSFI {payload['sfi_version'] or 'absent'}; neep fit {' '.join(payload['neep_args']) or 'defaults'}; "
          f"load average at start {start[0]:.2f}, at end {end[0]:.2f} ({payload['cpus']} CPUs; "
          f"times under load are not comparable across machines)")
    for row in payload["rows"]:  # a --json written before the chain's rate was recorded: its sidecar
        if "chain" not in row and Path(row["path"]).with_suffix(".json").exists():
            row["chain"] = Row.from_file(Path(row["path"])).chain
    for row in payload["rows"]:
        chain = "" if row.get("chain") is None else f", chain's rate {row['chain']:.5g}"
        print(f"- {row['name']}: {row['path']} ({'x'.join(map(str, row['shape']))}, dt {row['dt']:g}, "
              f"truth {row['truth']:.5g}{chain})")
    chains = {row["name"]: row.get("chain") for row in payload["rows"]}
    fields = Result.__dataclass_fields__
    results = [Result(**{**{k: v for k, v in r.items() if k in fields}, "chain": chains.get(r["row"])})
               for r in payload["results"]]
    print("\n" + format_table(results))


if __name__ == "__main__":
    main(sys.argv[1:])
