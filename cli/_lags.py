"""``neep fit --lags``: parse the lags, measure and extrapolate them, print the lines (``runs.lags``)."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from ._common import user_errors

__all__ = ["parse_lags_option", "run_lags", "format_lags", "NOISY_LAGS"]

#: With the noise corrected, a note when it is at least this share of the rms step at lag 1
#: (the robust current's residual grows as its square; benchmarks/RESULTS-estimators.md, session 10).
NOISY_LAGS = 0.3


def parse_lags_option(text: str, data) -> tuple[int, ...]:
    """``--lags`` as sorted lags (``click.BadParameter``, one line, when it cannot be read)."""
    from neep.estimators.stats.lags import parse_lags

    try:
        return parse_lags(text, int(np.min(data.lengths)))
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--lags") from None


def run_lags(data, output: Path, lags, method: str, seed: int, degree: int, options: dict) -> str:
    """``--lags``: the rates at each lag and the extrapolation, added to the run folder; the lines to print."""
    from neep.estimators.runs.lags import fit_lags, write_lags

    network = ({k: v for k, v in options.items() if k not in ("seed", "data_check", "noise")}
               if method == "network" else {})
    with user_errors():
        result = fit_lags(data, lags, method=method, seed=seed, degree=degree, noise=options.get("noise", "auto"),
                          **network)
        write_lags(output, result)
    return format_lags(result.as_dict(), "per unit time" if result.dt_known else "per step")


def format_lags(lags: dict, unit: str) -> str:
    """The lines ``neep fit --lags`` prints from ``summary.json["lags"]``."""
    # the velocity model's choice at the first lag, used at every lag (None for discrete states: the plug-in KL)
    what = (f"closed form: {lags['closed_form'].replace('_', ' ')}" if lags.get("closed_form")
            else {"current": "closed-form current", "velocity": "closed-form velocity current"}.get(lags["method"],
                                                                                                  "network"))
    rows = "; ".join(f"{r['lag']} ({r['tau']:.3g}): {r['rate']:.4g} ± {r['stderr']:.2g}" for r in lags["rows"])
    ex = lags["extrapolation"]
    kind = "quadratic" if ex["degree"] == 2 else "linear"
    noise = lags.get("noise") or {}
    if noise.get("corrected"):
        shares = ", ".join(f"{100 * r:.0f} %" for r in noise["ratio_to_step"])
        what += f", corrected for localization noise of {shares} of the step"
    lines = [f"lags         rate at lag k (frame interval): {rows} {unit} ({what} per lag)",
             f"lag -> 0     {ex['value']:.5g} ± {ex['stderr']:.2g} {unit} (95 % interval {ex['low']:.5g} .. "
             f"{ex['high']:.5g}; {kind} fit in the lag): the continuous-time rate; the per-step value at a "
             "coarse frame interval is a lower bound on it"]
    if noise.get("corrected") and max(noise["ratio_to_step"]) >= NOISY_LAGS:
        lines.append(f"             note: the noise is {100 * max(noise['ratio_to_step']):.0f} % of the step at lag 1; "
                     "the robust current's residual, of second order in it, is largest there and the extrapolation "
                     "amplifies it (2-bead chain, noise 15 % and 45 % of its rms step: +0.6 % and +4.7 %; "
                     "from lags 2, 4, 8 +1.7 %)")
    if lags.get("note"):
        lines.append(f"             note: {lags['note']}")
    if lags.get("ep_rate_exact") is not None:
        lines.append(f"             exact (continuous process) {lags['ep_rate_exact']:.5g}: "
                     f"{lags['relative_error']:+.2%}")
    return "\n".join(lines)
