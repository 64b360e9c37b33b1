"""Bead-spring figures: Fig. 2 (a-e), Fig. S1 (estimate vs L), Fig. S2 (training vs held-out).

All three share simulations (one file per N and Tc, M x L; shorter L are the
first steps of it) and fits (keyed by N, Tc, L and the fit's sizes). The
exact reference of a per-step estimate is the simulated Euler-Maruyama
chain's mean EP per step (``BeadSpring.ep_per_step``) over dt; it exceeds the
continuous process's rate by about 0.7 % at dt = 0.01 (see
:mod:`neep.simulators.bead_spring`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .cache import Cache
from .config import BeadScale
from .fitting import Progress, fit_cached, fit_key, interval_in, simulate_cached, simulation_key, summary
from .report import PAPER_R2, make_row

__all__ = ["BeadRun", "run_fig2", "run_figS1", "run_figS2", "fig2_bar", "FITS", "simulate_job", "fit_job"]


class BeadRun:
    """Simulations and fits of one bead scale, shared by Fig. 2, S1 and S2."""

    def __init__(self, scale: BeadScale, cache: Cache, seed: int = 0, progress: Progress | None = None):
        self.scale, self.cache, self.seed, self.progress = scale, cache, seed, progress
        self._data: dict[tuple[int, float], Any] = {}

    def model(self, n: int, t_cold: float):
        from neep.simulators import BeadSpring

        return BeadSpring(n=n, t_cold=t_cold, t_hot=self.scale.t_hot, dt=self.scale.dt)

    def exact_rate(self, n: int, t_cold: float) -> float:
        """Exact EP rate per unit time of the simulated chain (mean EP per step / dt)."""
        beads = self.model(n, t_cold)
        return float(beads.ep_per_step / beads.dt)

    def _sim_seed(self, n: int, t_cold: float) -> int:
        return int(np.random.SeedSequence([self.seed, n, int(round(t_cold * 1000))]).generate_state(1)[0])

    def simulation_key(self, n: int, t_cold: float) -> str:
        """Cache key of the simulation behind ``data(n, t_cold)`` (nothing simulated or read)."""
        return simulation_key(self.model(n, t_cold), self.scale.trajectories, self.scale.steps,
                              self._sim_seed(n, t_cold))

    def data(self, n: int, t_cold: float):
        key = (n, float(t_cold))
        if key not in self._data:
            self._data[key] = simulate_cached(
                self.cache, self.model(n, t_cold), f"beads N={n} Tc={t_cold:g}",
                self.scale.trajectories, self.scale.steps, self._sim_seed(n, t_cold), self.progress,
            )
        return self._data[key]

    def split(self, n: int, t_cold: float, length: int):
        """Training and held-out halves (by trajectory) of the first ``length`` states."""
        from neep.estimators import Trajectories

        data = self.data(n, t_cold)
        if length != data.n_steps:
            data = Trajectories.from_array(
                data.states[:, :length], dt=data.dt, exact_ep=data.exact_ep[:, : length - 1], validate=False
            )
        return data.split(0.5)

    def is_detail(self, t_cold: float, length: int) -> bool:
        """Fig. 2(b-e) fits: Tc = 1 (or the lowest Tc) at the full length."""
        return float(t_cold) == min(self.scale.t_colds) and length == self.scale.steps

    def _fit_arguments(self, n: int, t_cold: float, length: int, seeds: int) -> tuple[str, dict, dict]:
        """``label, key_params, keywords`` of the fit's :func:`fit_cached` call (``extras`` aside)."""
        scale = self.scale
        detail = self.is_detail(t_cold, length)
        key_params = {"model": "bead-spring", "n": n, "t_cold": t_cold, "t_hot": scale.t_hot, "dt": scale.dt,
                      "M": scale.trajectories, "L_sim": scale.steps, "L": length, "data_seed": self.seed}
        keywords = dict(kind=scale.kind, seeds=seeds, seed=self.seed, track_train=True, untrained=detail,
                        extras_name=f"beads-detail-{scale.map_bins}" if detail else None)
        return f"beads N={n} Tc={t_cold:g} L={length}", key_params, keywords

    def fit_label(self, n: int, t_cold: float, length: int, seeds: int) -> str:
        return self._fit_arguments(n, t_cold, length, seeds)[0]

    def fit_key(self, n: int, t_cold: float, length: int, seeds: int) -> str:
        """Cache key of ``fit(n, t_cold, length, seeds)`` (nothing simulated, read or fitted)."""
        _, key_params, keywords = self._fit_arguments(n, t_cold, length, seeds)
        return fit_key(key_params, self.scale.fit, **keywords)

    def fit(self, n: int, t_cold: float, length: int, seeds: int) -> tuple[dict, dict]:
        scale = self.scale
        train, test = self.split(n, t_cold, length)
        label, key_params, keywords = self._fit_arguments(n, t_cold, length, seeds)
        extras = None
        if keywords["untrained"]:  # the Fig. 2(b-e) detail fit
            span = 3.0 * np.sqrt(np.diag(self.model(n, t_cold).covariance))
            extras = _detail_extras(scale.map_bins, span)
        doc, arrays = fit_cached(self.cache, label, key_params, train, test, scale.fit, extras=extras,
                                 progress=self.progress, **keywords)
        doc["sizes_text"] = (f"M={scale.trajectories} (half held out), L={length}, "
                             f"{scale.fit.describe(scale.kind)}, {seeds} seeds")
        return doc, arrays


