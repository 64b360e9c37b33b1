"""Classical estimators beside NEEP: closed-form currents (continuous data), plug-in KL (jump data).

Two layers. The fits: ``baselines.currents.fit_linear_current`` (the closed-form current, linear or
polynomial in the midpoint) and ``baselines.plugin_kl.fit_plugin_kl`` (word counts).
The yardsticks a user (and ``neep fit --baselines``) reads, each fitted on
training data and measured on held-out data with the same block bootstrap as
the network (``stats.uncertainty``; same seed and block layout, so the comparison
with the network is paired), each a ``Baseline`` (rate, standard error,
kind):

* ``current_baseline``: the current fitted by the NEEP objective over the
  span (``method="j"``), its held-out mean EP per unit time (an *estimate*:
  exact for linear forces, the best current of the span otherwise);
* ``tur_baseline``: the short-time TUR bound ``2 <J>^2 / (dt Var J)`` of the
  TUR-optimal current ``w = 2 Sigma^-1 mu`` of the TRAINING data, evaluated on
  held-out data (fitted and measured on the same data it would be biased
  upward by about (basis size) / (pairs)); a *lower bound* as dt -> 0 (at
  finite dt it is off by O(dt), so the underfit check does not use it);
* ``plugin_kl_baseline``: the plug-in KL estimator of pair or n-word
  statistics (``baselines.plugin_kl``), an *estimate* for Markov jump data and a lower
  bound with hidden states;
* ``evaluate_baselines``: the set that suits the data.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..stats.uncertainty import (
    Interval,
    block_statistics,
    bootstrap_counts,
    bootstrap_replicates,
    interval,
)
from .currents import (
    LinearCurrent,
    basis_size,
    current_basis,
    fit_linear_current,
    iter_pairs,
)
from .drift import feature_count, fit_drift_current
from .plugin_kl import PluginKL, fit_plugin_kl

__all__ = [
    "REPLICATES",
    "Baseline",
    "evaluate_baselines",
    "current_baseline",
    "drift_baseline",
    "tur_baseline",
    "plugin_kl_baseline",
    "short_word_length",
    "LinearCurrent",
    "fit_linear_current",
    "PluginKL",
    "fit_plugin_kl",
    "current_basis",
    "basis_size",
    "iter_pairs",
]

REPLICATES = 2000
#: The nonlinear yardstick of continuous data (``evaluate_baselines(nonlinear=True)``): a full cubic force
#: polynomial fitted by J while its basis is at most this wide (d <= 5: 280 currents), else the drift current.
FULL_CUBIC_MAX = 300
#: ... and no drift current beyond this many features (d <= 24): its cost grows as d^4 (the 631 features
#: of d = 20 took about 100 s on 5 million pairs under load); above it the nonlinear check is not made.
DRIFT_MAX_FEATURES = 1000
#: A plug-in table whose distinct words are counted fewer times than this on average is
#: undersampled: reported, but not used to judge the network.
MIN_COUNT_PER_WORD = 5.0


# -- yardsticks on held-out data ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Baseline:
    """A classical estimate on held-out data: rate per unit time (per step when dt = 1) with its error.

    Attributes
    ----------
    name : str
    kind : {"estimate", "lower bound"}
    interval : uncertainty.Interval
        Held-out block bootstrap plus the training-data term (as the network's).
    description : str
    replicates : array
        Bootstrap replicates of the rate (paired with the network's when the
        block layout ``n_blocks`` is the same).
    n_blocks : int
    checked : bool
        Whether the underfit diagnostic compared the network with it.
    sampled : bool
        False when the estimator's own statistics are too sparse to trust
        (a plug-in table of words seen about once each): reported, not checked.
    """

    name: str
    kind: str
    interval: Interval
    description: str
    replicates: np.ndarray = dataclasses.field(repr=False, compare=False, default_factory=lambda: np.zeros(0))
    n_blocks: int = 0
    checked: bool = False
    sampled: bool = True

    value = property(lambda self: self.interval.value)
    stderr = property(lambda self: self.interval.stderr)
    low = property(lambda self: self.interval.low)
    high = property(lambda self: self.interval.high)

    def as_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, **self.interval.as_dict(),
                "checked": self.checked, "sampled": self.sampled, "description": self.description}


def _states(data) -> np.ndarray:
    return getattr(data, "states", data)


def _parts(states) -> tuple:
    """The parts of a ragged set (a tuple), or the one array as a 1-tuple."""
    return states if isinstance(states, tuple) else (states,)


def _map(fn, states):
    """``fn`` of each part of a ragged set (a tuple back), or of the array."""
    return tuple(fn(p) for p in states) if isinstance(states, tuple) else fn(states)


def _pairs(states) -> int:
    return sum(p.shape[0] * (p.shape[1] - 1) for p in _parts(states))


def _share(train, test) -> float:
    """Held-out pairs / training pairs: the training-data term of ``stats.uncertainty.interval``."""
    return _pairs(test) / max(1, _pairs(train))


def _standardization(states) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std per coordinate from a strided sample (at most ~64 x 4096 states), float64."""
    if isinstance(states, tuple):  # a ragged set: its largest part
        states = max(states, key=lambda p: p.size)
    m_count, length, d = states.shape
    sample = np.asarray(states[:: max(1, m_count // 64), :: max(1, length // 4096)], dtype=np.float64)
    sample = sample.reshape(-1, d)
    std = sample.std(axis=0)
    std[~(std > 0)] = 1.0
    return sample.mean(axis=0), std


def _rate(delta_s: np.ndarray, steps: int, dt: float, seed: int, replicates: int):
    """Slope rate per unit time of per-entry EPs (``steps`` steps per entry), replicates, block count."""
    stats = block_statistics(delta_s)
    scale = 1.0 / (steps * dt)
    reps = bootstrap_replicates(stats, replicates, seed=seed)["rate"] * scale
    return float(stats.statistics()["rate"][0]) * scale, reps, stats.n_blocks


def _continuous(train, test, mean, std):
    train, test = _states(train), _states(test)
    for states, what in ((train, "training"), (test, "held-out")):
        for x in _parts(states):
            if x.ndim != 3 or x.shape[1] < 2 or not np.issubdtype(x.dtype, np.floating):
                raise ValueError(f"{what} states must be float (M, L, d) with L >= 2, got {x.dtype} {x.shape}")
    if _parts(train)[0].shape[2] != _parts(test)[0].shape[2]:
        raise ValueError(f"training and held-out states differ in dimension: {_parts(train)[0].shape[2]} vs "
                         f"{_parts(test)[0].shape[2]}")
    if mean is None or std is None:
        mean, std = _standardization(train)
    return train, test, mean, std


def _basis_name(degree: int) -> str:
    return "linear" if degree == 1 else f"degree {degree}"


def current_baseline(train, test, *, dt: float = 1.0, degree: int = 1, mean=None, std=None, seed: int = 0,
                     replicates: int = REPLICATES, fitted: LinearCurrent | None = None) -> Baseline:
    """The current of the span fitted by the NEEP objective on ``train``, its mean EP rate on ``test``.

    ``train``, ``test``: float states ``(M, L, d)`` (or ``Trajectories``);
    ``fitted``: a ``LinearCurrent`` already fitted on ``train`` (skips the fit).
    """
    train, test, mean, std = _continuous(train, test, mean, std)
    current = fitted or fit_linear_current(train, mean=mean, std=std, degree=degree)
    value, reps, blocks = _rate(_map(current.delta_s, test), 1, dt, seed, replicates)
    name = "linear_current" if current.degree == 1 else f"current_degree_{current.degree}"
    return Baseline(name, "estimate", interval(value, reps, train_share=_share(train, test)),
                    f"{_basis_name(current.degree)}-basis Stratonovich current dS = F(midpoint) . dx fitted by "
                    "the NEEP objective on the training data; mean EP of the held-out steps", reps, blocks)


def tur_baseline(train, test, *, dt: float = 1.0, degree: int = 1, mean=None, std=None, seed: int = 0,
                 replicates: int = REPLICATES, fitted: LinearCurrent | None = None) -> Baseline:
    """Short-time TUR ``2 <J>^2 / (dt Var J)`` on ``test`` of the TUR-optimal current of ``train``.

    The bootstrap draws the same blocks as ``current_baseline`` (same seed
    and layout) and recomputes the ratio from per-block sums of J and J^2.
    ``fitted``: a ``LinearCurrent`` of ``train`` whose fit started at the TUR
    solution (its ``tur``): reused instead of a second pass over ``train``.
    """
    train, test, mean, std = _continuous(train, test, mean, std)
    if fitted is not None and fitted.tur is not None and fitted.degree == degree:
        d = fitted.bias.size  # the TUR solution that started the fit of ``fitted`` (the same moments)
        w = fitted.tur
        current = dataclasses.replace(fitted, kernel=w[: d * d].reshape(d, d), bias=w[d * d : d * d + d],
                                      higher=w[d * d + d :], method="tur")
    else:
        current = fit_linear_current(train, mean=mean, std=std, method="tur", degree=degree)
    j = _map(current.delta_s, test)
    first, second = block_statistics(j), block_statistics(_map(lambda x: x * x, j))

    def ratio(counts):
        n = counts @ first.count
        m1, m2 = (counts @ first.total) / n, (counts @ second.total) / n
        with np.errstate(divide="ignore", invalid="ignore"):
            return 2.0 * m1 * m1 / (m2 - m1 * m1) / dt

    value = float(ratio(np.ones((1, first.n_blocks)))[0])
    reps = np.concatenate([ratio(c) for c in bootstrap_counts(first.n_blocks, replicates, seed)])
    name = "tur_linear" if degree == 1 else f"tur_degree_{degree}"
    return Baseline(name, "lower bound", interval(value, reps, train_share=_share(train, test)),
                    f"short-time TUR 2<J>^2/(dt Var J) of the TUR-optimal {_basis_name(degree)}-basis current "
                    "(w = 2 Sigma^-1 mu on the training data), on the held-out steps; a bound as dt -> 0", reps,
                    first.n_blocks)


def short_word_length(n_states: int, words: int, seq_len: int) -> int | None:
    """The longest word length ``m``, ``2 < m < seq_len``, whose ``n_states^m`` words are each seen enough.

    Enough: ``words / n_states^m >= MIN_COUNT_PER_WORD`` (``words``: about the
    training states). The plug-in KL of such short words, ``D_m / (m - 1)``,
    is a control for a window-n RNEEP: for Markov data it equals the EP per
    step for every ``m``, and with hidden states it grows with the word length
    towards the KL rate (on the hidden ratchet: 0.0090, 0.025, 0.038, 0.061
    per step at m = 4, 8, 13, 32, V = 2), so a network of windows ``n > m``
    below it has underfit. None when no such ``m`` exists.
    """
    best = None
    for m in range(3, int(seq_len)):
        if float(n_states) ** m * MIN_COUNT_PER_WORD > words:
            break
        best = m
    return best


def plugin_kl_baseline(train, test, *, dt: float = 1.0, n: int = 2, n_states: int | None = None, seed: int = 0,
                       replicates: int = REPLICATES) -> Baseline:
    """Plug-in KL estimate of n-word statistics: counts on ``train``, mean on ``test`` (see ``baselines.plugin_kl``)."""
    train, test = _states(train), _states(test)
    if n_states is None:
        n_states = int(max(max(np.max(p) for p in _parts(train)), max(np.max(p) for p in _parts(test)))) + 1
    table = fit_plugin_kl(train, n, n_states=n_states)
    value, reps, blocks = _rate(_map(table.delta_s, test), n - 1, dt, seed, replicates)
    what = "pairs" if n == 2 else f"{n}-words"
    # A plug-in table is only as good as its counts: with words seen about once each (K^n far
    # above the training words) every ratio is noise around 1 and the estimate collapses to 0.
    per_word = table.words / max(1, table.codes.size)
    sampled = per_word >= MIN_COUNT_PER_WORD
    note = "" if sampled else (f"; UNDERSAMPLED: {table.codes.size} distinct {what} in {table.words} training "
                               f"{what} ({per_word:.1f} each), not used as a check")
    return Baseline("plugin_kl_pairs" if n == 2 else f"plugin_kl_{n}_words", "estimate",
                    interval(value, reps, train_share=_share(train, test)),
                    f"plug-in KL estimator of {what}: ln[(c(w)+1/2)/(c(reversed w)+1/2)] from training counts, "
                    f"mean over the held-out {what} / {n - 1} (Roldan & Parrondo 2010); exact for Markov jump data, "
                    "a lower bound with hidden states" + note, reps, blocks, sampled=sampled)


def evaluate_baselines(train, test, *, seq_len: int = 2, degree: int = 1, dt: float = 1.0, mean=None, std=None,
                       n_states: int | None = None, seed: int = 0, replicates: int = REPLICATES,
                       current: LinearCurrent | None = None, nonlinear: bool = False) -> dict[str, Baseline]:
    """The classical estimates that suit the data, by name (rates per unit time; per step when dt = 1).

    Continuous states ``(M, L, d)``: ``linear_current`` and ``tur_linear``,
    and with ``degree`` > 1 also ``current_degree_<g>`` and
    ``tur_degree_<g>`` (polynomial force). Discrete states ``(M, L)``:
    ``plugin_kl_pairs``, and with ``seq_len`` n > 2 also
    ``plugin_kl_<n>_words`` (the yardstick of a window-n RNEEP) and, given
    ``n_states``, ``plugin_kl_<m>_words`` of the longest well-sampled
    ``m < n`` (``short_word_length``: a lower reference for windows of n).
    ``current``: a degree-1 ``LinearCurrent`` already fitted on ``train``.
    ``nonlinear`` (continuous states, ``degree`` < 3): also a cubic
    yardstick, ``current_degree_3`` while its basis has at most
    ``FULL_CUBIC_MAX`` currents, else ``drift_current`` (``baselines.drift``:
    the drift regressed on cubic features, while it has at most
    ``DRIFT_MAX_FEATURES`` features), so that a network stuck near its
    linear start on a nonlinear force has a classical estimate to fall short of.
    """
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or not 1 <= degree <= 4:
        raise ValueError(f"degree must be an integer in 1..4, got {degree!r}")
    train, test = _states(train), _states(test)
    common = dict(dt=float(dt), seed=seed, replicates=replicates)
    out: dict[str, Baseline] = {}
    if np.issubdtype(_parts(test)[0].dtype, np.integer):
        lengths = {2, int(seq_len)}
        if n_states is not None:
            short = short_word_length(n_states, _pairs(train) + 1, int(seq_len))
            lengths |= set() if short is None else {short}
        for n in sorted(lengths):
            base = plugin_kl_baseline(train, test, n=n, n_states=n_states, **common)
            out[base.name] = base
        return out
    train, test, mean, std = _continuous(train, test, mean, std)
    for g in sorted({1, int(degree)}):
        fitted = current if g == 1 and current is not None else None
        for base in (current_baseline(train, test, degree=g, mean=mean, std=std, fitted=fitted, **common),
                     tur_baseline(train, test, degree=g, mean=mean, std=std, fitted=fitted, **common)):
            out[base.name] = base
    d = _parts(train)[0].shape[2]
    if nonlinear and degree < 3 and basis_size(d, 3) <= FULL_CUBIC_MAX:
        out["current_degree_3"] = current_baseline(train, test, degree=3, mean=mean, std=std, **common)
    elif nonlinear and degree < 3 and feature_count(d) <= DRIFT_MAX_FEATURES:
        out["drift_current"] = drift_baseline(train, test, mean=mean, std=std, **common)
    return out


def drift_baseline(train, test, *, dt: float = 1.0, mean=None, std=None, seed: int = 0,
                   replicates: int = REPLICATES) -> Baseline:
    """The drift current of ``baselines.drift`` fitted on ``train``, its mean EP rate on ``test``."""
    train, test, mean, std = _continuous(train, test, mean, std)
    current = fit_drift_current(train, mean=mean, std=std)
    value, reps, blocks = _rate(_map(current.delta_s, test), 1, dt, seed, replicates)
    return Baseline("drift_current", "estimate", interval(value, reps, train_share=_share(train, test)),
                    "force inference: the drift regressed on cubic features of the state, dS = 2 a(midpoint)^T "
                    "N^-1 dx with N the noise covariance per step (constant diffusion assumed); mean EP of the "
                    "held-out steps", reps, blocks)
