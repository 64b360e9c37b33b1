"""The plug-in Kullback-Leibler estimator of EP for discrete (jump) data, from pair or n-word counts.

For a stationary sequence of discrete states, the EP per step is bounded
below by (and, for a Markov chain observed in full, equal to) the
Kullback-Leibler divergence rate between the forward and the time-reversed
process. The standard block ("n-gram") form (E. Roldan and J. M. R.
Parrondo, Phys. Rev. Lett. 105, 150607 (2010); Phys. Rev. E 85, 031129
(2012), Eq. 13 there) is

    sigma_n = D_n / (n - 1),    D_n = sum_w p(w) ln[p(w) / p(w^R)],

over words ``w = (x_1 .. x_n)`` of ``n`` states, ``w^R`` the word read
backwards. ``n = 2`` is the pair estimator ``sum p(i,j) ln[p(i,j)/p(j,i)]``.
For a stationary Markov chain ``ln p(w)/p(w^R)`` is the sum of the
``n - 1`` step log-ratios plus ``ln pi(x_1)/pi(x_n)``, whose mean is 0, so
``sigma_n`` equals the EP per step for every ``n``; with hidden states
``sigma_n`` grows with ``n`` towards the KL rate of the observed process,
itself a lower bound of the true EP (the yardstick of RNEEP on the hidden
ratchet: the paper's Fig. 3, refs. [11, 13, 14]).

Here the estimate is written like a NEEP network: ``fit_plugin_kl`` counts
every (overlapping) word of the TRAINING data; the estimated EP of a word is

    dS(w) = ln[(c(w) + a) / (c(w^R) + a)],    a = 1/2,

and the reported value is its mean over the HELD-OUT words, per step
(``PluginKL.delta_s`` gives one value per evaluation window, tiling each
trajectory the way RNEEP's evaluation does). Why these two choices:

* Counting on one part and averaging on another removes the plug-in's own
  upward bias (the same counts in numerator and average make
  ``sum p ln p/q`` grow like the number of words seen over 2N near
  equilibrium), and gives the same held-out block bootstrap, paired with
  the network, that every other number of a fit has.
* ``a = 1/2`` (Haldane-Anscombe: ``E ln(c + 1/2)`` equals ``ln E c`` up to
  ``O(1/c^2)`` for Poisson counts, where ``ln c`` errs by ``O(1/c)``) makes
  one-sided words finite (``c(w^R) = 0`` gives ``ln(2 c(w) + 1)``, not
  infinity) without dropping them, and gives 0 to a word seen in neither
  direction. Dropping one-sided words would discard exactly the most
  irreversible transitions and bias the estimate low; a truly absorbing
  (one-way) transition has infinite EP, which no finite count can show.
  For long words most held-out words are unseen in training: the estimate
  is then biased LOW (towards 0), the classical estimator's known limit.

Words are encoded as 64-bit integers: exactly (base K) when ``K^n < 2^63``,
else by a polynomial hash modulo 2^64 (collisions have probability about
(distinct words)^2 / 2^65; 10^7 words: 3e-6).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import numpy as np

__all__ = ["PluginKL", "fit_plugin_kl", "PSEUDOCOUNT"]

PSEUDOCOUNT = 0.5
_HASH_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd: multiplication mod 2^64 is a bijection
_WORDS_PER_CHUNK = 1 << 20


def _base(n_states: int, n: int) -> tuple[np.uint64, bool]:
    """Multiplier of the word code and whether the code is exact (no hash)."""
    exact = n * math.log2(max(n_states, 2)) < 63
    return (np.uint64(max(n_states, 2)) if exact else _HASH_BASE), exact


def _codes(block: np.ndarray, n: int, base: np.uint64, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the words ``block[:, s : s + n]`` for ``s`` in ``starts``, forward and reversed, (M', S)."""
    s = block.astype(np.uint64)
    fwd = np.zeros((s.shape[0], starts.size), np.uint64)
    rev = np.zeros_like(fwd)
    with np.errstate(over="ignore"):
        for k in range(n):
            fwd = fwd * base + s[:, starts + k]
            rev = rev * base + s[:, starts + (n - 1 - k)]
    return fwd, rev


