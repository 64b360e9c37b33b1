"""Figures of an entropy-production fit: convergence, cumulative EP, local maps, scatter.

Every function takes data (NumPy arrays or a training history) and an
optional ``ax``, draws on it (on a new figure when ``ax`` is None) and
returns the axes. None calls ``plt.show()``; save with :func:`save_figure`
or ``ax.figure.savefig``. Matplotlib is imported inside the functions, so
importing this module costs nothing, and the non-interactive ``Agg`` backend
is chosen when there is no display (servers, CI, ``neep fit``).

Units: an EP *rate* is per unit time of the physical process when the time
step ``dt`` is known, else per recorded step; the functions take a ``unit``
(or ``dt``) argument so the axis labels say which. EP itself is in units of
Boltzmann's constant (k_B = 1).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "history_columns",
    "plot_convergence",
    "mark_estimate",
    "mark_baselines",
    "plot_cumulative_ep",
    "plot_local_ep_map",
    "plot_ep_scatter",
    "save_figure",
]


def _pyplot():
    """Import ``matplotlib.pyplot``, choosing ``Agg`` when no display is available."""
    if "matplotlib.pyplot" not in sys.modules and "MPLBACKEND" not in os.environ:
        headless = sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        )
        if headless:
            import matplotlib

            matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _axes(ax: Axes | None, figsize: tuple[float, float] = (6.0, 4.0)) -> Axes:
    if ax is not None:
        return ax
    plt = _pyplot()
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def history_columns(history: Any) -> dict[str, np.ndarray]:
    """Normalise a training history to a dict of equal-length columns.

    Parameters
    ----------
    history
        A list of dicts (``NEEP.history_``: one dict per evaluation), a
        mapping of column name to sequence (e.g. read from ``history.csv``),
        or a NumPy structured array.

    Returns
    -------
    dict of str to numpy.ndarray
        One float64 array per key; keys missing from some rows are NaN there.
    """
    if isinstance(history, np.ndarray) and history.dtype.names:
        return {name: np.asarray(history[name], dtype=np.float64) for name in history.dtype.names}
    if isinstance(history, Mapping):
        columns = {str(k): np.asarray(v, dtype=np.float64).ravel() for k, v in history.items()}
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"history columns must have equal lengths, got {sorted(lengths)}")
        return columns
    rows = list(history)
    keys: list[str] = []
    for row in rows:
        if not isinstance(row, Mapping):
            raise ValueError(f"history rows must be dicts, got {type(row).__name__}")
        keys.extend(k for k in row if k not in keys)
    columns = {}
    for key in keys:
        values = []
        for row in rows:
            value = row.get(key)
            try:
                values.append(float(value) if value is not None else np.nan)
            except (TypeError, ValueError):
                values.append(np.nan)
        columns[key] = np.asarray(values, dtype=np.float64)
    return columns


def _mean_std_by_iteration(
    iterations: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    keep = np.isfinite(values)
    grid = np.unique(iterations[keep])
    mean = np.array([values[keep & (iterations == i)].mean() for i in grid])
    std = np.array([values[keep & (iterations == i)].std() for i in grid])
    return grid, mean, std


def plot_convergence(
    history: Any,
    exact: float | None = None,
    ax: Axes | None = None,
    *,
    unit: str = "per unit time",
    style: str = "auto",
    rate_key: str = "ep_rate",
    train_key: str | None = "train_ep_rate",
    title: str | None = "Held-out EP rate during training",
    label: str = "held-out",
) -> Axes:
    """Held-out EP rate against training iteration (the paper's Fig. 2(d, e)).

    Parameters
    ----------
    history
        The training history (see :func:`history_columns`) with at least the
        columns ``iteration`` and ``rate_key``; an optional ``seed`` column
        separates independently trained networks.
    exact
        The exact EP rate in the same unit, drawn dashed; None when unknown.
    ax
        Axes to draw on; a new figure when None.
    unit
        What the rate is per, for the axis label: ``"per unit time"`` or
        ``"per step"``.
    style
        ``"lines"``: one line per seed; ``"band"``: the mean over seeds with a
        +- one standard deviation band (the paper's shading); ``"auto"``: band
        when there are several seeds, else a line.
    rate_key, train_key
        Columns holding the held-out and the training-set estimates; the
        training-set one is drawn dotted when present (Fig. S2: it can
        diverge while the held-out one converges). ``train_key=None`` hides it.
    title
        Axes title (None for none).
    label
        Legend name of the monitored data (``NEEP`` monitors validation data).

    Returns
    -------
    matplotlib.axes.Axes
    """
    if style not in ("auto", "lines", "band"):
        raise ValueError(f"style must be 'auto', 'lines' or 'band', got {style!r}")
    columns = history_columns(history)
    for key in ("iteration", rate_key):
        if key not in columns:
            raise ValueError(f"history has no {key!r} column (columns: {sorted(columns)})")
    ax = _axes(ax)
    iterations = columns["iteration"]
    seeds = columns.get("seed", np.zeros_like(iterations))
    seeds = np.where(np.isfinite(seeds), seeds, 0)
    unique_seeds = np.unique(seeds)
    band = style == "band" or (style == "auto" and len(unique_seeds) > 1)
    series = [(rate_key, label, "-", "C0")]
    if train_key is not None and train_key in columns and np.isfinite(columns[train_key]).any():
        series.append((train_key, "training set", ":", "C1"))
    for key, label, linestyle, color in series:
        values = columns[key]
        if band:
            grid, mean, std = _mean_std_by_iteration(iterations, values)
            suffix = f" (mean ± std, {len(unique_seeds)} seeds)" if len(unique_seeds) > 1 else ""
            ax.plot(grid, mean, linestyle, color=color, label=label + suffix)
            ax.fill_between(grid, mean - std, mean + std, color=color, alpha=0.25, linewidth=0)
        else:
            for i, seed in enumerate(unique_seeds):
                pick = (seeds == seed) & np.isfinite(values)
                order = np.argsort(iterations[pick], kind="stable")
                name = label if len(unique_seeds) == 1 else f"{label}, seed {int(seed)}"
                ax.plot(
                    iterations[pick][order],
                    values[pick][order],
                    linestyle,
                    color=color if len(unique_seeds) == 1 else f"C{(2 * i + (key != rate_key)) % 10}",
                    label=name,
                )
    if exact is not None and np.isfinite(exact):
        ax.axhline(exact, color="k", linestyle="--", linewidth=1.2, label=f"exact = {exact:.4g}")
    ax.set_xlabel("training iteration")
    ax.set_ylabel(f"EP rate ({unit}) [$k_B$]")
    if title:
        ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    return ax


def mark_estimate(ax: Axes, history: Any, estimate: Any = None) -> Axes:
    """Mark the kept evaluation of each seed (circles) and the final estimate with its interval.

    Also draws the exact rate of the monitored windows when the history has
    it (``ep_rate_exact``): the monitored subset has its own sampling error,
    so that, not the process's value, is what its curve should approach.

    ``history`` with ``kept`` and ``ep_rate`` columns (``NEEP.history_``);
    ``estimate``: an ``uncertainty.Interval`` (value, low, high) on all
    held-out data, drawn as a bar at the right edge. Returns ``ax``.
    """
    columns = history_columns(history)
    if "ep_rate_exact" in columns and np.isfinite(columns["ep_rate_exact"]).any():
        pick = np.isfinite(columns["ep_rate_exact"])
        order = np.argsort(columns["iteration"][pick], kind="stable")
        ax.plot(columns["iteration"][pick][order], columns["ep_rate_exact"][pick][order], ":", color="0.5",
                linewidth=1.0, label="exact on the monitored windows")
    if "kept" in columns and "ep_rate" in columns:
        pick = columns["kept"] > 0
        if pick.any():
            ax.plot(columns["iteration"][pick], columns["ep_rate"][pick], "o", mfc="none", color="C3",
                    label="kept weights (best validation J)")
    if estimate is not None:
        right = float(np.nanmax(columns["iteration"])) if "iteration" in columns else 1.0
        ax.errorbar([right], [estimate.value], yerr=[[estimate.value - estimate.low], [estimate.high - estimate.value]],
                    fmt="s", color="C3", capsize=4,
                    label=f"estimate {estimate.value:.4g} [{estimate.low:.4g}, {estimate.high:.4g}] (95 %, held-out data)")
    ax.legend(loc="best", fontsize="small")
    return ax


def mark_baselines(ax: Axes, baselines: Any) -> Axes:
    """Horizontal lines at classical estimates (``{name: baselines.Baseline}``; or objects with ``value``).

    Dash-dot lines, one colour each, labelled with name, kind and value; the
    rates must be in the unit of the axes. Returns ``ax``.
    """
    styles = ["-.", (0, (5, 2, 1, 2, 1, 2)), (0, (1, 1)), "--"]
    for i, (name, base) in enumerate(dict(baselines or {}).items()):
        kind = getattr(base, "kind", "estimate")
        ax.axhline(float(base.value), color=f"C{(i + 4) % 10}", linestyle=styles[i % len(styles)], linewidth=1.2,
                   label=f"{name.replace('_', ' ')} ({kind}) {float(base.value):.4g}")
    if baselines:
        ax.legend(loc="best", fontsize="small")
    return ax


def _as_2d(per_step: Any, name: str) -> np.ndarray:
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
    estimated = _as_2d(estimated, "estimated")
    exact_2d = None if exact is None else _as_2d(exact, "exact")
    if exact_2d is not None and exact_2d.shape != estimated.shape:
        raise ValueError(
            f"exact must have the shape of estimated {estimated.shape}, got {exact_2d.shape}"
        )
    if trajectory is None and not mean:
        raise ValueError("nothing to draw: trajectory is None and mean is False")
    if trajectory is not None and not -estimated.shape[0] <= trajectory < estimated.shape[0]:
        raise ValueError(f"trajectory must be in [0, {estimated.shape[0]}), got {trajectory}")
    ax = _axes(ax)
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
        integrates to the EP rate (``analysis.local_ep_rate``); NaN (empty or
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
    ax = _axes(ax, figsize=(5.0, 4.0))
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
    ax = _axes(ax, figsize=(4.5, 4.5))
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


def save_figure(target: Axes | Figure | Iterable[Axes], path: str | Path, dpi: int = 120) -> Path:
    """Save the figure holding ``target`` to ``path`` and close it (frees pyplot's memory).

    Parameters
    ----------
    target
        An Axes, a Figure, or a sequence of Axes of one figure.
    path
        File name; the format follows the suffix (``.png``, ``.pdf``, ...).
    dpi
        Resolution of raster formats.

    Returns
    -------
    pathlib.Path
    """
    if isinstance(target, Sequence) or (isinstance(target, np.ndarray)):
        target = np.ravel(target)[0]
    figure = getattr(target, "figure", None) or target
    path = Path(path)
    figure.savefig(path, dpi=dpi)
    plt = _pyplot()
    plt.close(figure)
    return path