def fig2_fits(scale: BeadScale) -> list[tuple[int, float, int, int]]:
    """``(n, t_cold, length, seeds)`` of every Fig. 2 fit, in the order they run."""
    return [(n, tc, scale.steps, scale.seeds) for n in scale.beads for tc in scale.t_colds]


def figS1_fits(scale: BeadScale) -> list[tuple[int, float, int, int]]:
    """``(n, t_cold, length, seeds)`` of every Fig. S1 fit: the lowest Tc, each L."""
    return [(n, min(scale.t_colds), length, scale.seeds) for n in scale.beads for length in scale.lengths_s1]


def figS2_fits(scale: BeadScale) -> list[tuple[int, float, int, int]]:
    """``(n, t_cold, length, seeds)`` of every Fig. S2 fit: the Fig. 2 / S1 ensemble where one exists
    (same key, reused), otherwise one seed."""
    fits = []
    for n in scale.beads:
        for tc in scale.t_colds_s2:
            for length in scale.lengths_s2:
                shared = (tc in scale.t_colds and length == scale.steps) or (
                    tc == min(scale.t_colds) and length in scale.lengths_s1)
                fits.append((n, tc, length, scale.seeds if shared else 1))
    return fits


#: Figure name -> its fits, ``(n, t_cold, length, seeds)`` (what ``--jobs`` runs ahead, in parallel).
FITS = {"fig2": fig2_fits, "figS1": figS1_fits, "figS2": figS2_fits}


def simulate_job(scale: BeadScale, seed: int, n: int, t_cold: float, cache: Cache, progress: Progress) -> None:
    """Simulate (into the cache) the data of ``(n, t_cold)``: one job of a parallel sweep."""
    BeadRun(scale, cache, seed, progress).data(n, t_cold)


def fit_job(scale: BeadScale, seed: int, n: int, t_cold: float, length: int, seeds: int, cache: Cache,
            progress: Progress) -> None:
    """Fit (into the cache) one bead ensemble: one job of a parallel sweep."""
    BeadRun(scale, cache, seed, progress).fit(n, t_cold, length, seeds)


def _detail_extras(bins: int, span: np.ndarray):
    def extras(estimator, test) -> dict[str, np.ndarray]:
        from neep.estimators import local_ep_rate

        pred = estimator.predict(test)
        exact = np.asarray(test.exact_ep, dtype=np.float32)
        out = {
            "traj_est": pred[0], "traj_exact": exact[0],
            "mean_est": pred.mean(axis=0), "mean_exact": exact.mean(axis=0),
        }
        if test.dim == 2:
            sigma, xe, ye = local_ep_rate(np.asarray(test.states), pred, test.dt, bins,
                                          range_=((-span[0], span[0]), (-span[1], span[1])))
            out.update(map_est=sigma, map_x=xe, map_y=ye)
        return out

    return extras


def fig2_bar(n: int, t_cold: float, t_hot: float) -> tuple[str, float, str]:
    """The issue's bar for an EP-rate estimate: (kind "rel" / "abs" / "zero", tolerance, text)."""
    if t_cold >= t_hot:
        return "zero", 0.005, "|mean| <= 2 standard errors and <= 0.005 (no EP)"
    if t_cold / t_hot <= 0.5:
        tol = (0.05 if t_cold == 1.0 else 0.10) if n == 2 else 0.15
        return "rel", tol, f"within {100 * tol:.0f} %"
    return "abs", 0.005, "within 0.005 absolute"


def _baseline_note(doc: dict) -> str:
    """``; linear current 1.23 [1.2, 1.26]`` when the fit has the closed-form baseline."""
    base = doc.get("baselines", {}).get("linear_current")
    if base is None:
        return ""
    return f"; linear-current baseline {base['value']:.4g} [{base['low']:.4g}, {base['high']:.4g}]"


def _meets(kind: str, tol: float, mean: float, stderr: float, exact: float) -> bool:
    """Whether ``mean`` meets the bar; ``stderr``: the estimate's (its interval's, seeds' spread included).

    The zero bar used the spread over seeds once; an ensemble whose seeds all keep the same closed-form
    start has none, and the interval's standard error is the uncertainty the bar means.
    """
    if kind == "zero":
        return abs(mean) <= 2 * stderr and abs(mean) <= tol
    if kind == "rel":
        return abs(mean - exact) <= tol * abs(exact)
    return abs(mean - exact) <= tol


