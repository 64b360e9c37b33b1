"""Figures of a training history: the held-out EP rate against iteration, the kept weights, classical lines.

``history_columns`` normalises a history (``NEEP.history_``, a CSV's
columns, a structured array) to columns; ``plot_convergence`` draws the
estimate during training (the paper's Fig. 2(d, e)); ``mark_estimate`` and
``mark_baselines`` add the kept evaluations, the final estimate with its
interval, and classical estimates to those axes. See ``plots`` for the
conventions every plotting function follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .base import axes_or_new

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["history_columns", "mean_std_by_iteration", "plot_convergence", "mark_estimate", "mark_baselines"]


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


def mean_std_by_iteration(
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
    ax = axes_or_new(ax)
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
            grid, mean, std = mean_std_by_iteration(iterations, values)
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
    ``estimate``: an ``stats.uncertainty.Interval`` (value, low, high) on all
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
