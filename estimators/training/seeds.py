"""Independent seeds: one per seed of a fit, per resumed stream, per process.

A fit seeded ``seed`` trains its ``k``-th network from ``seed_for(seed, k)``;
``SeedSequence`` makes the streams independent, so seed ``k`` gets the same
numbers whatever the ensemble size.
"""

from __future__ import annotations

import numpy as np

__all__ = ["seed_for"]


def seed_for(seed: int, k: int) -> int:
    """The seed of seed index ``k`` of a fit seeded ``seed`` (independent streams)."""
    return int(np.random.SeedSequence([int(seed), int(k)]).generate_state(1)[0] % (2**31 - 1))
