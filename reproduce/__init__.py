"""Regenerate the paper's figures and table, from simulation to plot.

The only subpackage that uses both :mod:`neep.simulators` and
:mod:`neep.estimators`; it goes through their public APIs alone.

    >>> from neep.reproduce import reproduce
    >>> results = reproduce(["fig3c"], scale="quick", output="paper")  # doctest: +SKIP

Modules: ``config`` (scales: tiny, quick, paper), ``cache`` (finished work
keyed by parameters), ``fitting`` (cached simulations and fits), ``beads``
and ``beads_plots`` (Fig. 2, S1, S2), ``ratchet`` (Fig. 3c, 3e), ``report``
(results.json / results.md), ``runner`` (``reproduce``). Importing this
package is cheap: TensorFlow loads only when a fit runs.
"""

from .config import SCALES, BeadScale, FitConfig, RatchetScale, RneepScale, Scale, get_scale
from .report import markdown_table, read_results, write_results
from .runner import FIGURES, reproduce

__all__ = [
    "reproduce",
    "FIGURES",
    "SCALES",
    "get_scale",
    "Scale",
    "BeadScale",
    "RatchetScale",
    "RneepScale",
    "FitConfig",
    "read_results",
    "write_results",
    "markdown_table",
]
