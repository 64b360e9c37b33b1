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

The functions live in three modules, all importable from here:
``plots.training`` (the training history: ``history_columns``,
``plot_convergence``, ``mark_estimate``, ``mark_baselines``), ``plots.ep``
(the EP itself: ``plot_cumulative_ep``, ``plot_local_ep_map``,
``plot_ep_scatter``) and ``plots.base`` (``save_figure``, the lazy ``pyplot`` and
``axes_or_new``). They read ``data`` and ``stats`` only (no Keras).
"""

from .base import axes_or_new, pyplot, save_figure
from .ep import as_2d, plot_cumulative_ep, plot_ep_scatter, plot_local_ep_map
from .training import (
    history_columns,
    mark_baselines,
    mark_estimate,
    mean_std_by_iteration,
    plot_convergence,
)

__all__ = [
    "history_columns",
    "mean_std_by_iteration",
    "plot_convergence",
    "mark_estimate",
    "mark_baselines",
    "as_2d",
    "plot_cumulative_ep",
    "plot_local_ep_map",
    "plot_ep_scatter",
    "axes_or_new",
    "pyplot",
    "save_figure",
]
