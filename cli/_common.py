"""Pieces shared by several subcommands: output-path checks and error reporting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

__all__ = ["check_output_file", "check_output_dir", "user_errors"]


def check_output_file(path: str | Path, force: bool, param: str = "-o/--output") -> Path:
    """Validate a file we are about to create; return it as a ``Path``.

    Raises ``click.BadParameter`` (one line, no traceback) when the folder
    does not exist or the file exists and ``force`` is false.
    """
    path = Path(path)
    if not path.parent.exists() and str(path.parent) not in ("", "."):
        raise click.BadParameter(f"folder {str(path.parent)!r} does not exist", param_hint=param)
    if path.is_dir():
        raise click.BadParameter(f"{str(path)!r} is a folder, expected a file name", param_hint=param)
    if path.exists() and not force:
        raise click.BadParameter(f"{str(path)!r} exists (use --force to overwrite)", param_hint=param)
    return path


def check_output_dir(path: str | Path, force: bool, param: str = "-o/--output") -> Path:
    """Validate an output folder: its parent must exist; an existing non-empty one needs ``force``."""
    path = Path(path)
    if not path.parent.exists():
        raise click.BadParameter(f"folder {str(path.parent)!r} does not exist", param_hint=param)
    if path.exists() and not path.is_dir():
        raise click.BadParameter(f"{str(path)!r} exists and is not a folder", param_hint=param)
    if path.is_dir() and any(path.iterdir()) and not force:
        raise click.BadParameter(f"{str(path)!r} is not empty (use --force to overwrite)", param_hint=param)
    return path


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the library's ``ValueError`` / ``OSError`` into one-line CLI errors.

    The library raises ``ValueError`` with a message that names the bad
    parameter and its value; the command shows that line and exits 1, with
    no traceback.
    """
    try:
        yield
    except (ValueError, OSError) as error:
        raise click.ClickException(str(error)) from None
