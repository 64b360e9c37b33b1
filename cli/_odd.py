"""``neep fit --odd``: the odd columns of the data, or a one-line refusal of velocities given as positions.

Runs before TensorFlow loads (NumPy only), so that the refusal takes a
fraction of a second.
"""

from __future__ import annotations

import click
from neep.estimators.data.odd import find_velocities, resolve_odd, sidecar_columns

__all__ = ["odd_columns", "odd_lines"]


def _names(columns, indices) -> str:
    return ",".join(columns[i] if columns else str(i) for i in indices)


def odd_columns(data, odd: str | None, model: str | None) -> tuple | None:
    """The 0-based odd columns for ``NEEP(odd=...)``, or None; ``click`` errors in one line.

    ``--odd`` given: resolved by name (the sidecar's ``columns``) or index.
    Not given: the sidecar's ``odd_columns`` when it lists them (said on
    stderr); else, for continuous data with columns that match another
    column's increments / dt, a refusal naming them and the option.
    """
    if data.discrete:
        if odd is not None:
            raise click.BadParameter("odd columns need continuous states, these are discrete", param_hint="--odd")
        return None
    columns = sidecar_columns(data)
    if odd is not None:
        try:
            found = resolve_odd(odd, data.dim, columns)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--odd") from None
    else:
        meta = getattr(data, "metadata", None) or {}
        listed = (meta.get("parts") or [meta])[0].get("odd_columns")
        if listed:
            found = tuple(int(i) for i in listed)
            click.echo(f"neep fit: odd columns {_names(columns, found)} (velocities) from the sidecar; "
                       "--odd overrides", err=True)
        else:
            matches = find_velocities(data.states, data.dt)
            if matches:
                vel = [m.velocity for m in matches]
                pairs = ", ".join(f"{_names(columns, [m.velocity])} ~ d{_names(columns, [m.position])}/dt "
                                  f"(corr {m.correlation:.3f})" for m in matches)
                by_index = ",".join(str(i) for i in vel)
                alternative = f" (or --odd {by_index} by index)" if columns else ""
                raise click.ClickException(
                    f"columns {_names(columns, vel)} look like velocities ({pairs}); velocities flip sign under "
                    f"time reversal: give --odd {_names(columns, vel)}{alternative}")
            return None
    if model == "current":
        raise click.BadParameter("the current model is antisymmetric under the even reversal only; with odd "
                                 "columns use mlp (the default) or gru", param_hint="--model")
    return found


def odd_lines(summary: dict) -> list[str]:
    """The lines of ``neep fit``'s report on the parity subtraction (none without odd columns)."""
    odd = summary.get("odd")
    if not odd:
        return []
    unit, g, n = summary["rate_unit"], odd["gaussian"], odd["network"]
    reported = odd.get("reported", "network")
    return [f"odd columns  {odd['odd_columns']}: EP = r - [q(z) + q(z')] / 2 per step; pair KL "
            f"{odd['network_pair_kl_per_step']:.5g} - parity KL {odd['network_parity_kl']:.5g} per step (network)",
            f"network      {n['value']:.5g} ± {n['stderr']:.2g} {unit}" + (" (reported above)" if reported == "network"
                                                                         else " (not reported: see the warning)"),
            f"gaussian     {g['value']:.5g} ± {g['stderr']:.2g} {unit} (closed form of a linear system, step by "
            f"step; parity KL {odd['gaussian_parity_kl']:.5g})" + (" (reported above)" if reported == "gaussian"
                                                                   else "")] + _cubic_line(odd, unit)


def _cubic_line(odd: dict, unit: str) -> list[str]:
    """The cubic transition's line, where held-out likelihood chose it over the linear one."""
    c, choice = odd.get("cubic"), odd.get("transition") or {}
    if not c:
        return []
    return [f"cubic        {c['value']:.5g} ± {c['stderr']:.2g} {unit} (transition log-ratio with a cubic drift; "
            f"held-out likelihood {choice.get('gain_sigmas', float('nan')):.0f} paired errors above the linear one)"
            + (" (reported above)" if odd.get("reported") == "cubic" else "")]
