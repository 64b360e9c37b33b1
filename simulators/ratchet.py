"""The discrete flashing ratchet: exact entropy production and fast samplers.

A particle on a ring of three sites in a sawtooth potential ``V_i = i * V``
(``i = 0, 1, 2``) that is switched on and off at rate ``r``. States::

    0, 1, 2   potential on  at sites 0, 1, 2 (energies 0, V, 2V)
    3, 4, 5   potential off at sites 0, 1, 2 (the paper's 0', 1', 2')

Rates (temperature ``T``, ``k_B = 1``)::

    k_ij   = exp(-(V_j - V_i) / (2T))   i != j on-states (all pairs are ring neighbours)
    k_i'j' = 1                          i' != j' off-states
    k_ii'  = k_i'i = r                  switching

Sign of the on-state rates: the paper's text prints ``exp(+(V_j - V_i)/2)``;
its reference code (``toy/ratchet.py``, e.g. ``P[0][1] ~ exp(-V/2T)``) and
Ref. [13] (Roldan & Parrondo) use the minus sign, which is the physical one
(local detailed balance ``k_ij / k_ji = exp(-(V_j - V_i)/T)``, Boltzmann
weights when the switch is frozen). The printed sign is the mirror image
``V -> -V`` of the same ratchet; every EP value is identical under either sign
(``FlashingRatchet(V).ep_per_jump == FlashingRatchet(-V).ep_per_jump``, tested),
and only with the minus sign is the paper's ``sigma = sum p(a, b)(V_a - V_b)``
(heat released into the bath per jump) positive.

Entropy production. Total EP (system + medium). Per unit time of the
continuous-time chain: ``sum_{a,b} p_a k_ab ln(p_a k_ab / (p_b k_ba))``. Per jump
of the embedded jump chain ``P_ab = k_ab / lambda_a`` (``lambda_a`` the escape
rate), stationary ``pi_a ~ p_a lambda_a``:
``sum_{a,b} pi_a P_ab ln(pi_a P_ab / (pi_b P_ba))``. Since
``pi_a P_ab / (pi_b P_ba) = p_a k_ab / (p_b k_ba)``, the stochastic EP of a jump
``a -> b`` is the same number in both descriptions, and
``ep_rate = ep_per_jump / mean_jump_time``. In steady state the system part
``ln(pi_a / pi_b)`` averages to zero, so the mean equals the mean medium EP
``ln(k_ab / k_ba)``, which is ``(V_a - V_b) / T`` for on-state jumps and 0
otherwise: the paper's ``sigma = sum p(a, b)(V_a - V_b)`` (with T = 1). At
r = 1, T = 1: 0.21307 per jump (V = 2), 0.39820 (V = 3); 0.56565 per unit time (V = 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ._checks import real as _real
from ._ratchet_kernels import N_SITES, N_STATES, kernel_tables
from ._partial import PartialEP
from ._ratchet_partial import LARGEST_EXACT_WORD, PARTIAL_MC_SAMPLES, PartialInformationMixin

__all__ = ["FlashingRatchet", "MAX_POTENTIAL_OVER_TEMPERATURE", "LARGEST_EXACT_WORD", "PARTIAL_MC_SAMPLES", "PartialEP"]

#: Largest ``|V| / T`` accepted: rates span ``exp(+-|V|/T)`` and stationary
#: probabilities ``exp(-2|V|/T)``; beyond this the tables leave float64's
#: comfortable range (and the chain would never leave the potential minimum).
MAX_POTENTIAL_OVER_TEMPERATURE = 200.0



def _gth_stationary(rates: np.ndarray) -> np.ndarray:
    """Stationary distribution of an irreducible chain by GTH elimination.

    ``rates`` holds the non-negative off-diagonal rates (a generator) or
    transition probabilities (a stochastic matrix); the diagonal is ignored.
    Grassmann-Taksar-Heyman state reduction is Gaussian elimination on
    ``pi Q = 0`` arranged so that it never subtracts: every stationary
    probability comes out with full relative precision, even the
    ``exp(-2V/T)``-small ones (a null-space or least-squares solve gives them
    only to absolute precision ~1e-16). float64 throughout.
    """
    a = np.array(rates, dtype=np.float64)
    np.fill_diagonal(a, 0.0)
    n = a.shape[0]
    for k in range(n - 1, 0, -1):
        out = a[k, :k].sum()
        a[:k, k] /= out
        a[:k, :k] += np.outer(a[:k, k], a[k, :k])
    pi = np.zeros(n)
    pi[0] = 1.0
    for k in range(1, n):
        pi[k] = pi[:k] @ a[:k, k]
    return pi / pi.sum()


@dataclass(frozen=True)
class FlashingRatchet(PartialInformationMixin):
    """Discrete flashing ratchet with exact stationary state and entropy production.

    Parameters
    ----------
    potential : float
        Height ``V`` of the sawtooth steps (site energies 0, V, 2V). Any finite
        value: ``V < 0`` is the mirror-image ratchet (same EP), ``V = 0`` is in
        equilibrium (zero EP). ``|V| / T`` at most
        :data:`MAX_POTENTIAL_OVER_TEMPERATURE`.
    switching_rate : float
        Rate ``r > 0`` of switching the potential on and off. ``r = 0`` is
        excluded: the chain then splits into two closed classes (on, off) and
        has no unique stationary state.
    temperature : float
        Bath temperature ``T > 0`` (``k_B = 1``).

    Attributes
    ----------
    potentials, rate_matrix, jump_matrix, stationary, jump_stationary,
    escape_rates, mean_jump_time, ep_per_jump, ep_rate
        Exact properties (float64), see each one. All EP values are total EP
        (system + medium), see the module docstring.

    Notes
    -----
    The EP visible in windows of the hidden view, :meth:`partial_ep_per_step`
    and :meth:`partial_ep_per_step_mc`, is inherited from
    ``_ratchet_partial.PartialInformationMixin`` (its own module).

    Examples
    --------
    >>> r = FlashingRatchet(potential=2.0)
    >>> round(r.ep_per_jump, 5), round(r.ep_rate, 5)
    (0.21307, 0.56565)
    """

    potential: float = 2.0
    switching_rate: float = 1.0
    temperature: float = 1.0

    def __post_init__(self) -> None:
        potential = _real("potential", self.potential)
        rate = _real("switching_rate", self.switching_rate)
        temperature = _real("temperature", self.temperature)
        if rate <= 0:
            raise ValueError(f"switching_rate must be > 0, got {rate}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if abs(potential) / temperature > MAX_POTENTIAL_OVER_TEMPERATURE:
            raise ValueError(
                f"potential / temperature must be within +-{MAX_POTENTIAL_OVER_TEMPERATURE:g}, "
                f"got potential={potential} with temperature={temperature}"
            )
        object.__setattr__(self, "potential", potential)
        object.__setattr__(self, "switching_rate", rate)
        object.__setattr__(self, "temperature", temperature)

    # ----------------------------------------------------------------- exact
    @property
    def potentials(self) -> np.ndarray:
        """Energies of the six states, ``(0, V, 2V, 0, 0, 0)`` (off: no potential)."""
        v = self.potential
        return np.array([0.0, v, 2.0 * v, 0.0, 0.0, 0.0])

    @property
    def parameters(self) -> dict[str, float]:
        """Every physical parameter by name (for sidecars)."""
        return {
            "potential": self.potential,
            "switching_rate": self.switching_rate,
            "temperature": self.temperature,
        }

    @cached_property
    def _log_rates(self) -> np.ndarray:
        """``ln k_ab`` (6x6), ``-inf`` where no jump is possible, built from the rules."""
        log_k = np.full((N_STATES, N_STATES), -np.inf)
        energy = self.potentials
        for i in range(N_SITES):
            for j in range(N_SITES):
                if i != j:
                    log_k[i, j] = -(energy[j] - energy[i]) / (2.0 * self.temperature)
                    log_k[i + N_SITES, j + N_SITES] = 0.0
            log_k[i, i + N_SITES] = log_k[i + N_SITES, i] = math.log(self.switching_rate)
        log_k.flags.writeable = False
        return log_k

    @property
    def rate_matrix(self) -> np.ndarray:
        """Generator ``Q`` (6x6): ``Q_ab = k_ab`` off the diagonal, rows sum to 0."""
        q = np.exp(self._log_rates)
        np.fill_diagonal(q, -q.sum(axis=1))
        return q

    @property
    def escape_rates(self) -> np.ndarray:
        """Total rate ``lambda_a = sum_b k_ab`` of leaving each state (6,)."""
        return np.exp(self._log_rates).sum(axis=1)

    @property
    def jump_matrix(self) -> np.ndarray:
        """Embedded jump chain ``P_ab = k_ab / lambda_a`` (6x6, zero diagonal, rows sum to 1)."""
        k = np.exp(self._log_rates)
        return k / k.sum(axis=1, keepdims=True)

    @cached_property
    def _stationary(self) -> np.ndarray:
        p = _gth_stationary(np.exp(self._log_rates))
        p.flags.writeable = False
        return p

    @property
    def stationary(self) -> np.ndarray:
        """Stationary distribution ``p`` of the continuous-time chain, ``p Q = 0`` (6,)."""
        return self._stationary.copy()

    @property
    def jump_stationary(self) -> np.ndarray:
        """Stationary distribution ``pi`` of the jump chain, ``pi P = pi`` (6,).

        Solved from ``P`` itself (not from ``p lambda``; the tests check both agree).
        """
        return _gth_stationary(self.jump_matrix)

    @property
    def mean_jump_time(self) -> float:
        """Mean time per jump in steady state, ``1 / sum_a p_a lambda_a`` (= ``sum_a pi_a / lambda_a``)."""
        return float(1.0 / (self._stationary @ self.escape_rates))

    @cached_property
    def _step_ep(self) -> np.ndarray:
        """Stochastic EP ``ln(pi_a P_ab / (pi_b P_ba))`` of each jump (6x6, NaN if impossible).

        Built in log space (``ln p_a + ln k_ab - ln p_b - ln k_ba``, equal to the
        jump-chain form) so that no small probability underflows.
        """
        log_p = np.log(self._stationary)
        log_flux = log_p[:, None] + self._log_rates
        with np.errstate(invalid="ignore"):
            ep = log_flux - log_flux.T
        ep[~np.isfinite(self._log_rates)] = np.nan
        ep.flags.writeable = False
        return ep

    @property
    def ep_per_jump(self) -> float:
        """Exact mean EP per jump of the jump chain (what the paper's Fig. 3(c) plots)."""
        pi = self.jump_stationary
        p_jump = self.jump_matrix
        possible = np.isfinite(self._log_rates)
        return float(np.sum((pi[:, None] * p_jump * self._step_ep)[possible]))

    @property
    def ep_rate(self) -> float:
        """Exact mean EP per unit time of the continuous-time chain."""
        flux = self._stationary[:, None] * np.exp(self._log_rates)
        possible = np.isfinite(self._log_rates)
        return float(np.sum((flux * self._step_ep)[possible]))

    # ----------------------------------------------------- stochastic EP
    def stochastic_ep(self, states: np.ndarray) -> np.ndarray:
        """Exact total stochastic EP of every jump along given full-state trajectories.

        Entry ``[m, t]`` is ``ln(pi_a P_ab / (pi_b P_ba))`` for the jump
        ``a = states[m, t] -> b = states[m, t + 1]``: system entropy change
        ``ln(pi_a / pi_b)`` plus medium entropy ``ln(P_ab / P_ba)`` of the jump
        chain, which equals ``ln(p_a k_ab / (p_b k_ba))`` of the continuous-time
        chain (the waiting times do not enter). Its steady-state mean is
        :attr:`ep_per_jump`, and it is the optimum ``ln p(a, b) / p(b, a)`` that
        NEEP's objective reaches.

        Parameters
        ----------
        states : array of int, shape (M, L) or (L,)
            Full states 0..5 (not the hidden view), consecutive entries a jump.

        Returns
        -------
        ndarray, float64, shape (M, L - 1) (or (L - 1,) for 1-d input)

        Raises
        ------
        ValueError
            If a state is outside 0..5 or two consecutive states are not a
            possible jump (names the trajectory and step).
        """
        s = np.asarray(states)
        if s.ndim not in (1, 2) or not np.issubdtype(s.dtype, np.integer):
            raise ValueError(f"states must be an integer array of shape (M, L) or (L,), got {s.dtype} {s.shape}")
        s2 = s.reshape(1, -1) if s.ndim == 1 else s
        bad = (s2 < 0) | (s2 >= N_STATES)
        if bad.any():
            m, t = np.argwhere(bad)[0]
            raise ValueError(f"states[{m}, {t}] must be in 0..5, got {s2[m, t]}")
        ep = self._step_ep[s2[:, :-1], s2[:, 1:]]
        impossible = np.isnan(ep)
        if impossible.any():
            m, t = np.argwhere(impossible)[0]
            raise ValueError(
                f"states[{m}, {t}] -> states[{m}, {t + 1}] ({s2[m, t]} -> {s2[m, t + 1]}) is not a possible jump"
            )
        return ep[0] if s.ndim == 1 else ep

    # --------------------------------------------------------- simulation
    def simulate(
        self,
        trajectories: int,
        steps: int,
        seed: int = 0,
        hidden: bool = False,
        continuous_time: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Simulate in memory, first states from the stationary distribution.

        Parameters
        ----------
        trajectories : int
            Number of trajectories ``M >= 1``.
        steps : int
            Number of recorded states ``L >= 1`` per trajectory (``L - 1`` jumps).
        seed : int
            Random seed: the same seed gives the same output, byte for byte the
            arrays ``simulate_to_file`` writes with that seed, whatever the threads.
        hidden : bool
            Record ``state % 3`` (on/off hidden) instead of the full state.
        continuous_time : bool
            Gillespie: also return the time of every state.

        Returns
        -------
        states : int8 ndarray (M, L)
        times : float64 ndarray (M, L), only when ``continuous_time``
        """
        from .ratchet_view import RatchetView  # the sampler builds on this class

        from .io import simulate_to_arrays

        view = RatchetView(self, hidden=hidden, continuous_time=continuous_time)
        out = simulate_to_arrays(view, trajectories, steps, seed=seed)
        return (out["states"], out["times"]) if continuous_time else out["states"]

    @cached_property
    def kernel_tables(self) -> dict[str, np.ndarray]:
        """Compact lookup tables for the Numba kernels (``_ratchet_kernels.kernel_tables``)."""
        return kernel_tables(self._log_rates, self.jump_matrix, self._step_ep, self.jump_stationary,
                             self.escape_rates)
