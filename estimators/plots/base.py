"""Matplotlib plumbing of the figures: pyplot imported lazily (``Agg`` without a display), new axes, saving.

``pyplot`` and ``axes_or_new`` are what every plotting function of ``plots``
uses to draw on the axes given, or on a new figure; ``save_figure`` writes a
figure and closes it. Importing this module does not import matplotlib.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["pyplot", "axes_or_new", "save_figure"]


def pyplot():
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


def axes_or_new(ax: Axes | None, figsize: tuple[float, float] = (6.0, 4.0)) -> Axes:
    if ax is not None:
        return ax
    plt = pyplot()
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
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
    plt = pyplot()
    plt.close(figure)
    return path
