"""The flashing ratchet's partial-information EP: what windows of its hidden view reveal.

:class:`PartialInformationMixin` is a base class (a mixin, no fields, no state) of
:class:`~neep.simulators.ratchet.FlashingRatchet`: it adds
``partial_ep_per_step`` and ``partial_ep_per_step_mc``, built on the host's
exact ``jump_stationary``, ``jump_matrix`` and ``kernel_tables``. The
physics stays in ``ratchet``; the enumeration and the Monte Carlo kernels
are in ``_partial``. ``LARGEST_EXACT_WORD`` and ``PARTIAL_MC_SAMPLES`` are
importable from ``neep.simulators.ratchet`` as before.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ._partial import PartialEP, exact_partial_ep, sample_word_values

__all__ = ["LARGEST_EXACT_WORD", "PARTIAL_MC_SAMPLES", "PartialInformationMixin"]

#: Largest window that ``partial_ep_per_step`` enumerates exactly (3**13 = 1.6M words, 76 MB).
LARGEST_EXACT_WORD = 13
#: Default number of sampled words of the Monte Carlo partial-information EP.
PARTIAL_MC_SAMPLES = 1_000_000


def _partial_arguments(n: Any, samples: Any, seed: Any) -> tuple[int, int, int]:
    for name, value, minimum in (("n", n, 2), ("samples", samples, 2), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(n), int(samples), int(seed)


class PartialInformationMixin:
    """The partial-information EP methods of :class:`~neep.simulators.ratchet.FlashingRatchet`.

    A mixin: it needs the host's ``jump_stationary``, ``jump_matrix`` and
    ``kernel_tables`` and holds nothing of its own.
    """

    def partial_ep_per_step(
        self, n: int, method: str = "auto", samples: int = PARTIAL_MC_SAMPLES, seed: int = 0
    ) -> float:
        """EP per step visible in length-``n`` windows of the hidden view.

        The hidden view records ``y_t = s_t % 3`` along the stationary jump
        chain (on/off removed; a switching jump shows as a repeated site).
        Returns ``D_n / (n - 1)`` with

        ``D_n = sum_w P(w) ln(P(w) / P(reversed w))``,

        the Kullback-Leibler divergence between forward and time-reversed
        observed words ``w = (y_1, ..., y_n)``. This is the per-step value an
        ideal estimator with windows of ``n`` states (RNEEP with sequence
        length ``n``, whose optimum is ``ln P(w)/P(reversed w)``) reaches. For
        the full chain the same divergence is exactly ``(n - 1) *
        ep_per_jump``; coarse-graining can only lose, so the value is at most
        :attr:`ep_per_jump` (data processing) and it tends to the KL rate of
        the observed process as ``n`` grows. ``n = 2`` is the pair (Markov)
        estimate; it is not zero: the observed sites carry the ratchet's net
        current.

        Parameters
        ----------
        n : int
            Window length, >= 2.
        method : {"auto", "exact", "mc"}
            ``"exact"``: ``P(w)`` by the forward algorithm over all ``3**n``
            words (float64; ``n <= 13``, memory and time grow as ``3**n``).
            ``"mc"``: Monte Carlo over ``samples`` sampled words, see
            :meth:`partial_ep_per_step_mc` (which also gives the standard
            error). ``"auto"`` (default): exact for ``n <= 13``, Monte Carlo
            beyond, so the value for ``n > 13`` is a seeded random estimate
            (at V = 2, n = 128, relative standard error about 5e-4 with the
            default ``samples``).
        samples : int
            Words sampled by the Monte Carlo estimate (>= 2); unused when exact.
        seed : int
            Seed of the Monte Carlo estimate (>= 0); unused when exact.

        Returns
        -------
        float
            EP per step in k_B per jump.

        Raises
        ------
        ValueError
            On ``n < 2``, ``n > 13`` with ``method="exact"``, an unknown
            ``method``, ``samples < 2`` or a negative ``seed``.
        """
        n, samples, seed = _partial_arguments(n, samples, seed)
        if method not in ("auto", "exact", "mc"):
            raise ValueError(f"method must be 'auto', 'exact' or 'mc', got {method!r}")
        if method == "exact" and n > LARGEST_EXACT_WORD:
            raise ValueError(f"method='exact' enumerates 3**n words and needs n <= {LARGEST_EXACT_WORD}, got {n}; "
                             "use method='mc'")
        if method == "mc" or (method == "auto" and n > LARGEST_EXACT_WORD):
            return self.partial_ep_per_step_mc(n, samples, seed).value
        return exact_partial_ep(self.jump_stationary, self.jump_matrix, n)

    def partial_ep_per_step_mc(self, n: int, samples: int = PARTIAL_MC_SAMPLES, seed: int = 0) -> PartialEP:
        """Monte Carlo estimate of :meth:`partial_ep_per_step` with its standard error, any ``n``.

        Averages ``ln P(w) - ln P(reversed w)`` over ``samples`` words sampled
        from the stationary jump chain (the simulator's tables), each computed
        exactly by the scaled forward algorithm (float64, Numba); unbiased.
        Standard error: the values' standard deviation over ``sqrt(samples)``,
        over ``n - 1``. Cost about ``samples * n`` jumps (n = 128, 10^6 words:
        about 1.6 s on two cores). Depends only on ``seed`` and ``samples``,
        not on threads. See ``neep.simulators._partial``.

        Parameters
        ----------
        n : int
            Window length, >= 2.
        samples : int
            Number of sampled words, >= 2.
        seed : int
            Random seed, >= 0.

        Returns
        -------
        PartialEP
            ``value``, ``stderr`` (k_B per jump), ``n``, ``samples``,
            ``method="mc"``, ``seed``; unpacks as ``value, stderr``.

        Raises
        ------
        ValueError
            On ``n < 2``, ``samples < 2`` or a negative ``seed``.
        """
        n, samples, seed = _partial_arguments(n, samples, seed)
        values = sample_word_values(self.kernel_tables, self.jump_stationary, self.jump_matrix, n, samples, seed)
        value = float(np.mean(values) / (n - 1))
        stderr = float(np.std(values, ddof=1) / math.sqrt(samples) / (n - 1))
        return PartialEP(value=value, stderr=stderr, n=n, samples=samples, method="mc", seed=seed)
