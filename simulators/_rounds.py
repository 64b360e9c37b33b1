"""Reference runs measured in rounds: independent trajectories extended until their mean rate is precise.

Shared by :meth:`~neep.simulators.fpu_chain.FPUChain.ep_estimate` and
:meth:`~neep.simulators._planar_chain.PlanarChainMixin.chain_ep_estimate`: each
round extends every trajectory (one thread task each) by the same number of
steps, accumulating its own total; the rate is the mean of the totals over the
time run, its standard error their spread over ``sqrt(trajectories)``.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from ._checks import positive

__all__ = ["check_round_arguments", "run_rounds"]


def check_round_arguments(precision: Any, trajectories: Any, seed: Any, round_time: Any, max_time: Any
                          ) -> tuple[float, int, int, float, float]:
    """The arguments of a reference run, validated (one-line ``ValueError`` naming the bad one)."""
    precision = positive("precision", precision)
    round_time, max_time = positive("round_time", round_time), positive("max_time", max_time)
    for name, value, low in (("trajectories", trajectories, 2), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return precision, int(trajectories), int(seed), round_time, max_time


def run_rounds(work: Callable[[int, int], int], totals: np.ndarray, round_duration: float, precision: float,
               max_time: float, workers: int | None, check: Callable[[int], None], name: str
               ) -> tuple[float, float, float]:
    """``(rate, error, duration)``: rounds of ``work(b, r)`` over trajectories ``b`` until precise.

    ``work`` extends trajectory ``b`` in round ``r`` by ``round_duration`` time
    units, adds to ``totals[b]`` and returns how many trajectories diverged;
    ``check`` receives the round's sum (it raises on divergence). Stops when
    the standard error is at most ``precision`` times the rate (after at least
    two rounds) or the trajectories have run ``max_time``. ``workers``: threads
    (None: as many as the simulators use, ``io``'s default).
    """
    from .io import _default_workers

    workers = _default_workers() if workers is None else workers
    m, rounds = totals.size, 0
    with cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        while True:
            check(sum(pool.map(work, range(m), [rounds] * m)))
            rounds += 1
            duration = rounds * round_duration
            rates = totals / duration
            rate, error = float(rates.mean()), float(rates.std(ddof=1) / math.sqrt(m))
            if (rounds >= 2 and error <= precision * abs(rate)) or duration + 1e-9 >= max_time:
                return rate, error, duration
