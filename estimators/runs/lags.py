"""``neep fit --lags``: the EP rate at several frame intervals and its extrapolation to lag 0.

``fit_lags(data, lags)`` subsamples the data every ``k`` steps for each lag
``k`` (frames ``k dt`` apart), measures the EP rate per unit time at each
(held-out data, the same split of trajectories at every lag), and
extrapolates the rates to lag 0 (``stats.lags.extrapolate_to_zero``). The
per-step value at a coarse frame interval is a lower bound on the
continuous-time rate (``stats.lags``); the extrapolation estimates the rate
itself. Quote both.

Three ways to measure each lag:

* ``method="velocity"`` (the default): the closed form the current network
  would start from (``training.start``): the linear current, or a cubic
  velocity current (full, or local in d >= 7) where it beats it on
  validation J (a fifth of the training trajectories), chosen at the first
  lag and refitted as it is at the others. Seconds to tens of seconds per
  lag. On linear data it is the linear current (fitted on four fifths of
  the training part); it follows nonlinear forces the linear current
  misses (on the FPU chains that one's lags extrapolate far below the rate).
* ``method="current"``: the closed-form
  Stratonovich current fitted on the training part
  (``baselines.estimates.current_baseline``; the plug-in KL of pairs for
  discrete states). A few passes over the data per lag, seconds; exact in
  the limit of data for linear (Gaussian) dynamics, a lower bound
  otherwise.
* ``method="network"``: a full ``NEEP`` fit per lag (the ``neep fit``
  defaults, without the data check): the cost of one fit per lag; the lags'
  errors are then combined as independent (``stats.lags``: for the quadratic
  through 1, 2, 4, 8 an overstatement).

The two closed forms draw the same held-out blocks at every lag in their
bootstrap replicates, so the extrapolation's error keeps their correlation.

Localization noise (``noise="auto"``, as ``neep fit --noise``). White noise of
variance ``s^2`` adds ``2 s^2`` to every increment's variance at every lag, so
it biases the pair forms most at the shortest lag: the 2-bead chain with noise
of 45 % of the step read 0.926, 1.175 and 1.37 at lags 1, 2 and 4 and
extrapolated to 0.575 against 2.025. Where the noise of the training part is
significant (``stats.noise``; ``"robust"``: always), both closed forms give
way to the noise-robust current (``baselines.robust``: triples
``(y_{t-k}, y_t, y_{t+k})`` of the subsampled frames, corrected for the
noise estimated once at lag 1, the same ``s^2`` at every lag) of degree
``degree``, or cubic where its corrected objective beats the linear one's
by ``training.start.MARGIN`` paired errors on validation data at the first
lag (the driven ring with noise of 15 %: the linear robust current read
0.23 at every lag against 1.19). Beyond ``ROBUST_MAX_BASIS`` terms the
cubic is out of reach and the lags carry a note that they are likely low.
The network method's fits handle the noise themselves.

``write_lags(output, result)`` adds the rows to a run folder's
``summary.json`` (key ``"lags"``) and draws ``rate_vs_lag.png``, each file
replaced atomically.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..baselines.currents import basis_size, fit_linear_current
from ..baselines.estimates import REPLICATES, current_baseline, plugin_kl_baseline
from ..baselines.robust import fit_robust_current, robust_current_baseline
from ..data.sets import TrajectorySet, as_data, map_parts
from ..stats.uncertainty import block_statistics, bootstrap_replicates, interval
from ..training.prepare import input_stats, validation_split
from ..training.start import MARGIN, choose_start, is_cubic, local_start, polynomial_start
from ..data.trajectories import Trajectories
from ..plots.base import save_figure
from ..plots.lags import plot_rate_against_lag
from ..stats.lags import LagExtrapolation, extrapolate_to_zero
from ..stats.noise import LAGS as NOISE_LAGS, NoiseEstimate, estimate_noise
from .summary import json_ready

__all__ = ["LagRow", "LagResult", "fit_lags", "subsample", "write_lags", "METHODS", "NOISE_MODES", "LAG_FIGURE",
           "VELOCITY_VALIDATION", "ROBUST_MAX_BASIS"]

METHODS = ("current", "velocity", "network")
NOISE_MODES = ("auto", "robust", "off")
#: The noise-robust lags use a cubic force only up to this many basis terms (504 in 6 dimensions).
ROBUST_MAX_BASIS = 600
#: The robust degree's paired comparison splits trajectories in time when there are fewer than this many.
GAIN_BLOCKS = 20
#: ``method="velocity"``: the share of each lag's training part that chooses the closed form.
VELOCITY_VALIDATION = 0.2
LAG_FIGURE = "rate_vs_lag.png"


@dataclasses.dataclass(frozen=True)
class LagRow:
    """The rate measured at one lag: ``lag`` steps, frame interval ``tau``, rate per unit time with its error."""

    lag: int
    tau: float
    rate: float
    stderr: float
    low: float
    high: float

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "ep_per_frame": self.rate * self.tau}


@dataclasses.dataclass(frozen=True)
class LagResult:
    """Rates at several lags and their extrapolation to lag 0 (``fit_lags``).

    Attributes
    ----------
    rows : tuple of LagRow
    extrapolation : stats.lags.LagExtrapolation
    method : str
        ``"velocity"``, ``"current"`` or ``"network"``.
    dt : float
        The data's interval (lag 1).
    dt_known : bool
        False: rates are per step of the data, and tau counts steps.
    ep_rate_exact : float or None
        The continuous process's rate, when the data's sidecar gives it.
    closed_form : str or None
        ``method="velocity"``: the closed form chosen at the first lag and used at every lag
        (``linear_current``, ``velocity_current`` or ``local_velocity_current``); with the noise
        corrected, the robust current's name (``robust_current``, ``robust_current_degree_3``...).
    noise : stats.noise.NoiseEstimate or None
        The localization noise of the training part at lag 1, when estimated.
    noise_corrected : bool
        Whether the lags were measured by the noise-robust current.
    note : str or None
        A caveat on the rows (a nonlinear force the noise-robust current cannot follow here).
    """

    rows: tuple
    extrapolation: LagExtrapolation
    method: str
    dt: float
    dt_known: bool
    ep_rate_exact: float | None = None
    closed_form: str | None = None
    noise: NoiseEstimate | None = None
    noise_corrected: bool = False
    note: str | None = None

    def as_dict(self) -> dict:
        exact = self.ep_rate_exact
        value = self.extrapolation.value
        return json_ready({
            "method": self.method,
            "closed_form": self.closed_form,
            "noise": None if self.noise is None else {**self.noise.as_dict(), "corrected": self.noise_corrected},
            "note": self.note,
            "rows": [r.as_dict() for r in self.rows],
            "extrapolation": self.extrapolation.as_dict(),
            "ep_rate_exact": exact,
            "relative_error": None if not exact else (value - exact) / exact,
            "notes": ("rows: the EP rate per unit time measured on frames lag x dt apart (tau); ep_per_frame = rate "
                      "x tau, a lower bound on the continuous-time EP over tau. extrapolation: weighted polynomial "
                      "fit of the rates in tau (degree 2 when its curvature is resolved, else 1), its value at "
                      "tau = 0 with the standard error of the fit (paired over lags when paired_error), not "
                      "including the error of the polynomial model. Quote the extrapolation as the "
                      "continuous-time rate, and the lag-1 row as what the frames themselves show."),
        })


def subsample(data: Trajectories | TrajectorySet, lag: int) -> Trajectories | TrajectorySet:
    """Every ``lag``-th state of each trajectory (frames ``lag dt`` apart); exact per-step values dropped."""
    if isinstance(data, TrajectorySet):
        return TrajectorySet(tuple(subsample(p, lag) for p in data.parts))
    return dataclasses.replace(data, states=data.states[:, ::lag], dt=data.dt * lag, exact_ep=None,
                               ep_per_step_exact=None)


def _measure_current(train, test, seed: int, degree: int):
    if train.discrete:
        base = plugin_kl_baseline(train.states, test.states, dt=test.dt, n_states=train.n_states, seed=seed)
    else:
        base = current_baseline(train.states, test.states, dt=test.dt, degree=degree, seed=seed)
    return base.interval, base.replicates, base.n_blocks


def _measure_velocity(train, test, seed: int, first=None):
    """The closed-form start of the current network (``training.start``) fitted at this lag; its held-out rate.

    ``first``: the closed form chosen at the first lag, refitted here as it is (the same kind, the same
    hoods and standardization) instead of a new choice: one model across the lags, whose rates the
    extrapolation joins (and on the 20-bead chain 46 of 226 s spent on candidates at lags 2 and 4).
    Returns the interval, replicates, blocks and the closed form used.
    """
    if train.discrete:
        return (*_measure_current(train, test, seed, 1), None)
    fit, valid = validation_split(train, VELOCITY_VALIDATION, 2)
    if first is not None:
        chosen = (first.refit(fit.states) if is_cubic(first)
                  else fit_linear_current(fit.states, mean=first.mean, std=first.std))
    else:
        mean, std = (np.asarray(v) for v in input_stats(fit, True, seed))
        linear = fit_linear_current(fit.states, mean=mean, std=std)
        candidates = [polynomial_start(fit.states, mean, std), local_start(fit.states, mean, std, linear)]
        chosen, _ = choose_start(linear, [c for c in candidates if c is not None], valid.states)
    stats = block_statistics(map_parts(chosen.delta_s, test.states))
    reps = bootstrap_replicates(stats, REPLICATES, seed=seed)["rate"] / test.dt
    value = float(stats.statistics()["rate"][0]) / test.dt
    share = float(np.sum(test.lengths - 1)) / max(1.0, float(np.sum(fit.lengths - 1)))
    return interval(value, reps, train_share=share), reps, stats.n_blocks, chosen


def _measure_robust(train, test, seed: int, variance, degree: int, stats):
    """The noise-robust current fitted at this lag (``stats``: the standardization of lag 1)."""
    base = robust_current_baseline(train.states, test.states, variance, dt=test.dt, degree=degree, mean=stats[0],
                                   std=stats[1], seed=seed, replicates=REPLICATES)
    return base.interval, base.replicates, base.n_blocks, base.name


def _gain_sigmas(first, second, states) -> float:
    """How many paired standard errors ``second``'s corrected objective lies above ``first``'s on ``states``.

    Per block: each trajectory, or with fewer than ``GAIN_BLOCKS`` of them, stretches of
    each in time (one long trajectory is split into ``GAIN_BLOCKS``); their objectives'
    differences, mean over standard error.
    """
    parts = list(states) if isinstance(states, tuple) else [states]
    count = sum(p.shape[0] for p in parts)
    pieces = max(1, -(-GAIN_BLOCKS // count))  # stretches per trajectory
    blocks = [b for p in parts for m in range(p.shape[0])
              for b in np.array_split(p[m:m + 1], pieces, axis=1) if b.shape[1] >= 3]
    gain = np.array([second.objective_on(b) - first.objective_on(b) for b in blocks])
    if gain.size < 2 or not np.all(np.isfinite(gain)):
        return float("nan")
    error = gain.std(ddof=1) / np.sqrt(gain.size)
    return float(gain.mean() / error) if error > 0 else 0.0


def _robust_degree(train, seed: int, degree: int, variance) -> tuple[int, str | None]:
    """The noise-robust lags' degree at lag 1: cubic where its corrected objective beats the linear's on validation.

    By ``MARGIN`` paired errors (per validation trajectory), as the cubic start of the current network.
    """
    if degree >= 3:
        return degree, None
    fit, valid = validation_split(train, VELOCITY_VALIDATION, 2)
    mean, std = (np.asarray(v) for v in input_stats(fit, True, seed))
    linear = fit_robust_current(fit.states, variance, mean=mean, std=std, degree=degree)
    higher = 2 if basis_size(train.dim, 3) > ROBUST_MAX_BASIS else 3  # beyond: a quadratic tests for nonlinearity
    other = fit_robust_current(fit.states, variance, mean=mean, std=std, degree=higher)
    if not _gain_sigmas(linear, other, valid.states) > MARGIN:
        return degree, None
    if higher == 3:
        return 3, None
    return degree, (f"the force looks nonlinear (a quadratic noise-robust current beats the linear one) but a cubic "
                    f"one is out of reach in {train.dim} dimensions: these lags are likely low")


def _lag_noise(train, method: str, noise: str, lags) -> tuple[NoiseEstimate | None, np.ndarray | None]:
    """The noise of the training part at lag 1, and the variance the closed forms correct for (or None)."""
    if method == "network" or noise == "off" or train.discrete:
        return None, None
    parts = train.states if isinstance(train.states, tuple) else (train.states,)
    if any(p.shape[1] < NOISE_LAGS + 2 for p in parts):
        return None, None
    estimate = estimate_noise(train.states)
    if noise == "robust" or estimate.significant:
        if any(p.shape[1] < 2 * max(lags) + 1 for p in parts):
            raise ValueError(f"the noise-robust lags need three frames at lag {max(lags)}: trajectories of at "
                             f"least {2 * max(lags) + 1} states")
        return estimate, np.maximum(estimate.variance, 0.0)
    return estimate, None


def _measure_network(data, seed: int, neep_kwargs: dict):
    from ..estimator import NEEP
    from .defaults import resolve_fit_params

    params = resolve_fit_params({**neep_kwargs, "data_check": False, "verbose": 0, "seed": seed}, data.discrete)
    est = NEEP(**params).fit(data)
    return est.ep_rate_interval_, None, None


def fit_lags(data: Any, lags, *, method: str = "velocity", seed: int = 0, test_fraction: float = 0.5,
             degree: int = 1, noise: str = "auto", **neep_kwargs: Any) -> LagResult:
    """The EP rate per unit time at each lag and its extrapolation to lag 0 (module doc).

    Parameters
    ----------
    data : Trajectories, TrajectorySet, array or path
        Recorded every ``dt`` (lag 1).
    lags : sequence of int
        Lags in steps (at least two, distinct, >= 1; ``stats.lags.parse_lags``).
    method : {"current", "velocity", "network"}
    seed : int
        Seeds the bootstrap (the same draws at every lag) and the networks.
    test_fraction : float
        Held-out share (split once, by trajectory when M > 1, by time when M = 1).
    degree : int
        Degree of the closed-form current's force polynomial (``method="current"``), and of the
        noise-robust current's where the noise is corrected.
    noise : {"auto", "robust", "off"}
        Localization noise (continuous states): ``"auto"`` measures every lag by the noise-robust
        current when the noise is significant, ``"robust"`` always, ``"off"`` never (module doc).
        ``method="network"`` passes it to the fits.
    **neep_kwargs
        ``method="network"``: parameters of the fits (``neep fit`` defaults otherwise).

    Raises
    ------
    ValueError
        On unknown methods, bad lags, lags that leave too little data.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if noise not in NOISE_MODES:
        raise ValueError(f"noise must be one of {', '.join(NOISE_MODES)}, got {noise!r}")
    lags = sorted({int(k) for k in lags})
    if len(lags) < 2 or lags[0] < 1:
        raise ValueError(f"give at least two distinct lags >= 1, got {lags}")
    data = as_data(data)
    if getattr(data, "metadata", {}).get("jump_data"):
        raise ValueError("lags subsample frames in time; these are jumps (one per step), not frames")
    rows, replicates, layouts, first, robust = [], [], set(), None, None
    train, test = data.split(1.0 - float(test_fraction), min_steps=2 * lags[-1] + 1)
    estimate, variance = _lag_noise(train, method, noise, lags)
    scaling = None if variance is None else tuple(np.asarray(v) for v in input_stats(train, True, seed))
    note = None
    if variance is not None and method == "velocity":
        degree, note = _robust_degree(subsample(train, lags[0]), seed, degree, variance)
    for k in lags:
        if method == "network":
            found, reps, blocks = _measure_network(subsample(data, k), seed, {"test_fraction": test_fraction,
                                                                              "noise": noise, **neep_kwargs})
        elif variance is not None:
            found, reps, blocks, robust = _measure_robust(subsample(train, k), subsample(test, k), seed, variance,
                                                          degree, scaling)
        elif method == "velocity":
            found, reps, blocks, chosen = _measure_velocity(subsample(train, k), subsample(test, k), seed, first)
            first = first if first is not None else chosen
        else:
            found, reps, blocks = _measure_current(subsample(train, k), subsample(test, k), seed, degree)
        rows.append(LagRow(k, data.dt * k, found.value, found.stderr, found.low, found.high))
        replicates.append(reps)
        layouts.add(blocks)
    paired = method != "network" and len(layouts) == 1  # same blocks, same seed: the same draws at every lag
    extrapolation = extrapolate_to_zero([r.tau for r in rows], [r.rate for r in rows], [r.stderr for r in rows],
                                        np.stack(replicates, axis=1) if paired else None)
    exact = getattr(data, "ep_rate_exact", None) if isinstance(data, Trajectories) else None
    closed_form = robust if first is None else getattr(first, "name", "linear_current")
    return LagResult(tuple(rows), extrapolation, method, data.dt, data.dt_known, exact, closed_form, estimate,
                     variance is not None, note)


def _replace(path: Path, write) -> None:
    tmp = path.with_name(f".tmp{os.getpid()}-{path.name}")  # the suffix kept: it names the figure's format
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_lags(output: str | Path, result: LagResult, plots: bool = True) -> dict:
    """Add ``result`` to the run folder ``output``: ``summary.json["lags"]`` and ``rate_vs_lag.png``."""
    output = Path(output)
    summary_path = output / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    summary["lags"] = result.as_dict()
    if plots:
        unit = "per unit time" if result.dt_known else "per step"
        _replace(output / LAG_FIGURE, lambda p: save_figure(plot_rate_against_lag(
            [r.tau for r in result.rows], [r.rate for r in result.rows], [r.stderr for r in result.rows],
            result.extrapolation, exact=result.ep_rate_exact, unit=unit), p))
        summary["figures"] = list(dict.fromkeys([*summary.get("figures", []), LAG_FIGURE]))
    _replace(summary_path, lambda p: p.write_text(json.dumps(summary, indent=2) + "\n"))
    return summary
