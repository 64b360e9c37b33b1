"""Figures of the EP itself: cumulative EP along time, local EP maps, estimated against exact per step.

``plot_cumulative_ep`` (the paper's Fig. 2(b)), ``plot_local_ep_map``
(Fig. 2(c)) and ``plot_ep_scatter`` (the insets of Fig. 2(d, e)). See
``plots`` for the conventions every plotting function follows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .base import axes_or_new

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["as_2d", "plot_cumulative_ep", "plot_local_ep_map", "plot_ep_scatter"]


def as_2d(per_step: Any, name: str) -> np.ndarray:
    array = np.asarray(per_step, dtype=np.float64)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape (M, L-1) or (L-1,), got {array.shape}")
    return array


def plot_cumulative_ep(
    estimated: Any,
    exact: Any = None,
    dt: float = 1.0,
    ax: Axes | None = None,
    *,
    trajectory: int | None = 0,
    mean: bool = True,
    time_label: str | None = None,
    title: str | None = "Cumulative EP",
) -> Axes:
    """Cumulative EP against time along one trajectory and/or the ensemble mean (Fig. 2(b)).

    Parameters
    ----------
    estimated
        Per-step EP, shape ``(M, L-1)`` or ``(L-1,)`` (e.g. ``NEEP.predict``).
    exact
        The exact per-step EP of the same steps, same shape, or None.
    dt
        Time per step; the time axis is ``step * dt``. Must be > 0.
    ax
        Axes to draw on; a new figure when None.
    trajectory
        Index of the trajectory drawn on the main axes, or None for none.
    mean
        Draw the ensemble-averaged cumulative EP: as an inset when a single
        trajectory is drawn too (as in the paper), else on the main axes.
    time_label
        x-axis label; default ``"time τ"``, or ``"step"`` when ``dt == 1``.
    title
        Axes title (None for none).

    Returns
    -------
    matplotlib.axes.Axes
        The main axes (the inset, when drawn, is a child of it).
    """
    if not dt > 0:
        raise ValueError(f"dt must be > 0, got {dt}")
    estimated = as_2d(estimated, "estimated")
    exact_2d = None if exact is None else as_2d(exact, "exact")
    if exact_2d is not None and exact_2d.shape != estimated.shape:
        raise ValueError(
            f"exact must have the shape of estimated {estimated.shape}, got {exact_2d.shape}"
        )
    if trajectory is None and not mean:
        raise ValueError("nothing to draw: trajectory is None and mean is False")
    if trajectory is not None and not -estimated.shape[0] <= trajectory < estimated.shape[0]:
        raise ValueError(f"trajectory must be in [0, {estimated.shape[0]}), got {trajectory}")
    ax = axes_or_new(ax)
    steps = estimated.shape[1]
    time = np.arange(steps + 1) * dt
    xlabel = time_label or ("step" if dt == 1.0 else "time τ")

    def cumulative(per_step: np.ndarray) -> np.ndarray:
        return np.concatenate([np.zeros(per_step.shape[:-1] + (1,)), np.cumsum(per_step, axis=-1)], axis=-1)

    def draw(target: Axes, rows: slice | int, small: bool) -> None:
        est = cumulative(estimated[rows])
        ref = None if exact_2d is None else cumulative(exact_2d[rows])
        if est.ndim == 2:
            est = est.mean(axis=0)
            ref = None if ref is None else ref.mean(axis=0)
        if ref is not None:
            target.plot(time, ref, color="k", linewidth=1.0, label="exact")
        target.plot(time, est, color="C3", linestyle="--" if ref is not None else "-",
                    linewidth=1.2, label="estimated")
        if small:
            target.set_title("ensemble mean", fontsize="small")
            target.tick_params(labelsize="x-small")
        else:
            target.set_xlabel(xlabel)

    if trajectory is not None:
        draw(ax, int(trajectory), small=False)
        ax.set_ylabel(f"cumulative EP $S$ along trajectory {int(trajectory) % estimated.shape[0]} [$k_B$]")
        ax.legend(loc="upper left", fontsize="small")
        if mean and estimated.shape[0] > 1:
            inset = ax.inset_axes((0.6, 0.1, 0.36, 0.36))
            draw(inset, slice(None), small=True)
    else:
        draw(ax, slice(None), small=False)
        ax.set_ylabel(f"ensemble-mean cumulative EP [$k_B$] ({estimated.shape[0]} trajectories)")
        ax.legend(loc="upper left", fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def plot_local_ep_map(
    x_edges: Any,
    y_edges: Any,
    values: Any,
    ax: Axes | None = None,
    *,
    unit: str = "per unit time",
    xlabel: str = "$x_1$",
    ylabel: str = "$x_2$",
    title: str | None = "Local EP rate",
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = "viridis",
    colorbar: bool = True,
    equal_aspect: bool = False,
) -> Axes:
    """Local EP rate over a 2-D grid of states (Fig. 2(c)).

    Parameters
    ----------
    x_edges, y_edges
        Bin edges, lengths ``nx + 1`` and ``ny + 1`` (as from ``numpy.histogram2d``).
    values
        Local EP rate density per bin, shape ``(nx, ny)``, indexed
        ``[ix, iy]``: the EP of the steps whose midpoint falls in the bin,
        per unit time (``unit``) and per unit area, so that the map
        integrates to the EP rate (``stats.rates.local_ep_rate``); NaN (empty or
        rarely visited bins) is left blank.
    ax
        Axes to draw on; a new figure when None.
    unit
        What the rate is per, for the colour-bar label.
    xlabel, ylabel, title
        Labels (title None for none).
    vmin, vmax
        Colour limits; pass the same to an estimated and an exact map to
        compare them.
    cmap
        Matplotlib colour map name.
    colorbar
        Draw a colour bar beside the axes.
    equal_aspect
        Same scale on both axes (square cells for square bins).

    Returns
    -------
    matplotlib.axes.Axes
    """
    x_edges = np.asarray(x_edges, dtype=np.float64)
    y_edges = np.asarray(y_edges, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    expected = (x_edges.size - 1, y_edges.size - 1)
    if x_edges.ndim != 1 or y_edges.ndim != 1 or values.shape != expected:
        raise ValueError(
            f"values must have shape (len(x_edges)-1, len(y_edges)-1) = {expected}, got {values.shape}"
        )
    ax = axes_or_new(ax, figsize=(5.0, 4.0))
    mesh = ax.pcolormesh(
        x_edges, y_edges, np.ma.masked_invalid(values).T, cmap=cmap, vmin=vmin, vmax=vmax, shading="flat"
    )
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, label=f"EP {unit} per unit area [$k_B$]")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if equal_aspect:
        ax.set_aspect("equal", adjustable="box")
    if title:
        ax.set_title(title)
    return ax


def plot_ep_scatter(
    estimated: Any,
    exact: Any,
    ax: Axes | None = None,
    *,
    max_points: int = 20000,
    seed: int = 0,
    title: str | None = "Per-step EP: estimated vs exact",
) -> Axes:
    """Estimated against exact per-step EP, with the fitted line and its R^2 (Fig. 2(d, e) insets).

    The least-squares line ``estimated = a * exact + b`` uses every finite
    pair (float64); its R^2 (the squared correlation, the coefficient of
    determination of that fit, as in the paper) is in the legend. At most
    ``max_points`` points, a fixed random subset, are drawn.

    Parameters
    ----------
    estimated, exact
        Per-step EP of the same steps, any equal shapes.
    ax
        Axes to draw on; a new figure when None.
    max_points
        Most points drawn (the fit uses all of them).
    seed
        Seed of the subset drawn.
    title
        Axes title (None for none).

    Returns
    -------
    matplotlib.axes.Axes
    """
    est = np.asarray(estimated, dtype=np.float64).ravel()
    ref = np.asarray(exact, dtype=np.float64).ravel()
    if est.shape != ref.shape:
        raise ValueError(
            f"estimated and exact must have the same size, got {np.shape(estimated)} and {np.shape(exact)}"
        )
    keep = np.isfinite(est) & np.isfinite(ref)
    est, ref = est[keep], ref[keep]
    if est.size < 2 or np.ptp(ref) == 0:
        raise ValueError(f"need at least 2 distinct exact values to fit a line, got {ref.size} points")
    ax = axes_or_new(ax, figsize=(4.5, 4.5))
    slope, intercept = np.polyfit(ref, est, 1)
    r2 = float(np.corrcoef(ref, est)[0, 1] ** 2)
    shown = np.arange(est.size)
    if est.size > max_points:
        shown = np.sort(np.random.default_rng(seed).choice(est.size, size=max_points, replace=False))
    ax.scatter(ref[shown], est[shown], s=2, alpha=0.3, color="C0", rasterized=True, linewidths=0)
    line = np.array([ref.min(), ref.max()])
    ax.plot(line, line, color="k", linestyle=":", linewidth=1.0, label="y = x")
    ax.plot(
        line,
        slope * line + intercept,
        color="red",
        linewidth=1.5,
        label=f"fit: y = {slope:.3f} x {'-' if intercept < 0 else '+'} {abs(intercept):.2g}, $R^2$ = {r2:.4f}",
    )
    ax.set_xlabel("exact EP per step [$k_B$]")
    ax.set_ylabel("estimated EP per step [$k_B$]")
    if title:
        ax.set_title(title)
    ax.legend(loc="upper left", fontsize="small")
    return ax
