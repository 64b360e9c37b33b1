"""Flashing-ratchet figures: Fig. 3(c) (NEEP, full information) and Fig. 3(e) (RNEEP, hidden on/off).

Per-step values are per jump of the embedded jump chain (the paper's "EP
per step"). For Fig. 3(e) the reference of a window length ``n`` is the
partial-information limit: the Kullback-Leibler divergence per step of
observed words of ``n`` sites (``FlashingRatchet.partial_ep_per_step``, what
an ideal RNEEP with windows of ``n`` states reaches). It is exact (all
``3**n`` words enumerated) for ``n <= 13`` and a Monte Carlo estimate over
10^6 sampled words beyond (unbiased; each word's ``ln P(w)/P(reversed w)``
exact by the forward algorithm, ``FlashingRatchet.partial_ep_per_step_mc``),
whose standard error the table's note gives (about 5e-4 relative at V = 2,
n = 128). Earlier versions extrapolated linearly from n = 13 and came out
far too low at n = 128: by 21 % at V = 2, 34 % at V = 1.5, 53 % at V = 1
and 73 % at V = 0.5.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from neep.simulators.ratchet import LARGEST_EXACT_WORD, PARTIAL_MC_SAMPLES, PartialEP

from .beads_plots import DPI, pyplot
from .cache import Cache
from .config import RatchetScale, RneepScale
from .fitting import Progress, fit_cached, fit_key, interval_in, simulate_cached, simulation_key, summary
from .report import make_row

__all__ = ["partial_limit", "run_fig3c", "run_fig3e", "draw_fig3c", "draw_fig3e", "LARGEST_EXACT_WORD",
           "data_key", "simulate_job", "fig3c_fits", "fig3c_fit", "fig3c_key", "fig3e_fits", "fig3e_fit",
           "fig3e_key"]


def partial_limit(potential: float, n: int, samples: int = PARTIAL_MC_SAMPLES, seed: int = 0) -> PartialEP:
    """Partial-information EP per step reachable with windows of ``n`` observed sites.

    Exact for ``n <= LARGEST_EXACT_WORD`` and for ``V = 0`` (equilibrium:
    every observed word is as likely as its reverse, so 0); otherwise the
    Monte Carlo estimate over ``samples`` words with seed ``seed``. The
    result's ``method`` says which, ``stderr`` is 0 when exact.
    """
    from neep.simulators import FlashingRatchet

    if potential == 0:
        return PartialEP(value=0.0, stderr=0.0, n=n, samples=0, method="exact")
    ratchet = FlashingRatchet(potential=potential)
    if n <= LARGEST_EXACT_WORD:
        return PartialEP(value=ratchet.partial_ep_per_step(n, method="exact"), stderr=0.0, n=n, samples=0,
                         method="exact")
    return ratchet.partial_ep_per_step_mc(n, samples=samples, seed=seed)


def _view(potential: float, hidden: bool):
    from neep.simulators import FlashingRatchet, RatchetView

    return RatchetView(FlashingRatchet(potential=potential), hidden=hidden)


def _sim_seed(potential: float, hidden: bool, seed: int) -> int:
    return int(np.random.SeedSequence([seed, int(hidden), int(round(potential * 1000))]).generate_state(1)[0])


def data_key(potential: float, steps: int, hidden: bool, seed: int) -> str:
    """Cache key of the simulation behind ``_data`` (nothing simulated or read)."""
    return simulation_key(_view(potential, hidden), 2, steps, _sim_seed(potential, hidden, seed))


def _data(cache: Cache, potential: float, steps: int, hidden: bool, seed: int, progress):
    label = f"{'hidden ' if hidden else ''}ratchet V={potential:g}"
    data = simulate_cached(cache, _view(potential, hidden), label, 2, steps, _sim_seed(potential, hidden, seed),
                           progress)
    return data.split(0.5)  # one trajectory to train, one held out (the paper's)


def simulate_job(potential: float, steps: int, hidden: bool, seed: int, cache: Cache, progress: Progress) -> None:
    """Simulate (into the cache) one ratchet data set: one job of a parallel sweep."""
    _data(cache, potential, steps, hidden, seed, progress)


def fig3c_fits(scale: RatchetScale) -> list[float]:
    """The potentials V of the Fig. 3(c) fits, in the order they run."""
    return list(scale.potentials)


def _fig3c_arguments(scale: RatchetScale, seed: int, v: float) -> tuple[str, dict, dict]:
    return (f"ratchet V={v:g}", {"model": "flashing-ratchet", "V": v, "L": scale.steps, "data_seed": seed},
            dict(kind="embedding", seeds=scale.seeds, seed=seed))


def fig3c_key(scale: RatchetScale, seed: int, v: float) -> str:
    """Cache key of the Fig. 3(c) fit at ``v`` (nothing simulated, read or fitted)."""
    _, key_params, keywords = _fig3c_arguments(scale, seed, v)
    return fit_key(key_params, scale.fit, **keywords)


def fig3c_fit(scale: RatchetScale, seed: int, v: float, cache: Cache, progress: Progress | None = None):
    """The Fig. 3(c) fit at ``v`` (from the cache when done): ``(document, arrays), test``."""
    train, test = _data(cache, v, scale.steps, False, seed, progress)
    label, key_params, keywords = _fig3c_arguments(scale, seed, v)
    return fit_cached(cache, label, key_params, train, test, scale.fit, progress=progress, **keywords), test


def fig3e_fits(scale: RneepScale) -> list[tuple[float, int]]:
    """``(V, n)`` of every Fig. 3(e) fit, in the order they run."""
    return [(v, n) for v in scale.potentials for n in scale.seq_lens]


def _fig3e_arguments(scale: RneepScale, seed: int, v: float, n: int) -> tuple[str, dict, dict]:
    key_params = {"model": "flashing-ratchet-hidden", "V": v, "L": scale.steps, "data_seed": seed}
    start = scale.warm_from(n)
    if start is not None:  # the start's key: a changed shorter fit changes this one
        key_params["warm_start"] = fig3e_key(scale, seed, v, start)
    # Every fit keeps its network's weights (a few kB): the start of the next longer window.
    return (f"RNEEP V={v:g} n={n}", key_params,
            dict(kind="gru", seq_len=n, seeds=scale.seeds, seed=seed, extras=_network, extras_name="network"))


def _network(estimator, test) -> dict[str, np.ndarray]:
    return {f"network_{i}": w for i, w in enumerate(estimator.model_.antisymmetric.get_weights())}


def fig3e_key(scale: RneepScale, seed: int, v: float, n: int) -> str:
    """Cache key of the Fig. 3(e) fit at ``(v, n)`` (nothing simulated, read or fitted)."""
    _, key_params, keywords = _fig3e_arguments(scale, seed, v, n)
    keywords.pop("extras")
    return fit_key(key_params, scale.fit_for(n), **keywords)


def fig3e_fit(scale: RneepScale, seed: int, v: float, n: int, cache: Cache, progress: Progress | None = None):
    """The Fig. 3(e) fit at ``(v, n)`` (from the cache when done): ``(document, arrays)``.

    With ``scale.long_warm_start``, a fit at ``n >= scale.long_from`` starts from the network of
    the next shorter window at the same ``v`` (fitted first when not in the cache).
    """
    label, key_params, keywords = _fig3e_arguments(scale, seed, v, n)
    start = scale.warm_from(n)
    if start is not None and not cache.path(fig3e_key(scale, seed, v, n), ".json").exists():
        _, arrays = fig3e_fit(scale, seed, v, start, cache, progress)
        keywords["warm_start"] = [arrays[f"network_{i}"] for i in range(sum(k.startswith("network_") for k in arrays))]
    train, test = _data(cache, v, scale.steps, True, seed, progress)
    return fit_cached(cache, label, key_params, train, test, scale.fit_for(n), progress=progress, **keywords)


def run_fig3c(scale: RatchetScale, cache: Cache, seed: int = 0, progress: Progress | None = None) -> dict[str, Any]:
    """Fig. 3(c): NEEP per-step EP against V, ``scale.seeds`` networks per V."""
    from neep.simulators import FlashingRatchet

    start = time.perf_counter()
    rows, points, intervals, fits = [], {}, {}, {}
    for v in fig3c_fits(scale):
        (doc, _), test = fig3c_fit(scale, seed, v, cache, progress)
        fits[doc["key"]] = doc["seconds"]
        mean, std = summary(doc["ep_per_step_per_seed"])
        exact = FlashingRatchet(potential=v).ep_per_jump
        ci = interval_in(doc, per_step=True)
        points[v] = (mean, std, exact)
        intervals[v] = (ci["low"], ci["high"])
        sizes = f"1 x {scale.steps} jumps train + 1 held out, {scale.fit.describe('embedding')}, {scale.seeds} seeds"
        # Sampling error of a held-out mean EP per step: sd(per-step EP) * sqrt(1.2 / steps)
        # (1.2: the cumulative-slope weights); it is not in the seeds' spread (same data for all seeds).
        sampling = float(np.std(np.asarray(test.exact_ep, dtype=np.float64))) * np.sqrt(1.2 / test.exact_ep.size)
        rows.append(make_row(
            "fig3c", f"EP per step, V={v:g}", exact, mean, std, bar="within the seeds' error bar (|err| <= std)",
            meets=abs(mean - exact) <= std, sizes=sizes, seconds=doc["seconds"], unit="k_B per jump",
            interval=ci, flags=doc["flags"], flag_names=doc["flag_names"],
            note=f"held-out trajectory's own exact mean {doc['test_ep_per_step']:.5g}; sampling error of a "
                 f"held-out mean {sampling:.2g}, |ours - exact| = {abs(mean - exact) / sampling:.1f} of it"
                 if sampling > 0 else "no EP: every step reversible",
        ))
    return {"rows": rows, "points": points, "intervals": intervals, "seconds": time.perf_counter() - start,
            "fit_seconds": sum(fits.values())}


def run_fig3e(scale: RneepScale, cache: Cache, seed: int = 0, progress: Progress | None = None) -> dict[str, Any]:
    """Fig. 3(e): RNEEP per-step EP against V for each window length n (hidden on/off)."""
    from neep.simulators import FlashingRatchet

    start = time.perf_counter()
    rows, points, intervals, limits, fits = [], {}, {}, {}, {}
    n_max = max(scale.seq_lens)
    for v in scale.potentials:
        series = []
        for n in scale.seq_lens:
            config = scale.fit_for(n)
            doc, _ = fig3e_fit(scale, seed, v, n, cache, progress)
            fits[doc["key"]] = doc["seconds"]
            mean, std = summary(doc["ep_per_step_per_seed"])
            ci = interval_in(doc, per_step=True)
            reference = partial_limit(v, n)
            limit = reference.value
            points[(v, n)] = (mean, std)
            intervals[(v, n)] = (ci["low"], ci["high"])
            limits[(v, n)] = (limit, reference.stderr)
            series.append(mean)
            how = (f"limit by Monte Carlo over {reference.samples:,} sampled n-words (KL of observed n-words), "
                   f"standard error {reference.stderr:.2g}" if reference.method == "mc"
                   else "limit exact (KL of observed n-words)")
            full = FlashingRatchet(potential=v).ep_per_jump
            is_last = n == n_max
            judged = is_last or n == 32  # the bar: n = 32 and the longest windows
            meets = None
            if judged and limit > 0:
                meets = abs(mean - limit) <= 0.25 * limit
            rows.append(make_row(
                "fig3e", f"RNEEP EP per step, V={v:g}, n={n}", limit, mean, std,
                bar="within 25 % of the partial-information limit" if judged else None, meets=meets,
                sizes=f"1 x {scale.steps} observed jumps train + 1 held out, {config.describe('gru')}, "
                      f"{scale.seeds} seed(s)",
                seconds=doc["seconds"], unit="k_B per jump", interval=ci, flags=doc["flags"],
                flag_names=doc["flag_names"],
                note=f"{how}; full-information EP {full:.4g}; ours/full = {mean / full if full else float('nan'):.3f}",
            ))
        growing = bool(np.all(np.diff(series) > 0))
        rows.append(make_row(
            "fig3e", f"RNEEP grows with n, V={v:g}", None, float(series[-1]), 0.0,
            bar="increasing in n", meets=growing,
            note="values by n: " + ", ".join(f"{n}: {m:.4g}" for n, m in zip(scale.seq_lens, series)),
        ))
    return {"rows": rows, "points": points, "intervals": intervals, "limits": limits,
            "seconds": time.perf_counter() - start,
            "fit_seconds": sum(fits.values())}


def _exact_curve(potentials) -> tuple[np.ndarray, np.ndarray]:
    from neep.simulators import FlashingRatchet

    grid = np.linspace(0.0, max(max(potentials), 0.25), 41)
    return grid, np.array([FlashingRatchet(potential=v).ep_per_jump for v in grid])


def _yerr(mean: np.ndarray, intervals) -> np.ndarray:
    """Asymmetric error bars (2, k) from ``(low, high)`` pairs around ``mean``."""
    low = np.array([lo for lo, _ in intervals])
    high = np.array([hi for _, hi in intervals])
    return np.vstack([np.maximum(mean - low, 0.0), np.maximum(high - mean, 0.0)])


def draw_fig3c(scale: RatchetScale, result: dict[str, Any], path: Path) -> Path:
    """Fig. 3(c): estimated EP per step (error bars over seeds) and the exact curve against V."""
    from neep.estimators.plots import save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.2), layout="constrained")
    grid, exact = _exact_curve(scale.potentials)
    ax.plot(grid, exact, "r--", linewidth=1.2, label="exact")
    vs = sorted(result["points"])
    mean = np.array([result["points"][v][0] for v in vs])
    ax.errorbar(vs, mean, yerr=_yerr(mean, [result["intervals"][v] for v in vs]), fmt="o",
                color="C0", capsize=3, markersize=4, label=f"NEEP ({scale.seeds} seeds, 95 % interval)")
    ax.set_xlabel("potential V [$k_B T$]")
    ax.set_ylabel("EP per step [$k_B$ per jump]")
    ax.set_title("Fig. 3(c): flashing ratchet, full information")
    ax.legend(fontsize="small")
    return save_figure(fig, path, dpi=DPI)


def draw_fig3e(scale: RneepScale, result: dict[str, Any], path: Path) -> Path:
    """Fig. 3(e): RNEEP per step against V for each n, full-information exact curve, log-scale inset."""
    from neep.estimators.plots import save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5.2), layout="constrained")
    grid, exact = _exact_curve(scale.potentials)
    inset = ax.inset_axes((0.09, 0.45, 0.36, 0.38))
    n_max = max(scale.seq_lens)
    vs = sorted({v for (v, _) in result["points"]})
    for target in (ax, inset):
        target.plot(grid, exact, "r--", linewidth=1.2, label="full-information exact")
        for i, n in enumerate(scale.seq_lens):
            mean = np.array([result["points"][(v, n)][0] for v in vs])
            yerr = _yerr(mean, [result["intervals"][(v, n)] for v in vs]) if target is ax else None
            target.errorbar(vs, mean, yerr=yerr, fmt="o-", markersize=3.5,
                            color=f"C{i}", capsize=2, linewidth=0.8, label=f"RNEEP n = {n}")
        limit = [result["limits"][(v, n_max)][0] for v in vs]
        stderr = [result["limits"][(v, n_max)][1] for v in vs]
        target.errorbar(vs, limit, yerr=stderr if target is ax else None, fmt=":", color="k", linewidth=1.2,
                        capsize=2, label=f"partial-information limit, n = {n_max}"
                        + (" (Monte Carlo ± standard error)" if n_max > LARGEST_EXACT_WORD else " (exact)"))
    ax.set_xlabel("potential V [$k_B T$]")
    ax.set_ylabel("EP per step [$k_B$ per jump]")
    ax.set_title("Fig. 3(e): RNEEP with the on/off state hidden (bars: 95 % intervals)")
    ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(0.0, 0.43))
    inset.set_yscale("log")
    inset.set_ylim(1e-5, 1.0)
    inset.tick_params(labelsize="x-small")
    inset.set_title("log scale", fontsize="x-small")
    return save_figure(fig, path, dpi=DPI)