def run_fig2(run: BeadRun) -> dict[str, Any]:
    """Fig. 2: all fits, the table rows and what the panels need."""
    start = time.perf_counter()
    scale = run.scale
    rows, points, intervals, details, fits = [], {}, {}, {}, {}
    for n, tc, length, seeds in fig2_fits(scale):
        doc, arrays = run.fit(n, tc, length, seeds)
        fits[doc["key"]] = doc["seconds"]
        mean, std = summary(doc["rate_per_seed"])
        exact = run.exact_rate(n, tc)
        kind, tol, text = fig2_bar(n, tc, scale.t_hot)
        rows.append(make_row(
            "fig2", f"(a) EP rate, N={n}, Tc={tc:g}", exact, mean, std, bar=text,
            meets=_meets(kind, tol, mean, doc["interval"]["stderr"], exact), sizes=doc["sizes_text"],
            seconds=doc["seconds"],
            unit="k_B per unit time", interval=interval_in(doc), flags=doc["flags"],
            flag_names=doc["flag_names"],
            note=f"held-out data's own exact mean: {doc['test_ep_per_step'] / doc['dt']:.4g}"
            + _baseline_note(doc),
        ))
        points[(n, tc)] = (mean, std, exact)
        intervals[(n, tc)] = (doc["interval"]["low"], doc["interval"]["high"])
        if run.is_detail(tc, length):
            details[n] = (doc, arrays)
    for n, (doc, _) in details.items():
        if doc["r2_per_seed"]:
            mean, std = summary(doc["r2_per_seed"])
            bar = "R^2 >= 0.99" if n == 2 else None
            rows.append(make_row(
                "fig2", f"(d,e) per-step R^2, N={n}, Tc={min(scale.t_colds):g}", 1.0, mean, std,
                paper=PAPER_R2.get(n), bar=bar, meets=(mean >= 0.99) if n == 2 else None,
                sizes=doc["sizes_text"], seconds=doc["seconds"], note="all held-out steps",
            ))
    return {"rows": rows, "points": points, "intervals": intervals, "details": details,
            "seconds": time.perf_counter() - start, "fit_seconds": sum(fits.values())}


def run_figS1(run: BeadRun) -> dict[str, Any]:
    """Fig. S1: held-out estimate against L at the lowest Tc."""
    start = time.perf_counter()
    scale = run.scale
    rows, points, intervals, fits = [], {}, {}, {}
    for n, tc, length, seeds in figS1_fits(scale):
        exact = run.exact_rate(n, tc)
        doc, _ = run.fit(n, tc, length, seeds)
        fits[doc["key"]] = doc["seconds"]
        mean, std = summary(doc["rate_per_seed"])
        points[(n, length)] = (mean, std, exact)
        intervals[(n, length)] = (doc["interval"]["low"], doc["interval"]["high"])
        rows.append(make_row(
            "figS1", f"EP rate, N={n}, Tc={tc:g}, L={length}", exact, mean, std,
            sizes=doc["sizes_text"], seconds=doc["seconds"], unit="k_B per unit time",
            interval=interval_in(doc), flags=doc["flags"], flag_names=doc["flag_names"],
            note="no bar set: the trend with L is the point" + _baseline_note(doc),
        ))
    return {"rows": rows, "points": points, "intervals": intervals, "seconds": time.perf_counter() - start,
            "fit_seconds": sum(fits.values())}


def run_figS2(run: BeadRun) -> dict[str, Any]:
    """Fig. S2: training-set and held-out estimates over iterations, per N, Tc, L.

    Reuses the Fig. 2 / S1 fits where they exist (same key); otherwise one seed.
    """
    start = time.perf_counter()
    scale = run.scale
    rows, panels, fits = [], {}, {}
    for n, tc, length, seeds in figS2_fits(scale):
        doc, _ = run.fit(n, tc, length, seeds)
        fits[doc["key"]] = doc["seconds"]
        history = [h for h in doc["history"] if h["seed"] == 0]
        exact = run.exact_rate(n, tc)
        panels[(n, tc, length)] = (history, exact)
        last = history[-1]
        train_rate = last.get("train_ep_rate")
        own = last.get("ep_rate_exact")
        rows.append(make_row(
            "figS2", f"validation EP rate at last iteration, N={n}, Tc={tc:g}, L={length}", exact,
            float(last["ep_rate"]), 0.0, sizes=doc["sizes_text"], seconds=doc["seconds"],
            unit="k_B per unit time",
            note=(f"training-subset estimate {train_rate:.4g}; " if train_rate is not None else "")
            + (f"the validation subset's own exact rate {own:.4g}; " if own is not None else "")
            + "seed 0",
        ))
    return {"rows": rows, "panels": panels, "seconds": time.perf_counter() - start,
            "fit_seconds": sum(fits.values())}
