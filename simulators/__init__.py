"""Benchmark systems with exactly known entropy production, and fast Numba samplers.

- :class:`BeadSpring`: N beads between a cold and a hot bath (continuous states).
- :class:`DrivenRing`: a particle in a tilted Mexican-hat potential driven along
  its level sets (nonlinear, 2-D, continuous states).
- :class:`FPUChain`: the bead chain with anharmonic (FPU-beta) springs; EP
  rate measured with a standard error along exact fine paths.
- :class:`Swirl`: a particle on an egg-crate in a harmonic trap driven along
  its level sets (2-D, a force no low-degree polynomial represents).
- :class:`FlashingRatchet`: the discrete flashing ratchet; :class:`RatchetView`
  chooses what is recorded (jump chain, continuous time, hidden on/off).
- :class:`RotatingTrap`, :class:`CoupledOscillators`: linear underdamped systems
  (positions and velocities; velocities are odd under time reversal), sampled exactly.
- :class:`LocalizationNoise`: wraps a continuous sampler, adds Gaussian noise to
  the recorded states (the exact EP stays the underlying process's).
- :func:`simulate_to_file`: chunked, parallel, reproducible writer of
  memory-mapped trajectory files (``PATH.npy`` + ``PATH.json`` sidecar).
"""

from .bead_spring import BeadSpring
from .driven_ring import DrivenRing
from .fpu_chain import EPEstimate, FPUChain
from .ratchet import FlashingRatchet
from .ratchet_view import RatchetView
from .swirl import Swirl
from .underdamped import CoupledOscillators, RotatingTrap
from .noise import LocalizationNoise
from .io import FORMAT, Sampler, SimulationResult, chunk_plan, simulate_to_arrays, simulate_to_file

__all__ = [
    "BeadSpring",
    "CoupledOscillators",
    "DrivenRing",
    "EPEstimate",
    "FPUChain",
    "FORMAT",
    "FlashingRatchet",
    "LocalizationNoise",
    "RatchetView",
    "RotatingTrap",
    "Sampler",
    "SimulationResult",
    "Swirl",
    "chunk_plan",
    "simulate_to_arrays",
    "simulate_to_file",
]
