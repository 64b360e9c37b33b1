"""Regenerate the paper's figures and table, from simulation to plot.

The only subpackage that uses both :mod:`neep.simulators` and
:mod:`neep.estimators`; it goes through their public APIs alone.
"""

__all__: list[str] = []
