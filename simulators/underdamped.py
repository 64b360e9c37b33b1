"""Linear underdamped Langevin systems: odd variables (velocities), exact EP, exact sampling.

State ``z = (x, v)`` (positions, then velocities), ``n`` degrees of freedom,
masses ``m``, frictions ``gamma_i``, bath temperatures ``T_i``, a linear force
``-K x`` (``K`` need not be symmetric: a non-conservative force)::

    dx = v dt,   m dv = (-K x - gamma v) dt + sqrt(2 gamma T) dW.

Two systems share the machinery (:class:`_Underdamped`): a particle in a 2-D
harmonic trap with a rotational force (:class:`RotatingTrap`) and two
coupled oscillators between two baths (:class:`CoupledOscillators`). Each is
its own frozen dataclass because their physical parameters, validation and
sidecars differ; everything exact is computed from the matrices ``A``, ``D``
by :class:`GaussianChain`.

Exact results. ``sigma`` from the irreversible current with odd variables
(:attr:`GaussianChain.ep_rate`) equals the heat released into the baths over
their temperatures, ``sum_i gamma_i (<v_i^2> - T_i / m) / T_i``
(:attr:`_Underdamped.ep_rate_heat`; the tests check both). Closed forms:
``2 eps^2 gamma / (gamma^2 k - m eps^2)`` for the trap, and
``kc^2 gamma (T2 - T1)^2 / (2 T1 T2 (m kc^2 + gamma^2 (k + kc)))`` for the
oscillators (heat current over the temperature difference).

Data. Recorded every ``dt`` by the exact discretisation, starting in the
stationary Gaussian: every file is exact samples of the continuous process.
Per step: the pair KL ``D(p(z,z') || p(eps z', eps z))``, the parity KL
``D(p(z) || p(eps z))`` (finite as dt -> 0: the stationary density is not
symmetric under ``v -> -v`` out of equilibrium), and their difference, the
chain's EP per step, ``sigma dt`` up to a relative ``-O(dt^4)`` (-5.5e-11
for the trap at dt = 0.01, -5.5e-7 at dt = 0.1, -0.48 % at dt = 1). The EP
file holds ``r(z, z') - [q(z) + q(z')] / 2`` per step (see
:meth:`GaussianChain.step_ep`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from ._checks import positive as _positive, readonly as _readonly, real as _real
from ._continuous import continuous_outputs, simulate_in_memory
from ._gaussian_chain import GaussianChain

__all__ = ["RotatingTrap", "CoupledOscillators"]


class _Underdamped:
    """Exact values and the sampler protocol of ``m dv = (-K x - gamma v) dt + noise``.

    Subclasses (two degrees of freedom, one mass and one friction for both)
    provide ``mass``, ``gamma``, ``dt``, ``stiffness`` (2, 2), ``temperatures``
    (2,), ``_model`` and ``_parameters()``.
    """

    mass: float
    gamma: float
    dt: float
    _model: str

    stiffness: np.ndarray
    temperatures: np.ndarray

    def _parameters(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    # ----------------------------------------------------------------- matrices
    @property
    def n(self) -> int:
        """Degrees of freedom (the state has ``2 n`` columns)."""
        return 2

    @cached_property
    def masses(self) -> np.ndarray:
        """Mass of each degree of freedom, shape (n,)."""
        return _readonly(np.full(self.n, self.mass))

    @cached_property
    def frictions(self) -> np.ndarray:
        """Friction of each degree of freedom, shape (n,)."""
        return _readonly(np.full(self.n, self.gamma))

    @cached_property
    def drift_matrix(self) -> np.ndarray:
        """``A = [[0, I], [-M^-1 K, -M^-1 Gamma]]``, shape (2n, 2n)."""
        n = self.n
        inv_m = np.diag(1.0 / self.masses)
        a = np.block([[np.zeros((n, n)), np.eye(n)], [-inv_m @ self.stiffness, -inv_m @ np.diag(self.frictions)]])
        return _readonly(a)

    @cached_property
    def diffusion_matrix(self) -> np.ndarray:
        """``D``: zero on positions, ``gamma_i T_i / m_i^2`` on velocities, shape (2n, 2n)."""
        d = np.zeros((2 * self.n, 2 * self.n))
        d[self.n :, self.n :] = np.diag(self.frictions * self.temperatures / self.masses**2)
        return _readonly(d)

    @cached_property
    def parity(self) -> np.ndarray:
        """Time-reversal signs: +1 for positions, -1 for velocities."""
        return _readonly(np.concatenate((np.ones(self.n), -np.ones(self.n))))

    @cached_property
    def chain(self) -> GaussianChain:
        """The exact Gaussian chain at interval ``dt`` (covariance, transition, KLs)."""
        return GaussianChain(self.drift_matrix, self.diffusion_matrix, self.dt, self.parity)

    @property
    def covariance(self) -> np.ndarray:
        """Stationary covariance ``C`` (Lyapunov), shape (2n, 2n)."""
        return self.chain.covariance

    @property
    def columns(self) -> list[str]:
        """Column names: ``x1..xn, v1..vn``."""
        return [f"x{i + 1}" for i in range(self.n)] + [f"v{i + 1}" for i in range(self.n)]

    @property
    def odd_columns(self) -> list[int]:
        """Columns that change sign under time reversal (the velocities)."""
        return list(range(self.n, 2 * self.n))

    # ---------------------------------------------------------------- exact EP
    @property
    def ep_rate(self) -> float:
        """Exact EP rate ``sigma`` per unit time, from the irreversible current (float64)."""
        return self.chain.ep_rate

    @property
    def heat_rates(self) -> np.ndarray:
        """Mean heat per unit time released into each bath: ``gamma_i (<v_i^2> - T_i / m_i)``."""
        velocity_variance = np.diag(self.covariance)[self.n :]
        return self.frictions * (velocity_variance - self.temperatures / self.masses)

    @property
    def ep_rate_heat(self) -> float:
        """``sigma`` again, as heat over temperature: ``sum_i heat_i / T_i``."""
        return float(np.sum(self.heat_rates / self.temperatures))

    @property
    def pair_kl(self) -> float:
        """``D(p(z, z') || p(eps z', eps z))`` per recorded step."""
        return self.chain.pair_kl

    @property
    def parity_kl(self) -> float:
        """``D(p(z) || p(eps z))``: the parity asymmetry of the stationary density."""
        return self.chain.parity_kl

    @property
    def ep_per_step(self) -> float:
        """The recorded chain's exact mean EP per step: ``pair_kl - parity_kl`` (``sigma dt`` up to O(dt^4))."""
        return self.chain.transition_kl

    def step_ep(self, z: Any) -> np.ndarray:
        """Per-step ``r(z, z') - [q(z) + q(z')] / 2`` of trajectories (..., L, 2n): what ``exact_ep`` writes."""
        return self.chain.step_ep(z)

    # ---------------------------------------------------------------- sampling
    def simulate(
        self, trajectories: int, steps: int, seed: int = 0, exact_ep: bool = False, workers: int | None = None
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Simulate in memory: float32 (M, L, 2n), plus float32 (M, L-1) EP when ``exact_ep``."""
        return simulate_in_memory(self, trajectories, steps, seed, exact_ep, workers)

    def outputs(self, trajectories: int, steps: int, exact_ep: bool) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """Arrays a simulation writes: states float32 (M, L, 2n) and, if asked, EP float32 (M, L-1)."""
        return continuous_outputs(trajectories, steps, 2 * self.n, exact_ep)

    def fill(
        self, rng: np.random.Generator, out: dict[str, np.ndarray], initial: dict[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """Fill one chunk in place (sampler protocol); see :meth:`GaussianChain.fill`."""
        return self.chain.fill(rng, out, initial)

    def metadata(self) -> dict[str, Any]:
        """The sidecar's model-specific keys (sampler protocol)."""
        return {
            "model": self._model,
            "state": "continuous",
            "n_states": None,
            "parameters": self._parameters(),
            "dt": self.dt,
            "columns": self.columns,
            "odd_columns": self.odd_columns,
            "ep_rate_exact": self.ep_rate,
            "ep_per_step_exact": self.ep_per_step,
            "ep_per_step_continuous": self.ep_rate * self.dt,
            "pair_kl_per_step": self.pair_kl,
            "parity_kl": self.parity_kl,
            "hidden": False,
            "continuous_time": False,
            "notes": (
                "Underdamped linear Langevin system, state (x, v); odd_columns flip sign under time "
                "reversal. Exact discretisation: every recorded state is an exact sample of the "
                "continuous process, first states from its stationary Gaussian. pair_kl_per_step = "
                "D(p(z,z')||p(eps z',eps z)), parity_kl = D(p(z)||p(eps z)); their difference is "
                "ep_per_step_exact, the recorded chain's EP per step, which equals "
                "ep_per_step_continuous = ep_rate_exact * dt up to a relative O(dt^4) (from below). "
                "The EP file holds r(z,z') - [q(z)+q(z')]/2 per step, r = ln p(z,z')/p(eps z',eps z), "
                "q = ln p(z)/p(eps z)."
            ),
        }


@dataclass(frozen=True)
class RotatingTrap(_Underdamped):
    """A particle in a 2-D harmonic trap with a rotational force: ``F = -k x + torque R x``.

    ``R`` is the rotation by +90 degrees. One bath; out of equilibrium for
    ``torque != 0``, with ``sigma = 2 torque^2 gamma / (gamma^2 k - m torque^2)``.

    Parameters
    ----------
    k : float
        Trap stiffness (> 0).
    torque : float
        Strength of the rotational force (any; stable only for
        ``m torque^2 < gamma^2 k``).
    mass, gamma, temperature : float
        Mass, friction, bath temperature (> 0).
    dt : float
        Recording interval (> 0; exact at any value).

    Examples
    --------
    >>> trap = RotatingTrap()
    >>> round(trap.ep_rate, 6), trap.odd_columns
    (0.666667, [2, 3])
    """

    k: float = 1.0
    torque: float = 0.5
    mass: float = 1.0
    gamma: float = 1.0
    temperature: float = 1.0
    dt: float = 0.01

    _model = "rotating-trap"

    def __post_init__(self) -> None:
        for name in ("k", "mass", "gamma", "temperature", "dt"):
            object.__setattr__(self, name, _positive(name, getattr(self, name)))
        object.__setattr__(self, "torque", _real("torque", self.torque))
        if self.mass * self.torque**2 >= self.gamma**2 * self.k:
            raise ValueError(
                f"torque must satisfy mass * torque^2 < gamma^2 * k (the particle spirals out beyond), "
                f"got torque={self.torque!r}"
            )

    @cached_property
    def stiffness(self) -> np.ndarray:
        """``K = k I - torque R`` (force ``-K x``)."""
        rotation = np.array([[0.0, -1.0], [1.0, 0.0]])
        return _readonly(self.k * np.eye(2) - self.torque * rotation)

    @cached_property
    def temperatures(self) -> np.ndarray:
        return _readonly(np.full(2, self.temperature))

    def _parameters(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ("k", "torque", "mass", "gamma", "temperature", "dt")}


@dataclass(frozen=True)
class CoupledOscillators(_Underdamped):
    """Two masses, each tied to a wall by a spring ``k`` and to each other by ``coupling``, in two baths.

    Mass 1 is in contact with a bath at ``t1``, mass 2 with one at ``t2``;
    heat flows from hot to cold through the coupling spring. Equilibrium
    (zero EP) for ``t1 == t2``.

    Parameters
    ----------
    k, coupling : float
        Wall springs and the spring between the masses (> 0).
    mass, gamma : float
        Mass and friction of each oscillator (> 0).
    t1, t2 : float
        Bath temperatures (> 0).
    dt : float
        Recording interval (> 0; exact at any value).

    Examples
    --------
    >>> round(CoupledOscillators().ep_rate, 6)  # kc^2 gamma (T2 - T1)^2 / (2 T1 T2 (m kc^2 + gamma^2 (k + kc)))
    1.35
    """

    k: float = 1.0
    coupling: float = 1.0
    mass: float = 1.0
    gamma: float = 1.0
    t1: float = 1.0
    t2: float = 10.0
    dt: float = 0.01

    _model = "coupled-oscillators"

    def __post_init__(self) -> None:
        for name in ("k", "coupling", "mass", "gamma", "t1", "t2", "dt"):
            object.__setattr__(self, name, _positive(name, getattr(self, name)))

    @cached_property
    def stiffness(self) -> np.ndarray:
        """``K = [[k + kc, -kc], [-kc, k + kc]]``."""
        k, kc = self.k, self.coupling
        return _readonly(np.array([[k + kc, -kc], [-kc, k + kc]]))

    @cached_property
    def temperatures(self) -> np.ndarray:
        return _readonly(np.array([self.t1, self.t2]))

    def _parameters(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ("k", "coupling", "mass", "gamma", "t1", "t2", "dt")}
