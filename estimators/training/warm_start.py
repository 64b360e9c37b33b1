"""Starting a fit from another fit's network (``NEEP(warm_start=...)``): a curriculum in window length.

A GRU reads windows of any length, so a network trained on short windows is a
start for longer ones: on the hidden flashing ratchet (10^6 jumps, V = 1.5 and
1), a GRU trained at n = 32 and continued at n = 64, then at n = 128, ended
12-19 % below the partial-information limits where the same budget from a
fresh network at n = 128 ended 35-45 % below, in half the time
(benchmarks/RESULTS-estimators.md, session 5). Short windows are cheaper per
step on a CPU (a GRU's cost grows with the window's length, not only with its
states) and carry the short-range irreversibility; the long windows then only
have to add what lies beyond.

The start is the source's *network* (the antisymmetric ``h``): its weights are
copied into the new model after it is built; the moving average starts afresh
from them (the first update copies the weights), and the optimizer starts
anew. Any source with the same network shapes works: another window length,
more data, or another data set of the same system.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["start_weights", "set_start_weights"]


def _from_path(path: Path):
    from ..nn.model_file import read_model

    if path.is_dir():  # a run folder of `neep fit`
        path = path / "model.keras"
    if not path.exists():
        raise ValueError(f"warm_start: no model file {str(path)!r} (a .keras file of NEEP.save or a run folder)")
    return read_model(path)


def start_weights(source: Any, kind: str) -> list[np.ndarray] | None:
    """The network weights a fit of model ``kind`` starts from, or None.

    Parameters
    ----------
    source : None, NEEP, NEEPModel, path or sequence of arrays
        A fitted ``NEEP`` (its best seed), a ``NEEPModel``, a ``.keras``
        file written by ``NEEP.save`` or a ``neep fit`` run folder, or the
        network's weights themselves (``model.antisymmetric.get_weights()``).
    kind : str
        The model kind of the fit; a source of another kind is refused.

    Raises
    ------
    ValueError
        For a missing file, an unfitted estimator, or another model kind.
    """
    if source is None:
        return None
    if isinstance(source, (str, Path)):
        source = _from_path(Path(source))
    if hasattr(source, "get_params"):  # a NEEP estimator
        if getattr(source, "model_", None) is None:
            raise ValueError("warm_start: this NEEP is not fitted yet: fit it (or NEEP.load) first")
        source = source.model_
    network = getattr(source, "antisymmetric", None)
    if network is not None:
        if getattr(source, "kind", kind) != kind:
            raise ValueError(f"warm_start: a {source.kind} model cannot start a {kind} fit")
        return [np.asarray(w) for w in network.get_weights()]
    if isinstance(source, Sequence) and not isinstance(source, (str, bytes)) and source:
        try:
            return [np.asarray(w, dtype=np.float32) for w in source]
        except (TypeError, ValueError):
            pass
    raise ValueError("warm_start must be a fitted NEEP, a .keras model file or run folder, or a list of the "
                     f"network's weight arrays; got {type(source).__name__}")


def set_start_weights(model, weights: list[np.ndarray]) -> None:
    """Copy ``weights`` into the built ``model``'s network; ``ValueError`` when the shapes differ."""
    network = model.antisymmetric
    shapes = [tuple(v.shape) for v in network.weights]  # no copy of the values
    given = [tuple(np.shape(w)) for w in weights]
    if shapes != given:
        raise ValueError(f"warm_start: its network has weights of shapes {given}, this fit's network {shapes}: "
                         "use the same model kind, hidden_units, layers and embedding_dim (and data dimension "
                         "or number of states)")
    network.set_weights(weights)
