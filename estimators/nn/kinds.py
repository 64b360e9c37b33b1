"""The network kinds, which data each reads, and the default kind for the data (no Keras).

The one place that chooses the model kind: ``NEEP``, ``neep fit``'s defaults
and the command line all call ``choose_kind``.
"""

from __future__ import annotations

__all__ = ["MODEL_KINDS", "default_kind", "choose_kind"]

#: The ``h_theta`` networks (``nn.networks``): the current ansatz, the paper's MLP, an
#: embedding for discrete states, and the GRU over windows (RNEEP).
MODEL_KINDS = ("current", "mlp", "embedding", "gru")


def default_kind(discrete: bool, seq_len: int, odd: bool = False) -> str:
    """"embedding" for integer states, "current" for float pairs, "mlp" for float windows or odd variables.

    With odd variables (velocities) the current ansatz ``F(m) . (z' - z)`` does
    not apply as it is: it is antisymmetric under the even reversal only, and
    the log-ratio of a pair then holds the parity term ``[q(z) + q(z')] / 2``,
    O(1) per step. A version symmetrised under ``eps`` plus a frozen parity
    term was tried and dropped: the position increments are ``v dt`` to
    leading order, so such a "current" represents functions of the state too
    and absorbed the parity network's errors (4.9 for 0.667 in the trap).
    So "mlp", whose reversal flips the odd columns (``nn.layers.Antisymmetric``).
    """
    return "embedding" if discrete else ("current" if int(seq_len) == 2 and not odd else "mlp")


def choose_kind(model: str | None, discrete: bool, seq_len: int, odd: bool = False) -> str:
    """The kind ``model`` names, or the default for the data; ``ValueError`` when it cannot read them.

    Parameters
    ----------
    model : str or None
        One of ``MODEL_KINDS``, or None for ``default_kind``.
    discrete : bool
        Whether the states are integers.
    seq_len : int
        Window length (2: pairs).
    odd : bool
        Whether some columns are odd under time reversal (refuses integer states and "current").
    """
    if model is not None and model not in MODEL_KINDS:
        raise ValueError(f"model must be one of {', '.join(MODEL_KINDS)}, got {model!r}")
    kind = model or default_kind(discrete, seq_len, odd)
    if odd and discrete:
        raise ValueError("odd columns (velocities) need float (continuous) states")
    if odd and kind == "current":
        raise ValueError("model 'current' is antisymmetric under the even reversal only; with odd columns "
                         "(velocities) use 'mlp' (the default) or 'gru'")
    if kind == "current" and discrete:
        raise ValueError("model 'current' needs float (continuous) states, got integer data (use 'embedding')")
    if kind == "embedding" and not discrete:
        raise ValueError("model 'embedding' needs integer (discrete) states, got float data")
    if kind == "mlp" and discrete:
        raise ValueError("model 'mlp' needs float (continuous) states, got integer data (use 'embedding')")
    return kind
