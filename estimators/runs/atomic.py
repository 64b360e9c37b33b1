"""Atomic writes: a file (or a folder) appears complete under its name, or not at all.

Everything the package writes for a user (run folders, predictions,
checkpoints, the reproduction's cache and report) goes through here: the
content is written under a hidden temporary name in the target's folder and
renamed into place (``os.replace`` is atomic on one file system), so an
error or Ctrl-C halfway never leaves a half-written file under the real name.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["umask", "atomic_write", "atomic_text", "temporary_folder"]


def umask() -> int:
    """The process's file-creation mask (read without changing it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)``, then rename ``tmp`` to ``path``; on any error remove ``tmp`` and re-raise.

    ``tmp`` is a new file beside ``path`` whose name ends with the target's
    suffix (``.keras``, ``.npy``, ``.npz``: savers that check or append it
    write exactly there). The result has the usual permissions (0666 less the
    umask; ``mkstemp`` alone gives 0600).
    """
    path = Path(path)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(handle)
    try:
        os.chmod(tmp, 0o666 & ~umask())
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_text(path: str | Path, text: str) -> Path:
    """``text`` written to ``path`` atomically (``atomic_write``)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def temporary_folder(target: str | Path) -> Path:
    """A new empty hidden folder beside ``target``, with the usual permissions, to fill and rename into place."""
    target = Path(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name or 'run'}.", suffix=".tmp", dir=target.parent))
    os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes it 0700; a run folder is an ordinary folder
    return tmp
