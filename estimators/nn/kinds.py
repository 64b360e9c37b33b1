"""The network kinds, which data each reads, and the default kind for the data (no Keras).

The one place that chooses the model kind: ``NEEP``, ``neep fit``'s defaults
and the command line all call ``choose_kind``.
"""

from __future__ import annotations

__all__ = ["MODEL_KINDS", "default_kind", "choose_kind"]

#: The ``h_theta`` networks (``nn.networks``): the current ansatz, the paper's MLP, an
#: embedding for discrete states, and the GRU over windows (RNEEP).
MODEL_KINDS = ("current", "mlp", "embedding", "gru")


def default_kind(discrete: bool, seq_len: int) -> str:
    """"embedding" for integer states, "current" for float pairs, "mlp" for float windows."""
    return "embedding" if discrete else ("current" if int(seq_len) == 2 else "mlp")


def choose_kind(model: str | None, discrete: bool, seq_len: int) -> str:
    """The kind ``model`` names, or the default for the data; ``ValueError`` when it cannot read them.

    Parameters
    ----------
    model : str or None
        One of ``MODEL_KINDS``, or None for ``default_kind``.
    discrete : bool
        Whether the states are integers.
    seq_len : int
        Window length (2: pairs).
    """
    if model is not None and model not in MODEL_KINDS:
        raise ValueError(f"model must be one of {', '.join(MODEL_KINDS)}, got {model!r}")
    kind = model or default_kind(discrete, seq_len)
    if kind == "current" and discrete:
        raise ValueError("model 'current' needs float (continuous) states, got integer data (use 'embedding')")
    if kind == "embedding" and not discrete:
        raise ValueError("model 'embedding' needs integer (discrete) states, got float data")
    if kind == "mlp" and discrete:
        raise ValueError("model 'mlp' needs float (continuous) states, got integer data (use 'embedding')")
    return kind
