"""``neep reproduce [FIGURE]... --scale quick -o DIR``: the paper's figures and table, end to end.

Thin: parses, calls :func:`neep.reproduce.reproduce`, prints progress and the
summary. TensorFlow is imported inside the command only.
"""

from __future__ import annotations

import sys

import click

from ._common import user_errors

__all__ = ["reproduce"]

_FIGURES = ("fig2", "figS1", "figS2", "fig3c", "fig3e")


@click.command("reproduce")
@click.argument("figures", nargs=-1, type=click.Choice(_FIGURES))
@click.option("--scale", type=click.Choice(("tiny", "quick", "paper")), default="quick", show_default=True,
              help="Sizes: 'quick' runs everything on a 2-core CPU in under an hour, 'paper' uses the "
                   "paper's sizes (for a GPU), 'tiny' only checks the wiring (seconds, meaningless numbers).")
@click.option("-o", "--output", type=click.Path(file_okay=False), default="neep-paper", show_default=True,
              help="Folder for the PNGs, results.json, results.md and cache/ (its parent must exist). "
                   "An existing folder is resumed: finished simulations and fits are reused.")
@click.option("--seeds", type=click.IntRange(min=1), default=None,
              help="Networks per estimate (error bars: mean +- std over them); default: the scale's.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Base seed of every simulation and fit; the same seed gives the same results.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes: run the independent simulations and fits N at a time, each with its "
                   "share of the cores (C // N threads), then draw the figures from the cache. Same cache "
                   "keys and tables as 1 (one after another in this process); Ctrl-C keeps what finished, "
                   "and the same command resumes. Each worker holds its own data and network in memory.")
@click.option("--quiet", is_flag=True, help="No progress lines (the summary is still printed).")
def reproduce(figures: tuple[str, ...], scale: str, output: str, seeds: int | None, seed: int, jobs: int,
              quiet: bool) -> None:
    """Regenerate the paper's figures and table from simulation to figure.

    FIGURES: any of fig2 (Fig. 2a-e), figS1, figS2, fig3c, fig3e; none means
    all. Writes one PNG per figure and results.json / results.md (exact
    value, the paper's value, ours mean +- std, relative error, sizes, wall
    time, and whether the issue's bar is met).

    \b
    Examples:
      neep reproduce --scale quick -o paper/
      neep reproduce fig2 --scale paper -o paper/
      neep reproduce --scale quick --jobs 2 -o paper/
    """
    from neep.cli.fit import import_tensorflow_quietly
    from neep.reproduce import reproduce as run
    from neep.reproduce.parallel import WorkerError

    def progress(message: str) -> None:
        if not quiet:
            print(message, file=sys.stderr, flush=True)

    with user_errors():
        import_tensorflow_quietly()
        try:
            results = run(figures or None, scale=scale, output=output, seeds=seeds, seed=seed, progress=progress,
                          jobs=jobs)
        except WorkerError as error:
            raise click.ClickException(str(error)) from None
    for name, figure in results["figures"].items():
        rows = figure["rows"]
        judged = [r for r in rows if r.get("meets") is not None]
        met = sum(1 for r in judged if r["meets"])
        click.echo(f"{name}: {len(rows)} rows, bars met {met}/{len(judged)}, {figure['seconds']:.0f} s, "
                   f"{', '.join(figure['pngs'])}")
    click.echo(f"results: {output}/results.md, {output}/results.json")
