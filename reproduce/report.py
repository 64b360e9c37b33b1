"""The results table: one row per quantity, written as ``results.json`` and ``results.md``.

A row holds the exact value, the paper's reported value where it gives one,
ours (mean and standard deviation over seeds), the estimator's 95 % interval
(held-out block bootstrap combined with the spread over seeds) and whether it
covers the exact value, the estimator's flags, the relative and absolute
errors, the sizes used, the wall time, the bar the issue sets and whether it
is met (None when the issue sets no bar for that quantity).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from neep.estimators.runs.atomic import atomic_text

__all__ = ["make_row", "write_results", "read_results", "markdown_table"]

# Paper's numbers that the text states (per-step R^2 of Fig. 2(d, e)).
PAPER_R2 = {2: 0.9972, 5: 0.9750}


def make_row(
    figure: str,
    quantity: str,
    exact: float | None,
    mean: float,
    std: float,
    *,
    paper: float | None = None,
    bar: str | None = None,
    meets: bool | None = None,
    sizes: str = "",
    seconds: float | None = None,
    note: str = "",
    unit: str = "",
    interval: dict | None = None,
    flags: list[str] | None = None,
    flag_names: list[str] | None = None,
) -> dict[str, Any]:
    """One row of the table; relative error ``(mean - exact) / |exact|`` when ``exact != 0``.

    ``interval``: ``Interval.as_dict()`` of the estimate in the row's unit
    (None for quantities without one, e.g. R^2); ``covers`` is then whether
    ``low <= exact <= high``. ``flags``: the estimator's warning sentences,
    ``flag_names`` the checks that fired (None: not a fitted estimate).
    """
    rel = None
    absolute = None
    covers = None
    if exact is not None and math.isfinite(exact):
        absolute = mean - exact
        if abs(exact) > 1e-12:
            rel = absolute / abs(exact)
        if interval is not None:
            covers = bool(interval["low"] <= exact <= interval["high"])
    return {
        "figure": figure,
        "quantity": quantity,
        "unit": unit,
        "exact": exact,
        "paper": paper,
        "mean": mean,
        "std": std,
        "abs_error": absolute,
        "rel_error": rel,
        "interval": None if interval is None else dict(interval),
        "covers": covers,
        "flags": None if flags is None else list(flags),
        "flag_names": None if flag_names is None else list(flag_names),
        "bar": bar,
        "meets": None if meets is None else bool(meets),
        "sizes": sizes,
        "seconds": seconds,
        "note": note,
    }


def read_results(folder: str | os.PathLike) -> dict[str, Any]:
    """The ``results.json`` of ``folder`` (an empty document when there is none)."""
    path = Path(folder) / "results.json"
    if not path.exists():
        return {"figures": {}}
    return json.loads(path.read_text())


def _fmt(value: Any, digits: int = 4, plain: bool = False) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else ("no" if plain else "**NO**")
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if abs(value) < 1e-15:  # round-off of an exact zero (e.g. Tc = Th)
            return "0"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e4):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}"
    return str(value)


def markdown_table(results: dict[str, Any]) -> str:
    """``results.md``: a header (scale, how it differs from the paper, wall times) and one table per figure."""
    lines = [f"# Reproduction of the NEEP paper ({results.get('scale', '?')} scale)", ""]
    if results.get("command"):
        lines += [f"Made by `{results['command']}`.", ""]
    for note in results.get("notes", []):
        lines.append(f"- {note}")
    lines.append("")
    figures = results.get("figures", {})
    if figures:
        lines += ["The 95 % interval of an estimate is the estimator's own (`NEEP.ep_rate_interval_`: block "
                  "bootstrap over the held-out data, combined with the spread over seeds); 'covers exact' says "
                  "whether it contains the exact value, and 'flags' names the estimator's checks that fired "
                  "(made without the exact value; the sentences follow each table). 'meets' judges the issue's "
                  "bar on the mean.", ""]
        lines += ["Training times come from the cache's records (the run that did the fit); a resumed run's "
                  "wall time only counts what it redid.", ""]
        parallel = results.get("parallel")
        if parallel:
            lines += [f"This run did its {parallel['fits']} fits and {parallel['simulations']} simulations first, in "
                      f"{parallel['jobs']} worker processes of {parallel['threads']} threads ({parallel['seconds']:.0f} s "
                      "wall time); a figure's wall time is then drawing it from the cache.", ""]
        lines += ["| figure | wall time of this run [s] | training time of its fits [s] | rows | bars met "
                  "| 95 % intervals covering the exact value | rows with flags |",
                  "|---|---|---|---|---|---|---|"]
        for name, fig in figures.items():
            rows = fig.get("rows", [])
            judged = [r for r in rows if r.get("meets") is not None]
            met = sum(1 for r in judged if r["meets"])
            with_ci = [r for r in rows if r.get("covers") is not None]
            covered = sum(1 for r in with_ci if r["covers"])
            flagged = sum(1 for r in rows if r.get("flags"))
            lines.append(f"| {name} | {fig.get('seconds', 0):.0f} | {fig.get('fit_seconds', 0):.0f} | {len(rows)} "
                         f"| {met}/{len(judged)} | {covered}/{len(with_ci)} | {flagged} |")
        lines.append("")
    for name, fig in figures.items():
        lines += [f"## {name}: {fig.get('title', '')}", ""]
        if fig.get("png"):
            lines += [f"![{name}]({fig['png']})", ""]
        for note in fig.get("notes", []):
            lines.append(f"- {note}")
        lines += [
            "",
            "| quantity | exact | paper | ours (mean ± std over seeds) | 95 % interval | covers exact | rel. error "
            "| bar | meets | flags | sizes | time [s] | note |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        flagged = []
        for row in fig.get("rows", []):
            ours = f"{_fmt(row['mean'])} ± {_fmt(row['std'], 2)}"
            rel = None if row.get("rel_error") is None else f"{100 * row['rel_error']:+.1f} %"
            ci = row.get("interval")
            names = row.get("flag_names")
            if row.get("flags"):
                flagged.append(row)
            lines.append(
                "| " + " | ".join(cell.replace("|", "\\|") for cell in [
                    row["quantity"] + (f" [{row['unit']}]" if row.get("unit") else ""),
                    _fmt(row["exact"]),
                    _fmt(row["paper"]),
                    ours,
                    "–" if ci is None else f"[{_fmt(ci['low'])}, {_fmt(ci['high'])}]",
                    _fmt(row.get("covers"), plain=True),
                    rel or "–",
                    row.get("bar") or "–",
                    _fmt(row.get("meets")),
                    "–" if names is None else (", ".join(names) or "none"),
                    row.get("sizes", ""),
                    _fmt(row.get("seconds"), 3),
                    row.get("note", ""),
                ]) + " |"
            )
        lines.append("")
        if flagged:
            lines += ["Flags raised by the estimator (its own checks, made without the exact value):", ""]
            for row in flagged:
                lines.append(f"- {row['quantity']}: " + "; ".join(row["flags"]))
            lines.append("")
    return "\n".join(lines)


def write_results(folder: str | os.PathLike, results: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``results.json`` and ``results.md`` into ``folder`` (atomically); return their paths."""
    folder = Path(folder)
    json_path, md_path = folder / "results.json", folder / "results.md"
    atomic_text(json_path, json.dumps(results, indent=1, allow_nan=True))
    atomic_text(md_path, markdown_table(results))
    return json_path, md_path
