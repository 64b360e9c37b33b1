"""Root of the ``neep`` command: a click group whose subcommands load lazily."""

from __future__ import annotations

import importlib
import os

import click

__all__ = ["cli", "main"]

# name -> "module:attribute"; importing a subcommand module must stay cheap
# (no TensorFlow, no Numba at module level), because `neep --help` imports
# every one of them to print its one-line help.
_SUBCOMMANDS = {
    "simulate": "neep.cli.simulate:simulate",
    "fit": "neep.cli.fit:fit",
    "predict": "neep.cli.predict:predict",
    "reproduce": "neep.cli.reproduce:reproduce",
}


class _LazyGroup(click.Group):
    """A group that imports a subcommand's module only when it is needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in _SUBCOMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = _SUBCOMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            # A subcommand whose module is not written yet is simply absent.
            if error.name == module_name:
                return None
            raise
        return getattr(module, attribute)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("neep")
    except PackageNotFoundError:  # running from a source tree without install
        return "unknown"


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), prog_name="neep")
@click.option(
    "--verbose",
    is_flag=True,
    help="Show TensorFlow's own log messages (hidden by default).",
)
def cli(verbose: bool) -> None:
    """Estimate entropy production from trajectories with neural networks.

    \b
    Typical session:
      neep simulate bead --n 2 --exact-ep -o beads.npy
      neep fit beads.npy -o run/
      neep predict run/model.keras other.npy -o ep.npy

    Run `neep COMMAND --help` for the options of each command.
    """
    # Must happen before the first TensorFlow import (inside fit/predict).
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    """Entry point of the ``neep`` console script."""
    cli(prog_name="neep")


if __name__ == "__main__":  # pragma: no cover
    main()
