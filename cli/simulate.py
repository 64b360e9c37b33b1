"""``neep simulate``: write trajectories with exactly known entropy production.

Thin: parses options, builds a model from ``neep.simulators``, calls
``simulate_to_file``, prints a summary. Numba is imported inside the commands
only (``neep --help`` must stay cheap).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import click

from ._common import check_output_file, user_errors

__all__ = ["simulate", "bead", "ratchet", "ring", "fpu", "swirl", "underdamped"]

# Where the shared --noise option leaves its value for ``_write`` (click's per-invocation ctx.meta).
_NOISE_KEY = "neep.simulate.noise"


def _remember_noise(ctx: click.Context, _param: click.Parameter, value: float) -> float:
    ctx.meta[_NOISE_KEY] = value
    return value


def _common_options(trajectories: int, steps: int) -> Callable:
    """Options shared by every model, with that model's paper defaults."""

    def decorate(command: Callable) -> Callable:
        options = [
            click.option(
                "--trajectories", type=int, default=trajectories, show_default=True,
                help="Number of independent trajectories M (>= 1).",
            ),
            click.option(
                "--steps", type=int, default=steps, show_default=True,
                help="Recorded states per trajectory L (>= 1); L - 1 steps.",
            ),
            click.option(
                "--seed", type=int, default=0, show_default=True,
                help="Random seed (>= 0): fixes the output byte for byte, whatever --workers.",
            ),
            click.option(
                "--exact-ep", is_flag=True,
                help="Also write the exact EP of every step as PATH.ep.npy (float32, (M, L-1)).",
            ),
            click.option(
                "--noise", type=float, default=0.0, show_default=True, expose_value=False, callback=_remember_noise,
                help="Std of Gaussian localization noise added to every recorded coordinate (continuous states "
                "only); the exact EP stays the noiseless process's.",
            ),
            click.option("--force", is_flag=True, help="Overwrite existing output files."),
            click.option(
                "--workers", type=int, default=None,
                help="Threads to use (default: all available CPUs). Does not change the output.",
            ),
            click.option(
                "-o", "--output", required=True, type=click.Path(dir_okay=False),
                help="Output trajectory file PATH.npy; PATH.json (sidecar) is written beside it.",
            ),
        ]  # fmt: skip
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


@contextmanager
def _option_errors(names: dict[str, str]) -> Iterator[None]:
    """Like ``user_errors``, naming the command-line option instead of the Python parameter."""
    try:
        with user_errors():
            yield
    except click.ClickException as error:
        message = error.message
        for name, option in names.items():
            if message.startswith(name + " must"):
                message = option + message[len(name) :]
                break
        raise click.ClickException(message) from None


_RUN_OPTIONS = {"trajectories": "--trajectories", "steps": "--steps", "seed": "--seed", "workers": "--workers"}


def _output(path: str, force: bool) -> Path:
    if not path.endswith(".npy"):
        raise click.BadParameter(f"{path!r} must end with .npy", param_hint="-o/--output")
    return check_output_file(path, force)


