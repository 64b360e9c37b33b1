"""The exact values of held-out data that a fit is compared with, each with one meaning.

``exact_values(test, seq_len, dt)`` returns the ``NEEP`` attributes that
hold them (see the ``NEEP`` class doc):

* ``ep_per_step_exact_`` and ``ep_rate_exact_``: the simulated process's
  value (the sidecar's), else the mean of the exact EP of the held-out data,
  else None; for data with hidden states the partial-information limit of
  windows of ``seq_len`` states (``references``), the full process's value
  then kept in ``ep_rate_full_information_`` (an upper bound, not a target);
* ``exact_reference_``: which of these the exact value is;
* ``ep_rate_exact_held_out_``: the slope estimator applied to the exact EP
  of the held-out data itself;
* ``_exact_windows``: that exact EP summed over the model's windows (for R^2),
  None when unknown or when the states hide part of the process.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .callbacks import window_sums
from .data import Trajectories
from .ragged import flat, map_parts, rate_per_entry
from .references import hides_states, partial_reference

__all__ = ["exact_values"]


def exact_values(test: Trajectories, seq_len: int, dt: float) -> dict[str, Any]:
    """The exact values of the held-out data ``test``, keyed by the ``NEEP`` attribute that holds each.

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
    dict of str to object
        ``_exact_windows``, ``ep_per_step_exact_``, ``ep_rate_exact_``,
        ``ep_rate_full_information_``, ``exact_reference_``,
        ``ep_rate_exact_held_out_`` (see the module doc).
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
    return {"_exact_windows": windows, "ep_per_step_exact_": per_step, "ep_rate_exact_": rate,
            "ep_rate_full_information_": full_information, "exact_reference_": reference,
            "ep_rate_exact_held_out_": held_out}
