"""Drawing the bead-spring figures from :mod:`neep.reproduce.beads` results.

Panels are composed from the public primitives of :mod:`neep.estimators.plots`
(convergence, cumulative EP, local EP map, scatter); only the EP-rate-vs-
parameter panels (Fig. 2a, S1), which have no primitive, are drawn here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["draw_fig2", "draw_figS1", "draw_figS2", "pyplot", "DPI"]

DPI = 100


def pyplot():
    """``matplotlib.pyplot``, with the non-interactive Agg backend when there is no display."""
    import os
    import sys

    if "matplotlib.pyplot" not in sys.modules and not (os.environ.get("DISPLAY") or os.environ.get("MPLBACKEND")):
        import matplotlib

        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _figure(rows: int, cols: int, size: tuple[float, float]):
    plt = pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=size, layout="constrained", squeeze=False)
    return fig, axes


def _yerr(mean, bounds) -> np.ndarray:
    """Asymmetric error bars (2, k) from ``(low, high)`` pairs around ``mean``."""
    mean = np.asarray(mean, dtype=np.float64)
    low = np.array([lo for lo, _ in bounds])
    high = np.array([hi for _, hi in bounds])
    return np.vstack([np.maximum(mean - low, 0.0), np.maximum(high - mean, 0.0)])


def _rate_vs_tc(ax, run, points: dict, intervals: dict, beads: tuple[int, ...]) -> None:
    scale = run.scale
    grid = np.linspace(min(scale.t_colds), scale.t_hot, 60)
    for i, n in enumerate(beads):
        exact = [run.exact_rate(n, t) for t in grid]
        ax.plot(grid / scale.t_hot, exact, color=f"C{i}", linewidth=1.2, label=f"N = {n}, exact")
        tcs = sorted(tc for (m, tc) in points if m == n)
        mean = [points[(n, tc)][0] for tc in tcs]
        ax.errorbar(np.array(tcs) / scale.t_hot, mean, yerr=_yerr(mean, [intervals[(n, tc)] for tc in tcs]),
                    fmt="o", color=f"C{i}", capsize=3, markersize=4,
                    label=f"N = {n}, NEEP {scale.kind} ({scale.seeds} seeds, 95 % interval)")
    ax.set_xlabel("$T_c / T_h$  ($T_h$ = 10)")
    ax.set_ylabel("EP rate $\\dot\\sigma$ [$k_B$ per unit time]")
    ax.set_title("(a) EP rate vs temperature ratio")
    ax.legend(fontsize="small")


def _cumulative(ax, arrays: dict, dt: float, n: int) -> None:
    from neep.estimators.plots import plot_cumulative_ep

    plot_cumulative_ep(arrays["traj_est"][None], arrays["traj_exact"][None], dt, ax, trajectory=0, mean=False,
                       title=f"(b) cumulative EP, one held-out trajectory (N = {n})")
    ax.set_ylabel("cumulative EP $S(\\tau)$ [$k_B$]")
    inset = ax.inset_axes((0.58, 0.1, 0.38, 0.34))
    plot_cumulative_ep(arrays["mean_est"][None], arrays["mean_exact"][None], dt, inset, trajectory=None,
                       mean=True, title=None)
    inset.set_title("ensemble mean $\\sigma(\\tau)$", fontsize="x-small")
    inset.set_ylabel("")
    inset.set_xlabel("")
    inset.tick_params(labelsize="x-small")
    legend = inset.get_legend()
    if legend is not None:
        legend.remove()


def _maps(ax_top, ax_bottom, run, arrays: dict, t_cold: float) -> None:
    from neep.estimators.plots import plot_local_ep_map

    xe, ye, est = arrays["map_x"], arrays["map_y"], arrays["map_est"]
    cx, cy = 0.5 * (xe[1:] + xe[:-1]), 0.5 * (ye[1:] + ye[:-1])
    points = np.stack(np.meshgrid(cx, cy, indexing="ij"), axis=-1)
    exact = run.model(2, t_cold).local_ep_rate(points)
    top = float(max(np.nanmax(exact), np.nanpercentile(est, 99.5)))
    plot_local_ep_map(xe, ye, est, ax_top, title="(c) local EP rate, NEEP (Eq. S10)", vmin=0, vmax=top)
    plot_local_ep_map(xe, ye, exact, ax_bottom, title="(c) local EP rate, exact (Eq. S7 integrand)", vmin=0, vmax=top)


def _convergence(ax, doc: dict, arrays: dict, exact: float, label: str) -> None:
    from types import SimpleNamespace

    from neep.estimators import r_squared
    from neep.estimators.plots import mark_estimate, plot_convergence, plot_ep_scatter

    # During training the estimator monitors validation data set aside from the training part (a subset
    # with its own sampling error, whose exact rate is drawn dotted); the estimate is on all held-out data.
    plot_convergence(doc["history"], exact, ax, unit="per unit time", train_key=None, label="validation subset",
                     title=f"{label}: EP rate during training, and the estimate")
    mark_estimate(ax, [h for h in doc["history"] if h["seed"] == 0], SimpleNamespace(**doc["interval"]))
    values = [h["ep_rate"] for h in doc["history"]]
    ax.set_ylim(min(0.0, min(values)), max(1.6 * exact, max(values) * 1.05))
    ax.legend(loc="upper left", fontsize="x-small")
    start = "start: linear current" if doc.get("kind") == "current" else "before training"
    pairs = [("untrained", "untrained_exact", start), ("traj_est", "traj_exact", "after training")]
    for k, (est_key, exact_key, title) in enumerate(pairs):
        if est_key not in arrays:
            continue
        est, ref = arrays[est_key].ravel(), arrays[exact_key].ravel()[: arrays[est_key].size]
        inset = ax.inset_axes((0.27 + 0.39 * k, 0.1, 0.31, 0.34))
        try:
            plot_ep_scatter(est, ref, inset, max_points=3000, title=None)
        except ValueError:
            continue
        legend = inset.get_legend()
        if legend is not None:
            legend.remove()
        inset.set_title(f"{title}, $R^2$ = {r_squared(est, ref):.3f}", fontsize="x-small")
        inset.set_xlabel("exact $\\Delta S$", fontsize="x-small")
        inset.set_ylabel("NEEP $\\Delta S_\\theta$" if k == 0 else "", fontsize="x-small")
        inset.tick_params(labelsize="xx-small")


def draw_fig2(run, result: dict[str, Any], path: Path) -> Path:
    """Fig. 2 as one PNG: (a) rate vs Tc/Th, (b) cumulative EP, (c) local maps, (d, e) convergence."""
    from neep.estimators.plots import save_figure

    scale = run.scale
    fig, axes = _figure(2, 3, (16, 9.5))
    _rate_vs_tc(axes[0, 0], run, result["points"], result["intervals"], scale.beads)
    details = result["details"]
    tc = min(scale.t_colds)
    first = min(details) if details else None
    if first is not None:
        doc, arrays = details[first]
        _cumulative(axes[0, 1], arrays, doc["dt"], first)
    if 2 in details and "map_est" in details[2][1]:
        _maps(axes[0, 2], axes[1, 2], run, details[2][1], tc)
    else:
        axes[0, 2].set_axis_off()
        axes[1, 2].set_axis_off()
    for ax, n, letter in ((axes[1, 0], 2, "(d) N = 2"), (axes[1, 1], 5, "(e) N = 5")):
        if n in details:
            _convergence(ax, details[n][0], details[n][1], run.exact_rate(n, tc), letter)
        else:
            ax.set_axis_off()
    fig.suptitle(f"Fig. 2: NEEP on the bead-spring model (Tc = {tc:g}, Th = {scale.t_hot:g} in b-e; "
                 f"held-out data; {scale.trajectories} x {scale.steps} steps)")
    return save_figure(fig, path, dpi=DPI)


def draw_figS1(run, result: dict[str, Any], path: Path) -> Path:
    """Fig. S1: held-out EP rate against trajectory length L, one panel per N."""
    from neep.estimators.plots import save_figure

    scale = run.scale
    fig, axes = _figure(1, len(scale.beads), (5.5 * len(scale.beads), 4.2))
    tc = min(scale.t_colds)
    for ax, n, letter in zip(axes[0], scale.beads, "abcdef"):
        lengths = sorted(length for (m, length) in result["points"] if m == n)
        mean = [result["points"][(n, length)][0] for length in lengths]
        exact = run.exact_rate(n, tc)
        ax.axhline(exact, color="k", linewidth=1.2, label=f"exact = {exact:.4g}")
        ax.errorbar(lengths, mean, yerr=_yerr(mean, [result["intervals"][(n, length)] for length in lengths]),
                    fmt="o-", capsize=3, color="C0",
                    label=f"NEEP {scale.kind}, held-out ({scale.seeds} seeds, 95 % interval)")
        ax.set_xlabel("trajectory length L [steps]")
        ax.set_ylabel("EP rate [$k_B$ per unit time]")
        ax.set_title(f"({letter}) N = {n}, Tc = {tc:g}")
        ax.legend(fontsize="small")
    fig.suptitle(f"Fig. S1: held-out estimate vs trajectory length ({scale.trajectories} trajectories)")
    return save_figure(fig, path, dpi=DPI)


def draw_figS2(run, result: dict[str, Any], path: Path, n: int) -> Path:
    """Fig. S2 for N beads: rows Tc, columns L; training-set (dotted) vs held-out estimate."""
    from neep.estimators.plots import plot_convergence, save_figure

    scale = run.scale
    tcs, lengths = scale.t_colds_s2, scale.lengths_s2
    fig, axes = _figure(len(tcs), len(lengths), (4.6 * len(lengths), 3.3 * len(tcs)))
    for i, tc in enumerate(tcs):
        for j, length in enumerate(lengths):
            history, exact = result["panels"][(n, tc, length)]
            ax = axes[i, j]
            plot_convergence(history, exact, ax, unit="per unit time", train_key="train_ep_rate",
                             label="validation subset", title=f"Tc = {tc:g}, L = {length}")
            if (i, j) != (0, 0):
                ax.get_legend().remove()
            if i < len(tcs) - 1:
                ax.set_xlabel("")
            if j > 0:
                ax.set_ylabel("")
    fig.suptitle(f"Fig. S2{'ab'[scale.beads.index(n)] if n in scale.beads[:2] else ''}: N = {n}: "
                 "training subset (dotted) vs validation subset (solid, set aside from training) EP rate "
                 "[$k_B$ per unit time], one seed")
    return save_figure(fig, path, dpi=DPI)