def _size(nbytes: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1000 or unit == "GB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    raise AssertionError  # pragma: no cover


def _write(sampler: Any, output: Path, trajectories: int, steps: int, seed: int, exact_ep: bool,
           force: bool, workers: int | None) -> Any:  # fmt: skip
    """Run ``simulate_to_file`` under a progress bar on stderr; return its result.

    The shared ``--noise`` option (not a parameter of the commands) is read
    here from the click context: nonzero, the sampler is wrapped in
    ``LocalizationNoise``.
    """
    from neep.simulators import LocalizationNoise, simulate_to_file

    noise = click.get_current_context().meta.get(_NOISE_KEY, 0.0)
    if noise != 0.0:
        with _option_errors({"noise": "--noise"}):
            sampler = LocalizationNoise(sampler, noise)

    total = trajectories * steps
    with ExitStack() as stack:
        bar: list[Any] = []  # opened at the first report, so a rejected run prints nothing

        def progress(done: int, _total: int) -> None:
            if not bar:
                bar.append(stack.enter_context(click.progressbar(length=total, label="simulating", file=sys.stderr)))
            bar[0].update(done - bar[0].pos)

        with _option_errors(_RUN_OPTIONS):
            return simulate_to_file(
                sampler, output, trajectories, steps, seed=seed, exact_ep=exact_ep, force=force,
                workers=workers, progress=progress if sys.stderr.isatty() else None,
            )  # fmt: skip


def _summary(result: Any, per_step_label: str, extra: str = "") -> None:
    meta = result.metadata
    files = [p.name for p in (result.sidecar, result.ep_path, result.times_path) if p is not None]
    click.echo(
        f"wrote {result.path}: {result.dtype} {tuple(result.shape)}, "
        f"{_size(result.nbytes)} on disk (with {', '.join(files)})"
    )
    dt = meta["dt"]
    click.echo(
        f"exact EP: {meta['ep_rate_exact']:.6g} per unit time, {meta['ep_per_step_exact']:.6g} per {per_step_label}"
        + (f" (dt = {dt:.6g})" if dt is not None else "")
        + extra
    )
    if "localization_noise" in meta:
        click.echo(f"localization noise: std {meta['localization_noise']:.6g} on every recorded coordinate")
    click.echo(f"{result.seconds:.2f} s (seed {meta['seed']})")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def simulate() -> None:
    """Simulate a benchmark system whose entropy production is known exactly.

    \b
    Writes PATH.npy (memory-mapped, written chunk by chunk under a temporary
    name and renamed when complete), PATH.json (model, parameters, dt, seed,
    exact EP per unit time and per step) and, with --exact-ep, PATH.ep.npy.
    Defaults are the paper's.
    """


@simulate.command()
@click.option("--n", "n", type=int, default=2, show_default=True, help="Number of beads N (>= 1); the paper uses 2 and 5.")
@click.option("--t-cold", type=float, default=1.0, show_default=True, help="Temperature of the first bath Tc (> 0).")
@click.option("--t-hot", type=float, default=10.0, show_default=True, help="Temperature of the last bath Th (> 0).")
@click.option("--k", "k", type=float, default=1.0, show_default=True, help="Spring constant k (> 0).")
@click.option("--gamma", type=float, default=1.0, show_default=True, help="Friction coefficient gamma (> 0).")
@click.option(
    "--dt", type=float, default=0.01, show_default=True,
    help="Time step of the record (> 0); with euler-maruyama also of the chain, below ~gamma/(2k) for stability.",
)  # fmt: skip
@click.option(
    "--scheme", type=click.Choice(["euler-maruyama", "exact"]), default="euler-maruyama", show_default=True,
    help="euler-maruyama: the paper's chain. exact: the continuous process recorded every dt (any dt); "
    "the per-step exact EP is then the recorded chain's forward/reverse KL, below rate x dt.",
)  # fmt: skip
@_common_options(trajectories=1000, steps=10_000)
def bead(n: int, t_cold: float, t_hot: float, k: float, gamma: float, dt: float, scheme: str, trajectories: int,
         steps: int, seed: int, exact_ep: bool, force: bool, workers: int | None, output: str) -> None:  # fmt: skip
    """N beads coupled by springs between a cold and a hot bath (float32 (M, L, N)).

    Temperatures rise linearly from Tc (bead 1) to Th (bead N). The first
    state of every trajectory is drawn from the simulated chain's stationary
    Gaussian, so every step is in steady state. The sidecar's per-step exact
    EP is the Euler-Maruyama chain's (slightly above EP rate x dt, by O(dt)),
    or with --scheme exact the exactly recorded process's (below it).
    """
    names = {name: "--" + name.replace("_", "-") for name in ("n", "t_cold", "t_hot", "k", "gamma", "dt")}
    with _option_errors(names):
        from neep.simulators import BeadSpring

        model = BeadSpring(n=n, t_cold=t_cold, t_hot=t_hot, k=k, gamma=gamma, dt=dt, scheme=scheme)
    path = _output(output, force)
    result = _write(model, path, trajectories, steps, seed, exact_ep, force, workers)
    _summary(result, "step", f"; {result.metadata['ep_rate_exact'] * dt:.6g} = rate x dt")


@simulate.command()
@click.option(
    "--potential", type=float, default=2.0, show_default=True,
    help="Height V of the sawtooth potential (site energies 0, V, 2V).",
)  # fmt: skip
@click.option("--switching-rate", type=float, default=1.0, show_default=True, help="Rate r of switching the potential on/off (> 0).")
@click.option("--temperature", type=float, default=1.0, show_default=True, help="Temperature T (> 0).")
@click.option(
    "--hidden", is_flag=True,
    help="Record only the position (state mod 3: on/off hidden), the paper's partial-information data.",
)  # fmt: skip
@click.option(
    "--continuous-time", is_flag=True,
    help="Gillespie: also write the time of every state as PATH.times.npy (float64 (M, L)).",
)  # fmt: skip
@_common_options(trajectories=1, steps=1_000_000)
def ratchet(potential: float, switching_rate: float, temperature: float, hidden: bool, continuous_time: bool,
            trajectories: int, steps: int, seed: int, exact_ep: bool, force: bool, workers: int | None,
            output: str) -> None:  # fmt: skip
    """The discrete flashing ratchet: int8 states (M, L), one jump per step.

    States 0, 1, 2: potential on at positions 0, 1, 2; 3, 4, 5: the same
    positions with the potential off (with --hidden: 0, 1, 2 only). With
    --hidden, the exact EP in the sidecar and in PATH.ep.npy is the full-information one.
    """
    names = {name: "--" + name.replace("_", "-") for name in ("potential", "switching_rate", "temperature")}
    with _option_errors(names):
        from neep.simulators import FlashingRatchet, RatchetView

        model = FlashingRatchet(potential=potential, switching_rate=switching_rate, temperature=temperature)
        view = RatchetView(model, hidden=hidden, continuous_time=continuous_time)
    path = _output(output, force)
    result = _write(view, path, trajectories, steps, seed, exact_ep, force, workers)
    _summary(result, "jump", " (full information)" if hidden else "")


@simulate.command()
@click.option("--a", "a", type=float, default=1.0, show_default=True, help="Strength a of the quartic ring potential (> 0).")
@click.option("--r0", type=float, default=2.0, show_default=True, help="Radius r0 of the ring (>= 0).")
@click.option("--b", "b", type=float, default=1.0, show_default=True, help="Tilt b along the first coordinate (any).")
@click.option("--w0", type=float, default=0.25, show_default=True, help="Constant part w0 of the drive's angular factor.")
@click.option("--w1", type=float, default=0.05, show_default=True, help="Amplitude w1 of the exp(-U) part of the drive.")
@click.option("--temperature", type=float, default=1.0, show_default=True, help="Bath temperature T (> 0).")
@click.option("--gamma", type=float, default=1.0, show_default=True, help="Friction coefficient gamma (> 0).")
@click.option(
    "--dt", type=float, default=0.01, show_default=True,
    help="Time step of the Euler-Maruyama chain and of the record (> 0, below the stability limit, ~0.053 by default).",
)  # fmt: skip
@_common_options(trajectories=1000, steps=10_000)
def ring(a: float, r0: float, b: float, w0: float, w1: float, temperature: float, gamma: float, dt: float,
         trajectories: int, steps: int, seed: int, exact_ep: bool, force: bool, workers: int | None,
         output: str) -> None:  # fmt: skip
    """A particle on a tilted ring, driven along its level sets: nonlinear, 2-D (float32 (M, L, 2)).

    \b
    U(x) = a (|x|^2 - r0^2)^2 / 4 + b x_1,  f = (w0 + w1 exp(-U)) R grad U,
    gamma dx = (-grad U + f) dt + sqrt(2 gamma T) dW  (R: rotation by +90 degrees).

    The Boltzmann density exp(-U/T) stays stationary and the exact EP rate is
    <|f|^2>/(gamma T). First states are drawn from it, so every step is in
    steady state. The drive turns opposite ways inside and outside the ring,
    so a linear model of the force misses most of the EP (the sidecar's
    ep_rate_linear). The per-step exact EP in the sidecar is the simulated
    Euler-Maruyama chain's own (the KL of its forward and reversed pairs,
    measured with its exact transition densities: what a pair estimator
    converges to), 2 % below rate x dt at dt = 0.01.
    """
    names = {name: "--" + name.replace("_", "-") for name in ("a", "r0", "b", "w0", "w1", "temperature", "gamma", "dt")}
    with _option_errors(names):
        from neep.simulators import DrivenRing

        model = DrivenRing(a=a, r0=r0, b=b, w0=w0, w1=w1, temperature=temperature, gamma=gamma, dt=dt)
    path = _output(output, force)
    result = _write(model, path, trajectories, steps, seed, exact_ep, force, workers)
    meta = result.metadata
    _summary(result, "step", f" (the chain's own, +- {meta['ep_per_step_exact_error']:.2g}; rate x dt = "
                             f"{meta['ep_per_step_continuous']:.6g}); a linear force model can reveal "
                             f"{meta['ep_rate_linear']:.6g} per unit time")


@simulate.command()
@click.option("--n", "n", type=int, default=6, show_default=True, help="Number of beads N (>= 1).")
@click.option("--t-cold", type=float, default=1.0, show_default=True, help="Temperature of the first bath Tc (> 0).")
@click.option("--t-hot", type=float, default=10.0, show_default=True, help="Temperature of the last bath Th (> 0).")
@click.option("--k", "k", type=float, default=1.0, show_default=True, help="Harmonic spring constant k (> 0).")
@click.option("--beta", type=float, default=1.0, show_default=True, help="Quartic spring constant beta (>= 0; 0: linear chain).")
@click.option("--gamma", type=float, default=1.0, show_default=True, help="Friction coefficient gamma (> 0).")
@click.option("--dt", type=float, default=0.01, show_default=True, help="Recorded time step (> 0).")
@click.option(
    "--substeps", type=int, default=10, show_default=True,
    help="Euler-Maruyama steps per recorded step (>= 1); dt/substeps must be below the stability limit.",
)  # fmt: skip
@click.option(
    "--ep-precision", type=float, default=0.003, show_default=True,
    help="Target relative standard error of the reference EP run (> 0); smaller costs more time.",
)  # fmt: skip
@_common_options(trajectories=1000, steps=10_000)
def fpu(n: int, t_cold: float, t_hot: float, k: float, beta: float, gamma: float, dt: float, substeps: int,
        ep_precision: float, trajectories: int, steps: int, seed: int, exact_ep: bool, force: bool,
        workers: int | None, output: str) -> None:  # fmt: skip
    """N beads on anharmonic (FPU-beta) springs between a cold and a hot bath (float32 (M, L, N)).

    \b
    Springs k r^2/2 + beta r^4/4 between neighbours and to both walls, bath
    temperatures linear from Tc to Th. No closed form: before simulating, a
    fixed-seed reference run measures the EP rate (mean heat over T, exact
    forces) to --ep-precision; the sidecar holds it and its standard error.
    With --exact-ep, PATH.ep.npy holds each step's MEDIUM EP (heat over T):
    its mean is rate x dt, but it lacks the unknown system-entropy term.
    """
    fields = ("n", "t_cold", "t_hot", "k", "beta", "gamma", "dt", "substeps", "ep_precision")
    names = {name: "--" + name.replace("_", "-") for name in fields}
    with _option_errors(names):
        from neep.simulators import FPUChain

        model = FPUChain(n=n, t_cold=t_cold, t_hot=t_hot, k=k, beta=beta, gamma=gamma, dt=dt, substeps=substeps,
                         ep_precision=ep_precision)  # fmt: skip
    path = _output(output, force)
    result = _write(model, path, trajectories, steps, seed, exact_ep, force, workers)  # the sidecar runs the reference
    meta = result.metadata
    _summary(result, "step", f" (+- {meta['ep_rate_exact_error']:.2g} per unit time; linear chain: "
                             f"{meta['ep_rate_harmonic']:.6g})")  # fmt: skip


@simulate.command()
@click.option("--k", "k", type=float, default=1.0, show_default=True, help="Stiffness k of the harmonic trap (> 0).")
@click.option("--a", "a", type=float, default=1.0, show_default=True, help="Amplitude a of the egg-crate (any).")
@click.option("--q", "q", type=float, default=2.5, show_default=True, help="Wavenumber q of the egg-crate (> 0).")
@click.option("--w", "w", type=float, default=0.5, show_default=True, help="Strength w of the drive w R grad U (any).")
@click.option("--temperature", type=float, default=1.0, show_default=True, help="Bath temperature T (> 0).")
@click.option("--gamma", type=float, default=1.0, show_default=True, help="Friction coefficient gamma (> 0).")
@click.option(
    "--dt", type=float, default=0.01, show_default=True,
    help="Time step of the Euler-Maruyama chain and of the record (> 0, below the stability limit, ~0.22 by default).",
)  # fmt: skip
@_common_options(trajectories=1000, steps=10_000)
def swirl(k: float, a: float, q: float, w: float, temperature: float, gamma: float, dt: float, trajectories: int,
          steps: int, seed: int, exact_ep: bool, force: bool, workers: int | None, output: str) -> None:  # fmt: skip
    """A particle on an egg-crate in a harmonic trap, driven along its level sets: 2-D (float32 (M, L, 2)).

    \b
    U(x) = k |x|^2 / 2 + a (cos q x_1 + cos q x_2),  f = w R grad U,
    gamma dx = (-grad U + f) dt + sqrt(2 gamma T) dW  (R: rotation by +90 degrees).

    The Boltzmann density exp(-U/T) stays stationary and the exact EP rate is
    <|f|^2>/(gamma T) (quadrature). The drive swirls around every well, so
    linear and cubic force models miss most of the EP (the sidecar's
    ep_rate_linear, ep_rate_cubic). The per-step exact EP in the sidecar is
    the simulated Euler-Maruyama chain's own (the KL of its forward and
    reversed pairs, measured with its exact transition densities: what a pair
    estimator converges to); it differs from rate x dt by O(dt).
    """
    names = {name: "--" + name for name in ("k", "a", "q", "w", "temperature", "gamma", "dt")}
    with _option_errors(names):
        from neep.simulators import Swirl

        model = Swirl(k=k, a=a, q=q, w=w, temperature=temperature, gamma=gamma, dt=dt)
    path = _output(output, force)
    result = _write(model, path, trajectories, steps, seed, exact_ep, force, workers)
    meta = result.metadata
    _summary(result, "step", f" (the chain's own, +- {meta['ep_per_step_exact_error']:.2g}; rate x dt = "
                             f"{meta['ep_per_step_continuous']:.6g}); linear / cubic force models reveal "
                             f"{meta['ep_rate_linear']:.6g} / "
                             f"{meta['ep_rate_cubic']:.6g} per unit time")  # fmt: skip
# ------------------------------------------------------------------ underdamped
@simulate.group()
def underdamped() -> None:
    """Linear underdamped systems: state (x, v), velocities odd under time reversal.

    \b
    Sampled with the exact discretisation (every recorded state is an exact
    sample of the continuous process, at any dt, from its stationary
    Gaussian). Columns x1, x2, v1, v2; the sidecar lists them and the odd ones.
    The sidecar holds the exact EP rate, the pair KL D(p(z,z')||p(eps z',eps z))
    and the parity KL D(p(z)||p(eps z)) per step; their difference is the EP
    per step (rate x dt up to O(dt^4)). --exact-ep writes r(z,z') - [q(z)+q(z')]/2
    per step (r, q: the exact log-ratios of the pair and of one state).
    """


def _underdamped_write(model: Any, trajectories: int, steps: int, seed: int, exact_ep: bool, force: bool,
                       workers: int | None, output: str) -> None:  # fmt: skip
    result = _write(model, _output(output, force), trajectories, steps, seed, exact_ep, force, workers)
    meta = result.metadata
    _summary(
        result, "step",
        f"; pair KL {meta['pair_kl_per_step']:.6g} - parity KL {meta['parity_kl']:.6g} per step",
    )  # fmt: skip


_RECORD_DT = click.option(
    "--dt", type=float, default=0.01, show_default=True, help="Recording interval (> 0; exact at any value)."
)
_MASS = click.option("--mass", type=float, default=1.0, show_default=True, help="Mass m (> 0).")
_GAMMA = click.option("--gamma", type=float, default=1.0, show_default=True, help="Friction coefficient gamma (> 0).")


@underdamped.command()
@click.option("--k", "k", type=float, default=1.0, show_default=True, help="Trap stiffness k (> 0).")
@click.option(
    "--torque", type=float, default=0.5, show_default=True,
    help="Rotational force strength eps: F = -k x + eps R x (stable for m eps^2 < gamma^2 k).",
)  # fmt: skip
@_MASS
@_GAMMA
@click.option("--temperature", type=float, default=1.0, show_default=True, help="Bath temperature T (> 0).")
@_RECORD_DT
@_common_options(trajectories=1000, steps=10_000)
def trap(k: float, torque: float, mass: float, gamma: float, temperature: float, dt: float, trajectories: int,
         steps: int, seed: int, exact_ep: bool, force: bool, workers: int | None, output: str) -> None:  # fmt: skip
    """A particle in a 2-D harmonic trap with a rotational force (float32 (M, L, 4)).

    EP rate 2 eps^2 gamma / (gamma^2 k - m eps^2); zero for --torque 0.
    """
    names = {name: "--" + name for name in ("k", "torque", "mass", "gamma", "temperature", "dt")}
    with _option_errors(names):
        from neep.simulators import RotatingTrap

        model = RotatingTrap(k=k, torque=torque, mass=mass, gamma=gamma, temperature=temperature, dt=dt)
    _underdamped_write(model, trajectories, steps, seed, exact_ep, force, workers, output)


@underdamped.command()
@click.option("--k", "k", type=float, default=1.0, show_default=True, help="Springs to the walls k (> 0).")
@click.option("--coupling", type=float, default=1.0, show_default=True, help="Spring between the masses kc (> 0).")
@_MASS
@_GAMMA
@click.option("--t1", type=float, default=1.0, show_default=True, help="Temperature of mass 1's bath (> 0).")
@click.option("--t2", type=float, default=10.0, show_default=True, help="Temperature of mass 2's bath (> 0).")
@_RECORD_DT
@_common_options(trajectories=1000, steps=10_000)
def oscillators(k: float, coupling: float, mass: float, gamma: float, t1: float, t2: float, dt: float,
                trajectories: int, steps: int, seed: int, exact_ep: bool, force: bool, workers: int | None,
                output: str) -> None:  # fmt: skip
    """Two coupled oscillators, each in its own bath (float32 (M, L, 4)); zero EP for T1 = T2."""
    names = {name: "--" + name for name in ("k", "coupling", "mass", "gamma", "t1", "t2", "dt")}
    with _option_errors(names):
        from neep.simulators import CoupledOscillators

        model = CoupledOscillators(k=k, coupling=coupling, mass=mass, gamma=gamma, t1=t1, t2=t2, dt=dt)
    _underdamped_write(model, trajectories, steps, seed, exact_ep, force, workers, output)
