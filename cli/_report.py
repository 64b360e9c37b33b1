"""What ``neep fit`` prints after a fit: the summary's numbers, checks and warnings, one per line."""

from __future__ import annotations

import math
from pathlib import Path

from ._odd import odd_lines

__all__ = ["format_summary"]


def _noise_done(noise: dict) -> str:
    """What the fit did about the noise, in a few words."""
    robust = noise["correction"] == "robust"
    if noise.get("network_corrected"):
        return "network trained against it" + (", robust current fitted" if robust else "")
    return "robust current fitted" if robust else "no correction"


def _number(value, spec: str) -> str:
    """``value`` formatted by ``spec``, or ``n/a`` where it is None or not finite."""
    return "n/a" if value is None or not math.isfinite(value) else format(value, spec)


def _not_judged(message: str) -> bool:
    """Whether a diagnostic's message says it could not judge (too few evaluations, nothing to compare)."""
    return message.startswith(("too few", "no classical", "data check skipped", "no training"))


def format_summary(summary: dict, output: Path, seconds: float) -> str:
    unit = summary["rate_unit"]
    seeds = summary["seeds"]
    low, high = summary["ep_rate_interval"]
    spread = f"{seeds} seeds" if seeds > 1 else "1 seed"
    lines = []
    if summary.get("labels") is not None:
        from neep.estimators.data.labels import describe_labels

        lines.append(f"states       {describe_labels(summary['labels'])} (code k of the network is the k-th)")
    if summary.get("jump_data"):
        lines.append(f"jump data    each step is a jump; dt {summary['dt']:.5g} is the mean waiting time, so the "
                     "rate per unit time assumes a stationary Markov jump process")
    lines += [f"EP rate      {summary['ep_rate']:.5g} ± {summary['ep_rate_stderr']:.2g} {unit} "
             f"(95 % interval {low:.5g} .. {high:.5g}: held-out sampling, training-data error, {spread})"]
    exact = summary["ep_rate_target"]
    full = summary.get("ep_rate_full_information")
    if full is not None and exact is None:
        lines.append(f"exact        unknown for these data: the states are partly hidden; the full process's "
                     f"{full:.5g} {unit} is an upper bound")
    elif full is not None:
        lines.append(f"limit        {exact:.5g} {unit} (the {summary['exact_reference']}: the most these "
                     f"observations can reveal; the full process, hidden states included: {full:.5g})")
        inside = "inside" if summary["interval_covers_target"] else "OUTSIDE"
        lines.append(f"rel. error   {summary['relative_error']:+.2%} vs the limit (it is {inside} the interval)")
    elif exact is not None:
        line = f"exact        {exact:.5g} {unit} (the process)"
        if summary["ep_rate_exact_held_out"] is not None:
            line += f"; {summary['ep_rate_exact_held_out']:.5g} on the held-out data itself"
        lines.append(line)
        inside = "inside" if summary["interval_covers_target"] else "OUTSIDE"
        lines.append(f"rel. error   {summary['relative_error']:+.2%} (exact is {inside} the interval)")
    else:
        lines.append("exact        unknown (no exact EP beside the data)")
    lines += odd_lines(summary)
    if summary["r2"] is not None:
        lines.append(f"R^2          {summary['r2']:.4f} (per-step estimate vs exact EP)")
    lines.append(f"lower bounds 1+J {summary['lower_bound_j']:.5g} ± {summary['lower_bound_j_stderr']:.2g}, "
                 f"DV {summary['lower_bound_dv']:.5g} ± {summary['lower_bound_dv_stderr']:.2g} {unit}")
    for name, base in summary.get("baselines", {}).items():
        checked = "; checked against the network" if base.get("checked") else ""
        if base.get("sampled") is False:
            checked = "; undersampled: words seen about once each, not a check"
        lines.append(f"baseline     {name.replace('_', ' ')} ({base.get('kind', 'estimate')}{checked}) "
                     f"{base['value']:.5g} ± {base['stderr']:.2g} {unit}")
    noise = summary.get("noise")
    if noise is not None:
        # None where a coordinate does not move (a constant column: no increments to measure noise on)
        parts = ", ".join(f"{_number(s, '.3g')} ± {_number(e, '.1g')} "
                          f"({_number(None if r is None else 100 * r, '.0f')} % of the step)"
                          for s, e, r in zip(noise["std"], noise["std_stderr"], noise["ratio_to_step"]))
        lines.append(f"noise        localization std per coordinate {parts}: "
                     f"{'significant' if noise['significant'] else 'not significant'}; "
                     f"{_noise_done(noise)} (--noise {noise['mode']})")
    start = summary.get("start") or {}
    if start.get("gain_sigmas") is not None:
        lead = f"validation J {start['gain_sigmas']:+.1f} paired errors against the linear current"
        lines.append(f"start        {start['start'].replace('_', ' ')} (the cubic closed form's {lead})")
    kept = ", ".join(f"seed {k['seed'] + 1} iteration {k['iteration']}" for k in summary.get("kept", []))
    if kept:
        trained = summary.get("iterations_trained") or []
        stop = ""
        if summary.get("patience") and trained and max(trained) < summary["iterations"]:
            stop = (f"; trained {', '.join(str(t) for t in trained)} steps, stopped after {summary['patience']} "
                    "evaluations without a better validation J")
        how = "best validation J" if summary.get("restore_best", True) else "the last moving-average weights"
        if summary.get("restore_best", True) and not all(k.get("best", True) for k in summary.get("kept", [])):
            how = "the last evaluation within 2 paired errors of the best validation J, after the learning-rate drop"
        lines.append(f"kept         {kept} ({how}; the rate above is measured on other data{stop})")
    # Findings inside the interval: said, not warned about (the interval holds them).
    lines.extend(f"note         {d['message']}" for d in summary.get("diagnostics") or [] if d.get("note"))
    flags = summary.get("flags") or []
    if flags:
        lines.extend(f"WARNING      {flag}" for flag in flags)
    else:
        # Name what was judged, and what could not be (too few evaluations, no data check...).
        diagnostics = summary.get("diagnostics") or []
        judged = [d["name"] for d in diagnostics if d["name"] != "blocks" and not _not_judged(d["message"])]
        skipped = [d["name"] for d in diagnostics if d["name"] != "blocks" and _not_judged(d["message"])]
        if not summary.get("data_check", True):
            skipped.append("data (--no-data-check)")
        line = f"checks       no warning ({', '.join(judged) or 'nothing could be judged'})"
        if skipped:
            line += f"; not judged: {', '.join(skipped)}"
        lines.append(line)
    files = ", ".join(["model.keras", "history.csv", "summary.json"] + summary.get("figures", []))
    lines.append(f"wrote        {output}/ ({files}) in {seconds:.0f} s")
    return "\n".join(lines)
