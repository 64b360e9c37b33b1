"""A folder of finished work keyed by its parameters, so an interrupted reproduction resumes.

Every simulation and every fit is stored under ``<output>/cache/`` with a
name made of its kind and a hash of its parameters (canonical JSON, SHA-256).
A result is written under a temporary name and renamed when complete
(``neep.estimators.runs.atomic``), so a Ctrl-C never leaves a half-written
entry that a later run would trust. Simulations go through
:func:`neep.simulators.simulate_to_file`, which is atomic itself.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from neep.estimators.runs.atomic import atomic_write

__all__ = ["Cache", "parameter_key"]


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    return value


def parameter_key(kind: str, params: dict[str, Any]) -> str:
    """``kind-<16 hex digits>``: the SHA-256 of the parameters as canonical JSON."""
    text = json.dumps(_canonical(params), sort_keys=True, separators=(",", ":"))
    return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


class Cache:
    """Results stored under ``folder`` by key (see :func:`parameter_key`).

    A fit is a JSON document (scalars, histories) plus an optional ``.npz``
    of arrays; the JSON is written last, so its presence marks completion.
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0

    def path(self, key: str, suffix: str) -> Path:
        """``folder/key + suffix``."""
        return self.folder / f"{key}{suffix}"

    def load(self, key: str) -> tuple[dict, dict[str, np.ndarray]] | None:
        """The stored ``(document, arrays)`` of ``key``, or None when absent."""
        doc_path = self.path(key, ".json")
        if not doc_path.exists():
            self.misses += 1
            return None
        document = json.loads(doc_path.read_text())
        arrays: dict[str, np.ndarray] = {}
        npz = self.path(key, ".npz")
        if npz.exists():
            with np.load(npz) as data:
                arrays = {name: data[name] for name in data.files}
        self.hits += 1
        return document, arrays

    def store(self, key: str, document: dict, arrays: dict[str, np.ndarray] | None = None) -> None:
        """Write ``arrays`` (``.npz``) then ``document`` (``.json``), each atomically."""
        if arrays:
            atomic_write(self.path(key, ".npz"), lambda tmp: _save_npz(tmp, arrays))
        text = json.dumps(document, indent=1, default=_json_default)
        atomic_write(self.path(key, ".json"), lambda tmp: Path(tmp).write_text(text))


def _save_npz(temporary: str, arrays: dict[str, np.ndarray]) -> None:
    with open(temporary, "wb") as handle:
        np.savez_compressed(handle, **{k: np.asarray(v) for k, v in arrays.items()})


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in JSON")
