"""The figures of a run folder: convergence, per-step scatter, cumulative EP, local EP map."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.sets import TrajectorySet
from ..data.trajectories import Trajectories
from ..data.windows import window_sums
from ..estimator import NEEP
from ..plots import (
    mark_baselines,
    mark_estimate,
    plot_convergence,
    plot_cumulative_ep,
    plot_ep_scatter,
    plot_local_ep_map,
    pyplot,
    save_figure,
)
from ..stats.rates import local_ep_rate
from ..stats.references import hides_states
from .summary import unit_of

__all__ = ["MIN_BIN_COUNT", "write_run_figures"]

# Bins of the local EP map visited by fewer transition midpoints than this are left blank:
# with a handful of steps a bin's value is noise (its relative error is about 1/sqrt(count)).
MIN_BIN_COUNT = 20


def _plot_subset(test: Trajectories, max_steps: int = 500_000) -> tuple[np.ndarray, np.ndarray | None]:
    """A prefix of the held-out data (whole trajectories when possible) for the figures.

    A ragged set draws from its largest part (rectangular).
    """
    if isinstance(test, TrajectorySet):
        test = max(test.parts, key=lambda p: p.n_trajectories * p.n_steps)
    m_count, length = test.states.shape[:2]
    if length >= max_steps:
        states = np.asarray(test.states[:1, :max_steps])
        exact = None if test.exact_ep is None else np.asarray(test.exact_ep[:1, : max_steps - 1])
    else:
        count = max(1, min(m_count, max_steps // length))
        states = np.asarray(test.states[:count])
        exact = None if test.exact_ep is None else np.asarray(test.exact_ep[:count])
    return states, exact


def write_run_figures(est: NEEP, folder: str | Path, test: Trajectories | None = None) -> list[str]:
    """Write the figures of a fitted estimator into ``folder``; return their file names.

    ``convergence.png`` (held-out and training-set EP rate against iteration,
    exact value dashed, classical baselines as horizontal lines) always; with the exact per-step EP of ``test``
    (default ``est.test_``, the held-out data of the fit; at most 500,000
    steps of it are drawn) also ``ep_scatter.png``, ``cumulative_ep.png``
    and, for pair models on 2-D continuous states, ``local_ep_map.png``
    (the EP of the transitions whose midpoint falls in a bin, per unit time
    and per unit area of the bin, so the map integrates to the EP rate;
    estimate beside exact on the same bins, equal axes, bins visited by fewer
    than ``MIN_BIN_COUNT`` midpoints left blank).
    """
    folder = Path(folder)
    test = est.test_ if test is None else test
    unit = unit_of(est)
    written = []
    ax = plot_convergence(est.history_, exact=est.ep_rate_exact_, unit=unit, label="validation",
                          title="EP rate during training (validation data) and the final estimate")
    mark_estimate(ax, est.history_, est.ep_rate_interval_)
    mark_baselines(ax, getattr(est, "baselines_", None))
    save_figure(ax, folder / "convergence.png")
    written.append("convergence.png")
    if test is None or test.exact_ep is None or hides_states(getattr(test, "metadata", None)):
        return written  # (hidden states: the ep file is the full process's, not comparable per step)
    states, exact = _plot_subset(test)
    seq_len = est.seq_len_
    estimated = est.predict(states)
    exact_windows = exact if seq_len == 2 else window_sums(exact, seq_len)
    title = ("Per-step EP: estimated vs exact" if seq_len == 2
             else f"EP per window of {seq_len} states: estimated vs exact")
    save_figure(plot_ep_scatter(estimated, exact_windows, title=title), folder / "ep_scatter.png")
    written.append("ep_scatter.png")
    ax = plot_cumulative_ep(estimated, exact_windows, dt=est.dt_ * (seq_len - 1) if est.dt_known_ else 1.0,
                            time_label=None if est.dt_known_ else "step")
    save_figure(ax, folder / "cumulative_ep.png")
    written.append("cumulative_ep.png")
    if seq_len == 2 and not test.discrete and states.ndim == 3 and states.shape[2] == 2:
        sigma_est, x_edges, y_edges = local_ep_rate(states, estimated, est.dt_, bins=40, min_count=MIN_BIN_COUNT)
        sigma_exact, _, _ = local_ep_rate(states, exact, est.dt_, bins=(x_edges, y_edges), min_count=MIN_BIN_COUNT)
        low = float(np.nanmin([np.nanmin(sigma_est), np.nanmin(sigma_exact)]))
        high = float(np.nanmax([np.nanmax(sigma_est), np.nanmax(sigma_exact)]))
        fig, axes = pyplot().subplots(1, 2, figsize=(10, 4.2), layout="constrained")
        plot_local_ep_map(x_edges, y_edges, sigma_est, ax=axes[0], unit=unit, vmin=low, vmax=high,
                          colorbar=False, title="Local EP rate density: NEEP", equal_aspect=True)
        plot_local_ep_map(x_edges, y_edges, sigma_exact, ax=axes[1], unit=unit, vmin=low, vmax=high,
                          title="Local EP rate density: exact EP, same bins", equal_aspect=True)
        fig.suptitle(f"EP of the steps whose midpoint falls in a bin, {unit} and per unit "
                     f"area (sums to the EP rate); bins with < {MIN_BIN_COUNT} steps blank", fontsize=9)
        save_figure(fig, folder / "local_ep_map.png")
        written.append("local_ep_map.png")
    return written
