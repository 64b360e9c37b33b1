"""Sizes of a reproduction: the paper's, and smaller scales that fit a laptop CPU or a test.

Three scales (:data:`SCALES`): ``"paper"`` (the paper's sizes, for a GPU),
``"quick"`` (all figures on a 2-core CPU in under an hour) and ``"tiny"``
(seconds: the tests' wiring check, numbers meaningless). Every scale is a
frozen :class:`Scale` of per-family dataclasses; each says in ``notes`` how it
differs from the paper. Values the paper does not state (e.g. the iterations
of the bead fits) are marked "assumed".
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BEAD_KINDS", "FitConfig", "BeadScale", "RatchetScale", "RneepScale", "Scale", "SCALES", "get_scale"]


#: NEEP models that read continuous pairs (the bead fits).
BEAD_KINDS = ("mlp", "current")


def _check_int(name: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")


@dataclass(frozen=True)
class FitConfig:
    """Hyper-parameters of one NEEP / RNEEP fit (passed to :class:`neep.estimators.NEEP`).

    ``final_learning_rate``: when set, the learning rate decays geometrically
    from ``learning_rate`` to it over the run (one step per evaluation); None
    keeps it constant (the paper's). ``restore_best``: keep the weights of
    the best validation objective (the paper's); False keeps the last
    (moving-average) weights, as ``neep fit`` does for gru.
    """

    hidden_units: int
    layers: int
    iterations: int
    batch_size: int = 4096
    learning_rate: float = 1e-4
    final_learning_rate: float | None = None
    weight_decay: float = 5e-5
    embedding_dim: int = 128
    evaluations: int = 20
    eval_samples: int = 131072
    restore_best: bool = True

    def __post_init__(self) -> None:
        for name in ("hidden_units", "layers", "iterations", "batch_size", "embedding_dim", "evaluations", "eval_samples"):
            _check_int(name, getattr(self, name))
        _check_positive("learning_rate", self.learning_rate)
        if self.final_learning_rate is not None:
            _check_positive("final_learning_rate", self.final_learning_rate)
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")

    @property
    def eval_every(self) -> int:
        """Iterations between held-out evaluations."""
        return max(1, self.iterations // self.evaluations)

    def describe(self, kind: str) -> str:
        """Short text for the results table, e.g. ``"mlp 3x64, 3000 it, batch 1024, lr 3e-3->1e-4"``."""
        lr = f"{self.learning_rate:g}"
        if self.final_learning_rate is not None:
            lr += f"->{self.final_learning_rate:g}"
        net = f"{kind} {self.layers}x{self.hidden_units}"
        if kind in ("embedding", "gru"):
            net += f" (emb {self.embedding_dim})"
        kept = "" if self.restore_best else ", last weights kept"
        return f"{net}, {self.iterations} it, batch {self.batch_size}, lr {lr}, wd {self.weight_decay:g}{kept}"


@dataclass(frozen=True)
class BeadScale:
    """Fig. 2, S1, S2: bead-spring chains (Th = 10, dt = 0.01 throughout, as the paper).

    ``kind``: the NEEP model of the fits, ``"mlp"`` (the paper's general
    ``h_theta(s, s')`` network) or ``"current"`` (this package's default for
    continuous pairs: ``dS = F(midpoint) . displacement`` with ``F`` the
    closed-form linear current plus a neural correction).
    """

    trajectories: int  # M, half for training, half held out
    steps: int  # L (the longest, Fig. 2); S1/S2 use the first L' steps of the same data
    t_colds: tuple[float, ...]
    beads: tuple[int, ...] = (2, 5)
    seeds: int = 5
    lengths_s1: tuple[int, ...] = (1000, 2000, 4000, 6000, 8000, 10000)
    lengths_s2: tuple[int, ...] = (2000, 5000, 10000)
    t_colds_s2: tuple[float, ...] = (1.0, 5.0, 10.0)
    map_bins: int = 40
    fit: FitConfig = field(default_factory=lambda: FitConfig(512, 3, 50000))
    t_hot: float = 10.0
    dt: float = 0.01
    kind: str = "mlp"

    def __post_init__(self) -> None:
        if self.kind not in BEAD_KINDS:
            raise ValueError(f"kind must be one of {', '.join(BEAD_KINDS)}, got {self.kind!r}")
        _check_int("trajectories", self.trajectories, 2)
        _check_int("steps", self.steps, 3)
        _check_int("seeds", self.seeds)
        _check_int("map_bins", self.map_bins, 2)
        if not self.t_colds or any(not 0 < t <= self.t_hot for t in self.t_colds):
            raise ValueError(f"t_colds must be in (0, t_hot], got {self.t_colds!r}")
        for name in ("lengths_s1", "lengths_s2"):
            for length in getattr(self, name):
                if not 3 <= length <= self.steps:
                    raise ValueError(f"{name} must be between 3 and steps={self.steps}, got {length!r}")


@dataclass(frozen=True)
class RatchetScale:
    """Fig. 3(c): NEEP (embedding) on the full-information flashing ratchet, jump chain."""

    potentials: tuple[float, ...]
    steps: int  # one training and one held-out trajectory of this many jumps
    seeds: int = 5
    fit: FitConfig = field(default_factory=lambda: FitConfig(128, 2, 50000))

    def __post_init__(self) -> None:
        _check_int("steps", self.steps, 3)
        _check_int("seeds", self.seeds)
        if not self.potentials or any(v < 0 for v in self.potentials):
            raise ValueError(f"potentials must be >= 0, got {self.potentials!r}")


@dataclass(frozen=True)
class RneepScale:
    """Fig. 3(e): RNEEP (GRU over windows of n states) on the hidden ratchet (on/off removed)."""

    potentials: tuple[float, ...]
    seq_lens: tuple[int, ...]
    steps: int
    seeds: int = 5
    fit: FitConfig = field(default_factory=lambda: FitConfig(128, 1, 50000))
    long_batch_size: int | None = None  # batch for n >= long_from (None: fit.batch_size)
    long_iterations: int | None = None
    long_from: int = 64
    long_learning_rate: float | None = None  # learning rate for n >= long_from (None: fit.learning_rate)
    # n >= long_from starts from the network of the next shorter n at the same V (a curriculum in n:
    # NEEP(warm_start=...)); False: a fresh network
    long_warm_start: bool = False

    def __post_init__(self) -> None:
        _check_int("steps", self.steps, 3)
        _check_int("seeds", self.seeds)
        if not self.seq_lens or any(isinstance(n, bool) or n < 2 or n > self.steps // 2 for n in self.seq_lens):
            raise ValueError(f"seq_lens must be in 2..steps/2, got {self.seq_lens!r}")
        if self.long_learning_rate is not None:
            _check_positive("long_learning_rate", self.long_learning_rate)
        if not self.potentials or any(v < 0 for v in self.potentials):
            raise ValueError(f"potentials must be >= 0, got {self.potentials!r}")

    def fit_for(self, n: int) -> FitConfig:
        """The fit of window length ``n`` (long windows may use a smaller batch / fewer steps)."""
        if n < self.long_from:
            return self.fit
        changes = {}
        if self.long_batch_size is not None:
            changes["batch_size"] = self.long_batch_size
        if self.long_iterations is not None:
            changes["iterations"] = self.long_iterations
        if self.long_learning_rate is not None:
            changes["learning_rate"] = self.long_learning_rate
        return dataclasses.replace(self.fit, **changes)

    def warm_from(self, n: int) -> int | None:
        """The window length whose network the fit at ``n`` starts from (None: a fresh network)."""
        shorter = [m for m in self.seq_lens if m < n]
        return max(shorter) if self.long_warm_start and n >= self.long_from and shorter else None


@dataclass(frozen=True)
class Scale:
    """All sizes of one reproduction; ``notes`` says how they differ from the paper."""

    name: str
    beads: BeadScale
    ratchet: RatchetScale
    rneep: RneepScale
    notes: tuple[str, ...] = ()

    def with_seeds(self, seeds: int) -> "Scale":
        """The same scale with every ensemble of ``seeds`` networks."""
        _check_int("seeds", seeds)
        return dataclasses.replace(
            self,
            beads=dataclasses.replace(self.beads, seeds=seeds),
            ratchet=dataclasses.replace(self.ratchet, seeds=seeds),
            rneep=dataclasses.replace(self.rneep, seeds=seeds),
        )


_NINE = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
_TC = tuple(float(t) for t in range(1, 11))

PAPER = Scale(
    name="paper",
    beads=BeadScale(trajectories=1000, steps=10_000, t_colds=_TC, seeds=5,
                    fit=FitConfig(512, 3, 50_000)),
    ratchet=RatchetScale(potentials=_NINE, steps=1_000_000, seeds=5,
                         fit=FitConfig(128, 2, 50_000, embedding_dim=128)),
    rneep=RneepScale(potentials=_NINE, seq_lens=(2, 8, 16, 32, 64, 128), steps=50_000_000, seeds=5,
                     fit=FitConfig(128, 1, 50_000, embedding_dim=128)),
    notes=(
        "The paper's method and sizes: the bead fits use its general network h(s, s') (MLP 3 x 512, "
        "kind 'mlp'), not this package's default current ansatz; M = 1000 x L = 10^4 bead trajectories; "
        "ratchet 10^6 jumps, "
        "embedding 128 + MLP 2 x 128, 50000 iterations; RNEEP GRU 128 units on 5 x 10^7 jumps; "
        "Adam lr 1e-4, weight decay 5e-5, batch 4096, 5 seeds.",
        "Assumed (the paper does not state them): 50000 iterations for the bead and RNEEP fits; "
        "the RNEEP's held-out trajectory as long as the training one.",
    ),
)

# The current ansatz dS = F(midpoint) . dx starts at the closed-form linear current, which is the exact
# force of the (linear) bead-spring chain up to sampling error: training only has to confirm it, so a
# few hundred iterations at the `neep fit` learning rate suffice (the held-out estimate on the paper's
# 2-bead data is within 0.5 % from the start); 1000 leave room for the neural correction to be tried.
_QUICK_BEAD_FIT = FitConfig(128, 2, 1000, batch_size=4096, learning_rate=1e-3, weight_decay=5e-5,
                            evaluations=10, eval_samples=65536)
QUICK = Scale(
    name="quick",
    beads=BeadScale(trajectories=1000, steps=10_000, t_colds=_TC, seeds=3,
                    lengths_s1=(1000, 2000, 5000, 10000), fit=_QUICK_BEAD_FIT, kind="current"),
    ratchet=RatchetScale(potentials=_NINE, steps=1_000_000, seeds=5,
                         fit=FitConfig(32, 2, 1000, batch_size=1024, learning_rate=3e-3, final_learning_rate=1e-4,
                                       weight_decay=0.0, embedding_dim=8, evaluations=10, eval_samples=65536)),
    # RNEEP: `neep fit`'s gru (issue 17): GRU 32, lr 3e-3 -> 3e-4, the last averaged weights kept (the
    # best-validation-J rule picked early, low evaluations), 3000 iterations for n <= 32; n >= 64 starts from
    # the network of the next shorter n (32 -> 64 -> 128, a curriculum in n) and trains 2000 iterations of 64
    # windows at lr 1e-3 -> 3e-4. Fresh networks at n = 128 (4000 iterations at 3e-3) ended 35-45 % below the
    # limit at V = 1 and 1.5, the curriculum 17-19 %, in half the time (session 5 pilots). Before that:
    # GRU 16, lr 1e-2 -> 1e-3, best J, 1000 iterations (4000 at n = 128): -13 .. -95 %.
    rneep=RneepScale(potentials=(0.5, 1.0, 1.5, 2.0), seq_lens=(2, 8, 16, 32, 64, 128), steps=1_000_000, seeds=1,
                     fit=FitConfig(32, 1, 3000, batch_size=256, learning_rate=3e-3, final_learning_rate=3e-4,
                                   weight_decay=5e-5, embedding_dim=8, evaluations=10, eval_samples=65536,
                                   restore_best=False),
                     long_batch_size=64, long_iterations=2000, long_from=64, long_learning_rate=1e-3,
                     long_warm_start=True),
    notes=(
        "Beads: the paper's data (M = 1000 x L = 10^4, dt = 0.01, Tc = 1..10), but not the paper's network: "
        "the current ansatz dS = F((s + s')/2) . (s' - s), F = the closed-form linear current fitted to the "
        "training data plus a neural correction (MLP 2 x 128), this package's default for continuous pairs "
        "(NEEP(model='current')). It is a special case of the paper's h(s, s') that is exact for diffusions "
        "(to O(dt)) and, for the linear bead-spring chain, exact from the start; the paper's general form is "
        "one option away (kind 'mlp', as at the paper scale). 1000 iterations at batch 4096, lr 1e-3 without "
        "decay, weight decay 5e-5 (paper: lr 1e-4, 50000 iterations assumed), 3 seeds (paper 5); S1 at "
        "L = 1000, 2000, 5000, 10000 (paper also 4000, 6000, 8000).",
        "Ratchet (Fig. 3c): the paper's data (10^6 jumps to train, 10^6 held out, nine V) and 5 seeds, "
        "but embedding 8 + MLP 2 x 32 (paper 128 + 2 x 128), 1000 iterations (paper 50000), batch 1024, "
        "lr 3e-3 -> 1e-4, no weight decay.",
        "RNEEP (Fig. 3e): 4 potentials V = 0.5, 1, 1.5, 2 (paper nine), 1 seed (paper 5), 10^6 observed jumps "
        "to train and 10^6 held out (paper 5 x 10^7), GRU 32 units with embedding 8 (paper 128, 128), "
        "3000 iterations at batch 256 for n <= 32, lr 3e-3 -> 3e-4; n >= 64 starts from the network of the next "
        "shorter n (a curriculum in n: 32 -> 64 -> 128) and trains 2000 iterations at batch 64, lr 1e-3 -> 3e-4 "
        "(paper: 50000 iterations assumed, every n from scratch); weight decay 5e-5, XLA, the last averaged "
        "weights kept (paper: best validation J).",
    ),
)

TINY = Scale(
    name="tiny",
    beads=BeadScale(trajectories=8, steps=400, t_colds=(1.0, 10.0), seeds=2,
                    lengths_s1=(200, 400), lengths_s2=(200, 400), t_colds_s2=(1.0, 10.0), map_bins=8,
                    fit=FitConfig(8, 1, 20, batch_size=64, learning_rate=1e-2, evaluations=2, eval_samples=512),
                    kind="current"),
    ratchet=RatchetScale(potentials=(0.5, 2.0), steps=2000, seeds=2,
                         fit=FitConfig(8, 1, 20, batch_size=64, learning_rate=1e-2, embedding_dim=4,
                                       evaluations=2, eval_samples=512)),
    rneep=RneepScale(potentials=(1.0, 2.0), seq_lens=(2, 8), steps=2000, seeds=1,
                     fit=FitConfig(4, 1, 10, batch_size=32, learning_rate=1e-2, embedding_dim=4,
                                   evaluations=2, eval_samples=256),
                     long_batch_size=16, long_iterations=8, long_from=8, long_warm_start=True),
    notes=("Wiring check only: sizes far too small for meaningful numbers.",),
)

SCALES: dict[str, Scale] = {"tiny": TINY, "quick": QUICK, "paper": PAPER}


def get_scale(name: str) -> Scale:
    """The scale called ``name`` ("tiny", "quick" or "paper")."""
    if name not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, got {name!r}")
    return SCALES[name]
