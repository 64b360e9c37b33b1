"""The overfitting check, like with like: the network's in-sample advantage over a reference.

The naive check compares the network's rate on a training subset with its
rate on a validation subset. Those are different stretches of the process,
and their true EP differs by its own sampling noise: about 5 % between two
subsets of 13 two-bead trajectories (``eval_samples`` windows each), as
large as the gaps the check looks for, so every fluctuation of the data is
a candidate false alarm, and real overfitting hides below that noise.

On each subset, subtract from the network's per-window EP a reference's on
the same windows: an estimator that cannot overfit (the closed-form linear
current, a handful of coefficients fitted on all the training data). The
subsets' own noise cancels in each difference; what remains is the network's
advantage over the reference. Overfitting is that advantage being larger on
the training data than on held-out data:

    excess = (net - ref)_train - (net - ref)_held-out,

with the two differences' bootstrap spreads in quadrature (the subsets are
independent). Flagged when the excess exceeds ``THRESHOLD`` of its standard
errors AND the error the estimate is reported with (an advantage that
matters at the precision claimed; a significant but negligible one is not
a reason to distrust the number).
"""

from __future__ import annotations

import numpy as np

from .diagnostics import THRESHOLD, Diagnostic
from .uncertainty import block_statistics, bootstrap_replicates

__all__ = ["check_overfitting_paired", "overfitting_like_with_like", "REFIT_IF_EXCESS", "refit_needed"]


def _rate_and_stderr(delta_s: np.ndarray, scale: float, seed: int, replicates: int) -> tuple[float, float]:
    stats = block_statistics(delta_s)
    reps = bootstrap_replicates(stats, replicates, seed=seed)["rate"] * scale
    return float(stats.statistics()["rate"][0]) * scale, float(np.std(reps, ddof=1))


def check_overfitting_paired(train_rate: float, test_rate: float, excess: float, excess_stderr: float,
                             stderr: float, reference: str = "linear current") -> Diagnostic:
    """The network's in-sample advantage ``excess`` over ``reference``, against its error (module doc).

    ``train_rate``, ``test_rate``: the network's rates on the two subsets
    (reported, not tested); ``stderr``: the error the estimate is reported
    with.
    """
    excess, stderr = float(excess), float(stderr)
    sigmas = excess / excess_stderr if excess_stderr > 0 and np.isfinite(excess_stderr) else (
        float("inf") if excess > 0 else 0.0)
    flagged = bool(sigmas > THRESHOLD and excess > stderr)
    message = (f"overfitting: on the training data the network beats the {reference} by {excess:.4g} more than "
               f"on held-out data ({sigmas:.1f} standard errors); trust the held-out value, and prefer more data "
               f"or fewer iterations" if flagged
               else f"no sign of overfitting (the network's advantage over the {reference} is the same on "
                    "training and held-out data)")
    return Diagnostic("overfitting", flagged, message,
                      {"train_rate": float(train_rate), "test_rate": float(test_rate), "reference": reference,
                       "excess": excess, "excess_sigmas": float(sigmas)})


def overfitting_like_with_like(network: tuple, reference: tuple, *, scale: float, stderr: float, seed: int = 0,
                               replicates: int = 2000, name: str = "linear current") -> Diagnostic:
    """The overfitting check from per-window EPs (module doc).

    Parameters
    ----------
    network, reference : (array, array)
        Per-window EP ``(M, K)`` on the training subset and on the held-out
        subset, the network's and the reference's on the same windows.
    scale : float
        Rate per entry to the reported unit: ``1 / ((seq_len - 1) dt)``.
    stderr : float
        The error the estimate is reported with.
    seed, replicates
        Of the block bootstrap (``stats.uncertainty``).
    """
    rates = [_rate_and_stderr(np.asarray(d, dtype=np.float64), scale, seed, replicates)[0] for d in network]
    gaps = [_rate_and_stderr(np.asarray(n, dtype=np.float64) - np.asarray(r, dtype=np.float64), scale, seed,
                             replicates) for n, r in zip(network, reference)]
    (train_gap, train_err), (test_gap, test_err) = gaps
    return check_overfitting_paired(rates[0], rates[1], train_gap - test_gap, float(np.hypot(train_err, test_err)),
                                    stderr, name)


#: A trained current network is refitted on half its data only when its in-sample advantage over the
#: linear current exceeds the held-out one by this many standard errors (``stats.overfitting``).
REFIT_IF_EXCESS = 1.0


def refit_needed(overfit: Diagnostic | None) -> bool:
    """Whether a trained current network is refitted on half its data: its overfitting check saw an advantage.

    ``overfit``: the like-with-like overfitting diagnostic (``stats.overfitting``),
    or None where it did not run (then the refit runs).

    A network whose advantage over the linear current is the same on its
    training data as on held-out data learned nothing particular to those
    data, and on half of them it would be trained the same way: the refit
    could only measure its training noise. On 17 trained current networks
    (ring, swirl, FPU chains; benchmarks/RESULTS-estimators.md, session 8)
    the half-data step scattered by 1.3 reported errors around +0.2 and
    crossed the threshold of 2 twice, neither time for the reason it gives,
    while it cost a whole training: 37 % of a nonlinear fit.

    A kept cubic start (the velocity current, ``training.start``) is gated
    the same way: its held-out mean does not depend on the noise of its
    coefficients to first order (that noise is independent of held-out
    increments), while its in-sample advantage does (the ``k / n`` of a
    regression of ``k`` coefficients on ``n`` pairs), which is what the
    overfitting check measures. On the four kept cubic starts stored
    (session 9: the FPU chains of 6 and 20 beads, the ring) the refit
    never flagged, and in 20 dimensions it cost 43 s of a 258 s fit.
    """
    sigmas = None if overfit is None else overfit.details.get("excess_sigmas")
    return sigmas is None or not np.isfinite(sigmas) or sigmas > REFIT_IF_EXCESS
