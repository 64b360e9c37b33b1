"""The exact values of held-out data that a fit is compared with, each with one meaning.

``exact_values(test, seq_len, dt)`` returns them as one ``ExactValues``:

* ``ep_per_step`` and ``ep_rate``, the target: the simulated process's
  value per step (the sidecar's ``ep_per_step_exact``, for the bead chain
  the Euler-Maruyama chain's own), else the mean of the exact EP of the
  held-out data, else None; for data with hidden states the
  partial-information limit of windows of ``seq_len`` states
  (``stats.references``), the full process's value then kept in
  ``full_information`` (an upper bound, not a target);
* ``reference``: which of these the target is;
* ``held_out``: the slope estimator applied to the exact EP of the
  held-out data itself;
* ``windows``: that exact EP summed over the model's windows (for R^2),
  None when unknown or when the states hide part of the process.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..data.sets import flat, map_parts
from ..data.trajectories import Trajectories
from ..data.windows import window_sums
from .rates import rate_per_entry
from .references import hides_states, partial_reference

__all__ = ["ExactValues", "exact_values"]


@dataclasses.dataclass(frozen=True)
class ExactValues:
    """The exact values a fit on held-out data is compared with (``exact_values``; see the module doc).

    Attributes
    ----------
    windows : numpy.ndarray, tuple of numpy.ndarray or None
        The exact EP summed over the model's windows (for R^2); None when
        unknown or when the states hide part of the process.
    ep_per_step, ep_rate : float or None
        The target: what a perfect estimator on these data converges to,
        per step and per unit time.
    full_information : float or None
        Hidden states: the full process's rate (an upper bound, not a target).
    reference : str or None
        Which value the target is ("process", or the partial-information limit).
    held_out : float or None
        The slope estimator applied to the exact EP of the held-out data itself.
    """

    windows: Any = None
    ep_per_step: float | None = None
    ep_rate: float | None = None
    full_information: float | None = None
    reference: str | None = "process"
    held_out: float | None = None


def exact_values(test: Trajectories, seq_len: int, dt: float) -> ExactValues:
    """The exact values of the held-out data ``test``.

    Parameters
    ----------
    test : Trajectories
        The held-out data (its exact EP, sidecar value and metadata, if any).
    seq_len : int
        The model's window length.
    dt : float
        Time per step (rates are per unit time).

    Returns
    -------
    ExactValues
    """
    windows = None if test.exact_ep is None else map_parts(lambda e: window_sums(e, seq_len), test.exact_ep)
    # The ensemble value of the simulated process per step (the sidecar's), else unknown.
    per_step = test.ep_per_step_exact
    rate = None if test.ep_per_step_exact is None else test.ep_per_step_exact / dt
    # Hidden states: the sidecar's value (and its ep file) are the full process's, an upper
    # bound; the target is the partial-information limit of windows of seq_len states.
    metadata = getattr(test, "metadata", None) or {}
    full_information = None
    reference = "process"
    if hides_states(metadata):
        full_information = rate
        limit = partial_reference(metadata, seq_len)
        per_step = limit
        rate = None if limit is None else limit / dt
        reference = None if limit is None else f"partial-information limit, windows of {seq_len}"
        windows = None
    # The same slope estimator applied to the exact EP of the held-out data itself.
    held_out = None
    if windows is not None:
        held_out = rate_per_entry(windows) / (seq_len - 1) / dt
        if rate is None:
            rate = float(np.mean(flat(test.exact_ep).astype(np.float64))) / dt
            per_step = rate * dt
    return ExactValues(windows=windows, ep_per_step=per_step, ep_rate=rate, full_information=full_information,
                       reference=reference, held_out=held_out)
