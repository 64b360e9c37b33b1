"""``reproduce()``: simulate, fit, draw and tabulate the chosen figures into one folder.

The folder holds the PNGs, ``results.json`` / ``results.md`` and a ``cache/``
of simulations and fits keyed by their parameters: running again (after an
interruption, or for another figure) reuses everything already done. Figures
run alone add their rows to the existing table. With ``jobs=N`` the
simulations and fits run first, in N worker processes (:mod:`.parallel`),
then the figures are drawn from the cache.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .cache import Cache
from .config import get_scale
from .report import read_results, write_results

__all__ = ["FIGURES", "reproduce"]

#: Figure names, in the order they run, with their titles.
FIGURES: dict[str, str] = {
    "fig2": "bead-spring EP rate vs Tc/Th, cumulative EP, local EP map, convergence (Fig. 2a-e)",
    "figS1": "held-out estimate vs trajectory length L (Fig. S1)",
    "figS2": "training-set vs validation-set estimate over iterations (Fig. S2)",
    "fig3c": "flashing ratchet, NEEP vs V (Fig. 3c)",
    "fig3e": "hidden ratchet, RNEEP vs V for window lengths n (Fig. 3e)",
}


def _figures(figures: Iterable[str] | None) -> list[str]:
    if figures is None:
        return list(FIGURES)
    chosen = list(dict.fromkeys(figures))
    for name in chosen:
        if name not in FIGURES:
            raise ValueError(f"figure must be one of {', '.join(FIGURES)}, got {name!r}")
    return [name for name in FIGURES if name in chosen] or list(FIGURES)


def reproduce(
    figures: Iterable[str] | None = None,
    scale: str = "quick",
    output: str | os.PathLike = "neep-paper",
    seeds: int | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    jobs: int = 1,
) -> dict[str, Any]:
    """Regenerate the paper's figures and table.

    Parameters
    ----------
    figures
        Names from :data:`FIGURES` (default: all of them).
    scale
        ``"tiny"``, ``"quick"`` or ``"paper"`` (see :mod:`neep.reproduce.config`).
    output
        Folder for PNGs, ``results.json``, ``results.md`` and ``cache/``
        (created; its parent must exist). An existing folder is resumed.
    seeds
        Ensemble size of every estimate (default: the scale's).
    seed
        Base seed of every simulation and fit (same seed, same results).
    progress
        Called with one line of text per step (simulation, fit, figure).
    jobs
        Worker processes for the simulations and fits (default 1: all in
        this process, one after another). With ``jobs > 1`` they run first,
        in parallel, each stored in the cache as it finishes; the figures
        are then drawn from the cache. Same keys, same tables. The workers
        are spawned: a script that calls this with ``jobs > 1`` needs the
        usual ``if __name__ == "__main__":`` guard.

    Returns
    -------
    dict
        The content of ``results.json``.
    """
    names = _figures(figures)
    config = get_scale(scale)
    if seeds is not None:
        config = config.with_seeds(seeds)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1 (worker processes), got {jobs!r}")
    output = Path(output)
    if not output.parent.exists():
        raise ValueError(f"folder {str(output.parent)!r} does not exist")
    if output.exists() and not output.is_dir():
        raise ValueError(f"output {str(output)!r} exists and is not a folder")
    output.mkdir(exist_ok=True)
    cache = Cache(output / "cache")
    say = progress or (lambda message: None)
    start_all = time.perf_counter()

    def tell(message: str) -> None:
        say(f"[{time.perf_counter() - start_all:7.1f} s] {message}")

    results = read_results(output)
    if results.get("scale") not in (None, config.name) or results.get("seeds") != seeds:
        results = {"figures": {}}  # another scale or ensemble size: start the table afresh
    results.update(scale=config.name, seeds=seeds, seed=seed, notes=list(config.notes),
                   command="neep reproduce " + " ".join(names) + f" --scale {config.name}"
                   + (f" --seeds {seeds}" if seeds else "") + (f" --seed {seed}" if seed else "")
                   + (f" --jobs {jobs}" if jobs > 1 else "") + f" -o {output.name}")
    results.pop("parallel", None)
    if jobs > 1:
        from .parallel import plan, run_jobs

        tell(f"simulations and fits of {', '.join(names)} in up to {jobs} worker processes, then the figures")
        results["parallel"] = run_jobs(plan(names, config, seed), cache, jobs, tell)
        write_results(output, results)

    def figure_tell(message: str) -> None:
        # after the parallel phase every fit is in the cache, and that phase said so once
        if not (jobs > 1 and message.startswith("fit ") and message.endswith(": reused from the cache")):
            tell(message)

    bead_run = None
    for name in names:
        tell(f"{name}: {FIGURES[name]}")
        begin = time.perf_counter()
        entry = _run_one(name, config, cache, seed, figure_tell, output, bead_run)
        bead_run = entry.pop("_bead_run", bead_run)
        entry["seconds"] = time.perf_counter() - begin
        entry["title"] = FIGURES[name]
        results["figures"][name] = entry
        write_results(output, results)
        tell(f"{name}: done in {entry['seconds']:.0f} s -> {', '.join(entry['pngs'])}")
    results["seconds"] = time.perf_counter() - start_all
    results["python"] = sys.version.split()[0]
    write_results(output, results)
    return results


def _run_one(name: str, config, cache: Cache, seed: int, tell, output: Path, bead_run) -> dict[str, Any]:
    from . import beads, beads_plots, ratchet

    if name in ("fig2", "figS1", "figS2"):
        run = bead_run or beads.BeadRun(config.beads, cache, seed, tell)
        if name == "fig2":
            result = beads.run_fig2(run)
            pngs = [beads_plots.draw_fig2(run, result, output / "fig2.png")]
            notes = ["Exact = the simulated Euler-Maruyama chain's mean EP per step / dt (0.7 % above the "
                     "continuous process's rate at dt = 0.01); estimates on held-out trajectories; error bars "
                     "in (a) are the 95 % intervals.",
                     f"Bead model: {config.beads.kind!r}"
                     + (" (the current ansatz; its inset 'start' is the closed-form linear current it starts "
                        "from, not an untrained network)" if config.beads.kind == "current" else
                        " (the paper's general network)") + "."]
        elif name == "figS1":
            result = beads.run_figS1(run)
            pngs = [beads_plots.draw_figS1(run, result, output / "figS1.png")]
            notes = []
        else:
            result = beads.run_figS2(run)
            pngs = [beads_plots.draw_figS2(run, result, output / f"figS2-N{n}.png", n) for n in config.beads.beads]
            notes = ["Last evaluation of seed 0 on the fixed validation subset (set aside from the training part: "
                     "the estimator chooses its kept weights on it, and the reported estimates use held-out data "
                     "that took no part in that choice); the training-subset estimate and the validation "
                     "subset's own exact rate (its sampling error) beside it."]
        return {"rows": result["rows"], "pngs": [p.name for p in pngs], "png": pngs[0].name, "notes": notes,
                "fit_seconds": result["fit_seconds"], "_bead_run": run}
    if name == "fig3c":
        result = ratchet.run_fig3c(config.ratchet, cache, seed, tell)
        png = ratchet.draw_fig3c(config.ratchet, result, output / "fig3c.png")
        notes = ["Exact = EP per jump of the embedded jump chain; one trajectory trains, another is held out."]
    else:
        result = ratchet.run_fig3e(config.rneep, cache, seed, tell)
        png = ratchet.draw_fig3e(config.rneep, result, output / "fig3e.png")
        notes = [
            "The 'exact' column is the partial-information limit of window length n (what an ideal RNEEP "
            f"reaches): exact for n <= {ratchet.LARGEST_EXACT_WORD}, a Monte Carlo estimate over sampled words "
            "beyond (unbiased; its standard error in the note of each row, drawn as the dotted line's error "
            "bar). The full-information EP per step is drawn as in the paper and quoted in the notes; no "
            "estimator that sees only the sites can reach it.",
        ]
    return {"rows": result["rows"], "pngs": [png.name], "png": png.name, "notes": notes,
            "fit_seconds": result["fit_seconds"]}
