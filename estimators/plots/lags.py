"""The EP rate against the frame interval, with its extrapolation to lag 0 (``neep fit --lags``)."""

from __future__ import annotations

import numpy as np

from ..stats.lags import LagExtrapolation
from .base import axes_or_new

__all__ = ["plot_rate_against_lag"]


def plot_rate_against_lag(tau, rates, stderr, extrapolation: LagExtrapolation, *, exact: float | None = None,
                          unit: str = "per unit time", ax=None):
    """Rates (95 % bars) against the frame interval ``tau``, the fitted polynomial and its value at 0.

    Parameters
    ----------
    tau, rates, stderr : array (n,)
        Frame intervals, rates and their standard errors.
    extrapolation : stats.lags.LagExtrapolation
    exact : float, optional
        The continuous process's rate, drawn as a line when known.
    unit : str
        The rates' unit, for the axis label.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = axes_or_new(ax)
    tau, rates, stderr = (np.asarray(v, dtype=np.float64) for v in (tau, rates, stderr))
    ax.errorbar(tau, rates, yerr=1.96 * stderr, fmt="o", color="C0", capsize=3, label="measured at each lag")
    grid = np.linspace(0.0, float(tau.max()), 100)
    curve = sum(c * grid**i for i, c in enumerate(extrapolation.coefficients))
    kind = "quadratic" if extrapolation.degree == 2 else "linear"
    ax.plot(grid, curve, color="C0", alpha=0.6, label=f"{kind} fit in the lag")
    ax.errorbar([0.0], [extrapolation.value], yerr=[1.96 * extrapolation.stderr], fmt="s", color="C3", capsize=3,
                label=f"extrapolated to 0: {extrapolation.value:.4g} ± {extrapolation.stderr:.2g}")
    if exact is not None:
        ax.axhline(exact, color="k", linestyle="--", linewidth=1, label=f"exact (continuous) {exact:.4g}")
    ax.set_xlabel("frame interval" if unit == "per unit time" else "frame interval (steps)")
    ax.set_ylabel(f"EP rate ({unit})")
    ax.set_xlim(left=-0.05 * float(tau.max()))
    ax.legend(fontsize=8)
    return ax
