"""From per-step EP estimates to rates, R^2 and local EP maps (float64 throughout).

* ``ep_rate_from_cumulative``: the paper's EP rate, the slope of the
  ensemble-averaged cumulative EP against time, by least squares (with an
  intercept) on the points ``(k dt, mean_m S_m(k))``, ``k = 0..K``, where
  ``S_m(k)`` is the sum of the first ``k`` entries of trajectory m. The slope
  is linear in the entries: with ``d_j`` the ensemble mean of entry j,
  ``slope = 6 sum_j d_j (j+1)(K-j) / (K(K+1)(K+2))`` per entry (parabolic
  weights summing to 1), so it is computed in chunks without forming the
  cumulative sums. For stationary data its expectation is the mean EP per
  entry.
* ``r_squared``: coefficient of determination of the least-squares line of
  estimate against exact per-step EP (squared Pearson correlation), as in the
  paper's insets (R^2 = 0.9972 for 2 beads).
* ``local_ep_rate``: Eq. S10, the EP estimates binned at the midpoints of
  transitions on a 2-D grid, as a density per unit time and area.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .uncertainty import block_statistics

__all__ = ["ep_rate_from_cumulative", "r_squared", "local_ep_rate", "rate_per_entry"]

_CHUNK = 1 << 22


def ep_rate_from_cumulative(delta_s: np.ndarray, dt: float = 1.0) -> float:
    """EP rate: slope of the ensemble-averaged cumulative EP vs time, divided by ``dt``.

    Parameters
    ----------
    delta_s : array (M, K) or (K,)
        EP of consecutive entries (steps, or tiling windows) of M trajectories.
    dt : float
        Time per entry (for windows of n states tiling with stride n-1:
        ``(n - 1) * dt``). With ``dt = 1`` the result is per entry.
    """
    if not dt > 0:
        raise ValueError(f"dt must be > 0, got {dt!r}")
    d = np.asarray(delta_s) if not isinstance(delta_s, np.memmap) else delta_s
    if d.ndim == 1:
        d = d[None, :]
    if d.ndim != 2 or d.shape[1] < 1 or d.shape[0] < 1:
        raise ValueError(f"delta_s must have shape (M, K) with K >= 1, got {np.shape(delta_s)}")
    k_total = d.shape[1]
    rows = max(1, _CHUNK // d.shape[0])
    acc = 0.0
    for begin in range(0, k_total, rows):
        block = np.asarray(d[:, begin : begin + rows], dtype=np.float64).mean(axis=0)
        j = np.arange(begin, begin + block.size, dtype=np.float64)
        acc += float(np.dot(block, (j + 1.0) * (k_total - j)))
    slope = 6.0 * acc / (k_total * (k_total + 1.0) * (k_total + 2.0))
    return slope / dt


def r_squared(estimated: np.ndarray, exact: np.ndarray) -> float:
    """R^2 of the least-squares line of ``estimated`` on ``exact`` (squared correlation).

    NaN when either input is constant.
    """
    a = np.asarray(estimated, dtype=np.float64).ravel()
    b = np.asarray(exact, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"estimated and exact must have the same size, got {a.size} and {b.size}")
    if a.size < 2:
        raise ValueError(f"need at least 2 values for R^2, got {a.size}")
    a = a - a.mean()
    b = b - b.mean()
    denom = float(np.dot(a, a) * np.dot(b, b))
    if denom == 0:
        return float("nan")
    return float(np.dot(a, b) ** 2 / denom)


def local_ep_rate(
    states: np.ndarray,
    delta_s: np.ndarray,
    dt: float = 1.0,
    bins: int | tuple = 50,
    dims: tuple[int, int] = (0, 1),
    range_: tuple | None = None,
    min_count: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local EP rate map (Eq. S10) on a 2-D grid of transition midpoints.

    ``sigma(x) = 1 / (M L dt) * sum_{m,t} delta(x - (x_t + x_{t+1}) / 2) dS_t``,
    estimated per grid cell as the sum of ``dS`` over midpoints in the cell
    divided by ``M * (L - 1) * dt * cell area``; it integrates to the EP rate.

    Parameters
    ----------
    states : array (M, L, d) or (L, d)
        Continuous states, ``d >= 2``.
    delta_s : array (M, L-1) or (L-1,)
        Per-step EP estimates (or exact values) of those states.
    dt : float
        Time per step.
    bins : int or (edges_x, edges_y) or (nx, ny)
        Passed to ``np.histogram2d``.
    dims : (int, int)
        The two coordinates of the map.
    range_ : ((xmin, xmax), (ymin, ymax)), optional
        Grid extent; default: the 0.5 and 99.5 percentiles of the midpoints.
    min_count : int
        Cells holding fewer midpoints than this are NaN (too few steps for a
        value: its relative error is about ``1 / sqrt(count)``); 1 blanks
        keeps every cell (empty ones hold 0).

    Returns
    -------
    sigma, x_edges, y_edges : arrays
        ``sigma`` has shape ``(nx, ny)``, cell ``[i, j]`` between
        ``x_edges[i:i+2]`` and ``y_edges[j:j+2]``.
    """
    x = np.asarray(states)
    if x.ndim == 2:
        x = x[None]
    d = np.asarray(delta_s, dtype=np.float64)
    if d.ndim == 1:
        d = d[None]
    if x.ndim != 3 or x.shape[2] < 2:
        raise ValueError(f"states must have shape (M, L, d) with d >= 2, got {np.shape(states)}")
    if d.shape != (x.shape[0], x.shape[1] - 1):
        raise ValueError(f"delta_s must have shape {(x.shape[0], x.shape[1] - 1)}, got {d.shape}")
    if not dt > 0:
        raise ValueError(f"dt must be > 0, got {dt!r}")
    i, j = dims
    mid = 0.5 * (x[:, :-1, [i, j]] + x[:, 1:, [i, j]]).astype(np.float64)
    mid = mid.reshape(-1, 2)
    if range_ is None:
        lo = np.percentile(mid, 0.5, axis=0)
        hi = np.percentile(mid, 99.5, axis=0)
        range_ = ((lo[0], hi[0]), (lo[1], hi[1]))
    total, x_edges, y_edges = np.histogram2d(mid[:, 0], mid[:, 1], bins=bins, range=range_, weights=d.ravel())
    area = np.outer(np.diff(x_edges), np.diff(y_edges))
    sigma = total / (d.size * dt * area)
    if min_count > 1:
        count, _, _ = np.histogram2d(mid[:, 0], mid[:, 1], bins=(x_edges, y_edges))
        sigma = np.where(count >= min_count, sigma, np.nan)
    return sigma, x_edges, y_edges


def rate_per_entry(delta_s: Any) -> float:
    """The EP rate per entry (step or window): slope estimator, trajectories weighted by length."""
    if not isinstance(delta_s, tuple):
        return ep_rate_from_cumulative(delta_s, 1.0)
    return float(block_statistics(delta_s).statistics()["rate"][0])
