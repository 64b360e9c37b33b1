"""The model file of a fitted ``NEEP`` (``.keras``): written and read, with one-line errors.

``write_model`` refuses a name that does not end in ``.keras`` (Keras would
pick another format); ``read_model`` turns Keras' many kinds of load errors,
and files that hold some other model, into one ``ValueError`` naming the file.
"""

from __future__ import annotations

from pathlib import Path

import keras

from .model import NEEPModel

__all__ = ["write_model", "read_model"]


def write_model(model: NEEPModel, path: str | Path) -> Path:
    """Save ``model`` to ``path``, a ``.keras`` file; return the path.

    Raises
    ------
    ValueError
        When ``path`` does not end in ``.keras``.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"model file must end in .keras, got {str(path)!r}")
    model.save(path)
    return path


def read_model(path: str | Path) -> NEEPModel:
    """The ``NEEPModel`` in the ``.keras`` file ``path``, uncompiled.

    Raises
    ------
    ValueError
        When the file is missing, cannot be loaded, or holds no NEEP model.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"model file not found: {str(path)!r}")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as err:  # keras raises many kinds; report one line
        raise ValueError(f"cannot load model {str(path)!r}: {err}") from None
    if not isinstance(model, NEEPModel):
        raise ValueError(f"{str(path)!r} is not a NEEP model")
    return model
