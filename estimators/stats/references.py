"""What the estimate of data with hidden states should be compared with.

A simulator's sidecar gives the EP of the full process. When the recorded
states hide part of it (``"hidden": true``: the flashing ratchet's position
without its on/off state), that value is an upper bound, not a target: an
ideal estimator on windows of ``n`` recorded states reaches the
partial-information limit ``D_n / (n - 1)`` (the KL divergence of forward and
reversed words; see ``neep.simulators.FlashingRatchet.partial_ep_per_step``),
which grows with ``n`` towards the KL rate of the observed process and stays
below the full EP.

``partial_reference(metadata, seq_len)`` returns that limit for the models
that know it (the flashing ratchet: exact for n <= 13, Monte Carlo beyond,
about 0.1 % standard error), else None. The lookup imports the simulator
only for such data.
"""

from __future__ import annotations

from typing import Any

__all__ = ["hides_states", "partial_reference"]


def hides_states(metadata: dict[str, Any] | None) -> bool:
    """Whether the sidecar says the recorded states hide part of the process."""
    return bool((metadata or {}).get("hidden"))


def partial_reference(metadata: dict[str, Any] | None, seq_len: int) -> float | None:
    """EP per step that windows of ``seq_len`` recorded states can reveal, when the model is known."""
    metadata = metadata or {}
    if not hides_states(metadata) or metadata.get("model") != "flashing-ratchet":
        return None
    try:
        from neep.simulators import FlashingRatchet

        ratchet = FlashingRatchet(**metadata.get("parameters", {}))
        return float(ratchet.partial_ep_per_step(int(seq_len)))
    except (ImportError, TypeError, ValueError):  # other parameters or versions: no reference
        return None