def _row_blocks(m_count: int, length: int) -> Iterator[tuple[int, int]]:
    rows = max(1, _WORDS_PER_CHUNK // max(length, 1))
    for m0 in range(0, m_count, rows):
        yield m0, min(m_count, m0 + rows)


def _check_states(states, n: int) -> np.ndarray:
    if not hasattr(states, "shape"):
        states = np.asarray(states)
    if states.ndim == 1:
        states = states[None]
    if states.ndim != 2 or not np.issubdtype(states.dtype, np.integer):
        raise ValueError(f"the plug-in KL estimator needs integer states (M, L), got {states.dtype} {states.shape}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"word length n must be an integer >= 2, got {n!r}")
    if states.shape[1] < n:
        raise ValueError(f"trajectories have {states.shape[1]} states, fewer than one word of {n}")
    return states


@dataclasses.dataclass(frozen=True)
class PluginKL:
    """Word counts of training data and the per-word EP ``ln[(c(w) + a) / (c(w^R) + a)]``.

    Attributes
    ----------
    n : int
        Word length (2: pairs).
    n_states : int
        K, the number of states the codes assume (states must be < K).
    codes, counts : array
        Sorted distinct word codes of the training data and their counts.
    pseudocount : float
        ``a`` of the module doc.
    exact_codes : bool
        False when words are hashed (``K^n >= 2^63``).
    words : int
        Training words counted.
    """

    n: int
    n_states: int
    codes: np.ndarray
    counts: np.ndarray
    pseudocount: float
    exact_codes: bool
    words: int

    def _count(self, codes: np.ndarray) -> np.ndarray:
        out = np.zeros(codes.shape)
        if self.codes.size == 0:
            return out
        pos = np.minimum(np.searchsorted(self.codes, codes), self.codes.size - 1)
        hit = self.codes[pos] == codes
        out[hit] = self.counts[pos[hit]]
        return out

    def delta_s(self, states) -> np.ndarray:
        """EP of each evaluation window of ``states (M, L)``: words at ``0, n-1, 2(n-1), ...``, float64 (M, K).

        The windows tile each trajectory (consecutive words share an end
        state), as RNEEP's evaluation does: the mean per window over
        ``n - 1`` is the estimate per step.
        """
        states = _check_states(states, self.n)
        if states.size and (int(np.min(states)) < 0 or int(np.max(states)) >= self.n_states):
            raise ValueError(f"states must lie in 0..{self.n_states - 1} (the training data's)")
        base, _ = _base(self.n_states, self.n)
        starts = np.arange(0, states.shape[1] - self.n + 1, self.n - 1)
        out = np.empty((states.shape[0], starts.size))
        a = self.pseudocount
        for m0, m1 in _row_blocks(states.shape[0], states.shape[1]):
            fwd, rev = _codes(np.asarray(states[m0:m1]), self.n, base, starts)
            out[m0:m1] = np.log((self._count(fwd) + a) / (self._count(rev) + a))
        return out


def fit_plugin_kl(states, n: int = 2, *, n_states: int | None = None,
                  pseudocount: float = PSEUDOCOUNT) -> PluginKL:
    """Count every overlapping word of ``n`` states in ``states (M, L)`` (training data).

    Parameters
    ----------
    states : integer array (M, L) or (L,), or a tuple of such arrays
        Discrete trajectories with values ``0..K-1`` (memory-mapped is fine);
        a tuple of parts (a ragged set): the counts of all parts.
    n : int
        Word length: 2 for the pair estimator, more for n-gram statistics.
    n_states : int, optional
        K; default: the largest state + 1 (pass it when held-out data may
        hold states the training data lack).
    pseudocount : float
        ``a`` > 0 of the module doc (1/2: Haldane-Anscombe).

    Returns
    -------
    PluginKL
    """
    if isinstance(states, tuple):  # a ragged set: the counts of all its parts
        parts = [_check_states(p, n) for p in states]
        top = max(int(np.max(p)) + 1 if p.size else 1 for p in parts)
        tables = [fit_plugin_kl(p, n, n_states=max(top, n_states or 0), pseudocount=pseudocount) for p in parts]
        codes = np.concatenate([t.codes for t in tables])
        counts = np.concatenate([t.counts for t in tables])
        order = np.argsort(codes, kind="stable")
        codes, counts = codes[order], counts[order]
        first = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        return dataclasses.replace(tables[0], codes=codes[first], counts=np.add.reduceat(counts, first),
                                   words=sum(t.words for t in tables))
    states = _check_states(states, n)
    if not (isinstance(pseudocount, (int, float)) and pseudocount > 0):
        raise ValueError(f"pseudocount must be > 0, got {pseudocount!r}")
    top = int(np.max(states)) + 1 if states.size else 1
    if int(np.min(states)) < 0:
        raise ValueError("discrete states must be >= 0")
    n_states = top if n_states is None else max(int(n_states), top)
    base, exact = _base(n_states, n)
    starts = np.arange(states.shape[1] - n + 1)
    uniques, tallies = [], []
    for m0, m1 in _row_blocks(states.shape[0], states.shape[1]):
        fwd, _ = _codes(np.asarray(states[m0:m1]), n, base, starts)
        u, c = np.unique(fwd, return_counts=True)
        uniques.append(u)
        tallies.append(c)
    codes = np.concatenate(uniques)
    order = np.argsort(codes, kind="stable")
    codes, tally = codes[order], np.concatenate(tallies)[order]
    first = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    counts = np.add.reduceat(tally, first).astype(np.float64)
    return PluginKL(n=int(n), n_states=n_states, codes=codes[first], counts=counts,
                    pseudocount=float(pseudocount), exact_codes=exact, words=int(tally.sum()))
