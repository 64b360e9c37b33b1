"""What ``NEEP(noise=...)`` does with localization noise: detect it, choose the correction, fit the robust current.

``check_noise(train, test, mode)`` estimates the noise on the training
states (``stats.noise.estimate_noise``), decides the correction
(``"off"``: none; ``"robust"``: always; ``"auto"``: robust when the noise is
significant) and, when robust, fits ``baselines.robust`` on the training
data and measures it on the held-out data. The current network is trained
against the noise (``training.noise``) when ``NEEP.fit`` corrects it; other
networks are not, and the report then carries a warning that says so, and
which number to read instead.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..stats.noise import LAGS, NoiseEstimate, estimate_noise
from .estimates import Baseline
from .robust import RobustCurrent, robust_current_baseline

__all__ = ["NOISE_MODES", "NoiseReport", "check_noise"]

#: The values of ``NEEP(noise=...)`` / ``neep fit --noise``.
NOISE_MODES = ("auto", "robust", "off")


@dataclasses.dataclass(frozen=True)
class NoiseReport:
    """The noise estimate, the correction used and its result.

    Attributes
    ----------
    mode : str
        What was asked: ``"auto"``, ``"robust"`` or ``"off"``.
    estimate : stats.noise.NoiseEstimate
    correction : str
        ``"robust"`` (the robust current was fitted) or ``"none"``.
    robust : baselines.Baseline or None
        The robust current on the held-out data (``"robust_current"``).
    degree : int
        Degree of its force polynomial.
    odd : bool
        The data have odd columns (velocities): the robust current, a force of
        even variables, is then never fitted.
    network_corrected : bool
        The network was trained with the noise-corrected objective
        (``training.noise``): its estimate is then not biased low by the noise.
    """

    mode: str
    estimate: NoiseEstimate
    correction: str
    robust: Baseline | None
    degree: int = 1
    odd: bool = False
    network_corrected: bool = False

    @property
    def flag(self) -> str | None:
        """The warning when the noise is significant and the network not corrected for it, else None."""
        return self.warning()

    def warning(self, network: float | None = None) -> str | None:
        """The warning, given the network's estimate ``network`` (same unit), when the noise is significant.

        Noise biases the network low, never high; a robust current below the
        network beyond twice its error is no correction but a force its
        polynomial misses (the driven ring with noise of 15 % of the step:
        degree 1 gives 0.229 where the network gives 1.078 and the truth is
        1.19). It is then not offered as the number to read.
        """
        if not self.estimate.significant:
            return None
        worst = int(np.argmax(np.where(self.estimate.significant_coordinates, self.estimate.ratio, -1.0)))
        noise = (f"localization noise: std {self.estimate.std[worst]:.3g} in coordinate {worst} "
                 f"({100 * self.estimate.ratio[worst]:.0f} % of its step)")
        robust = self.robust
        if self.network_corrected:  # trained against it: a note only when the robust current is reported
            if not self._above(network):
                return None
            return noise + (f"; the network was trained against it, but its midpoint's own noise is left (an "
                            f"O(noise^2) blur of the force), and the noise-robust current is higher: the rate "
                            f"reported is the robust current's ({robust.value:.5g} ± {robust.stderr:.2g}), not "
                            f"the network's ({network:.5g})")
        head = noise + "; the network's estimate is not corrected for it and is biased low"
        if self.odd:
            return head + ("; the noise-robust current assumes even variables, so there is none for data with odd "
                           "columns; the true rate is likely higher")
        if self._above(network):
            return head + (f"; the rate reported is the noise-robust current's ({robust.value:.5g} ± "
                           f"{robust.stderr:.2g}, force polynomial of degree {self.degree}), not the network's "
                           f"({network:.5g})")
        if robust is not None and network is not None and robust.value + 2 * robust.stderr < network:
            return head + (f"; the robust current ({robust.value:.5g} ± {robust.stderr:.2g}, force polynomial of "
                           f"degree {self.degree}) is lower still: its polynomial misses this force, so it is no "
                           "correction (try --baseline-degree 3); the true rate is likely above both")
        if robust is not None and network is not None:  # below the network, within its errors
            return head + (f"; the robust current ({robust.value:.5g} ± {robust.stderr:.2g}, force polynomial of "
                           f"degree {self.degree}) is no higher, so no correction is available; the true rate is "
                           "likely above both")
        if robust is not None:
            return head + f": read {robust.name}, {robust.value:.5g} ± {robust.stderr:.2g}"
        return head + ": fit with --noise robust (NEEP(noise='robust')) for the robust current"

    def reported(self, network):
        """The rate to report: the robust current's interval when the noise is significant and it lies above
        the network's (``network``: its Interval; see ``_above``), else ``network``.

        Noise biases the pair network low (its objective shrinks the force against the
        noise's variance); the robust current is corrected for it to O(S^2), but only within
        its force polynomial, which is otherwise a lower bound. The larger of the two is
        then the better number: on the 2-bead chain (rate 2.025) with noise of 5, 15 and 45 %
        of the step the network gives 1.99, 1.73 and 0.93, the robust current 2.008, 2.007
        and 2.032; on the driven ring at 15 % the linear robust current gives 0.23 and the
        network 1.08 (truth 1.19), which stays the reported value.
        """
        return self.robust.interval if self.estimate.significant and self._above(network.value) else network

    def _above(self, network: float | None) -> bool:
        """Whether the robust current lies above the network's estimate ``network`` (None: unknown).

        A network trained against the noise starts at the robust linear current and is
        biased only by its midpoint's own noise: the robust current must then lie above it
        by two of its standard errors (on the 2-bead chain at 5 % the two agreed to 5
        digits, and "above" by a hair swapped one number for the same one, with a note).
        """
        if self.robust is None or network is None:
            return False
        margin = 2.0 * self.robust.stderr if self.network_corrected else 0.0
        return self.robust.value > network + margin

    def extend(self, baselines: dict, flags: list, network: float | None = None) -> tuple[dict, list]:
        """``baselines`` with the robust current added (if fitted), ``flags`` with the warning (if any).

        ``network``: the network's estimate, to judge the robust current against (``warning``).
        """
        extra = {} if self.robust is None else {self.robust.name: self.robust}
        warning = self.warning(network)
        return {**baselines, **extra}, list(flags) + ([] if warning is None else [warning])

    def describe(self) -> str:
        """One line for ``neep fit``: the noise and what was done about it."""
        done = {"robust": "corrected: robust current", "none": "no correction"}[self.correction]
        if self.network_corrected:
            done = "corrected: the network trained against it" + (", robust current beside it"
                                                                   if self.robust is not None else "")
        return f"{self.estimate.describe()}; {done} (--noise {self.mode})"

    def as_dict(self, network: float | None = None) -> dict:
        """JSON-ready; ``warning``: whether ``warning(network)`` says anything (``network``: the network's rate)."""
        return {**self.estimate.as_dict(), "mode": self.mode, "correction": self.correction,
                "robust_current": None if self.robust is None else self.robust.as_dict(),
                "warning": self.warning(network) is not None, "network_corrected": self.network_corrected,
                "degree": self.degree}


def check_noise(train, test, mode: str = "auto", *, dt: float = 1.0, degree: int = 1, mean=None, std=None,
                seed: int = 0, replicates: int = 2000, odd: bool = False, network_corrected: bool = False,
                fitted: RobustCurrent | None = None, estimate: NoiseEstimate | None = None) -> NoiseReport | None:
    """Estimate the noise on ``train`` and apply ``mode`` (see the module doc).

    ``train``, ``test``: continuous states ``(M, L, d)`` (or tuples of parts,
    or ``Trajectories``). ``degree``: of the robust current's force polynomial.
    ``mean``, ``std``: the standardization of the fit. ``odd``: the data
    have odd columns (no robust current: it assumes even variables).
    ``network_corrected``: the network was trained against the noise (the
    report says so). ``fitted``: a degree-1 robust current already fitted on
    ``train`` with this noise (the corrected network's start), reused when
    ``degree`` is 1. ``estimate``: the noise of ``train`` already estimated.
    None for discrete states or a trajectory under ``LAGS + 2`` states (nothing to judge).
    """
    if mode not in NOISE_MODES:
        raise ValueError(f"noise must be one of {', '.join(NOISE_MODES)}, got {mode!r}")
    train, test = getattr(train, "states", train), getattr(test, "states", test)
    parts = train if isinstance(train, tuple) else (train,)
    if any(p.ndim != 3 or not np.issubdtype(p.dtype, np.floating) or p.shape[1] < LAGS + 2 for p in parts):
        return None
    estimate = estimate_noise(train) if estimate is None else estimate
    robust = not odd and (mode == "robust" or (mode == "auto" and estimate.significant))
    baseline = None
    if robust:
        reuse = fitted if fitted is not None and fitted.degree == degree else None
        baseline = robust_current_baseline(train, test, estimate.variance, dt=dt, degree=degree, mean=mean,
                                           std=std, seed=seed, replicates=replicates, fitted=reuse)
    return NoiseReport(mode=mode, estimate=estimate, correction="robust" if robust else "none", robust=baseline,
                       degree=degree, odd=odd, network_corrected=network_corrected)
