"""Stop a training that diverges, and say so in one line instead of reporting nonsense.

A network that runs away (a learning rate too high for the data, states that
are not what the model assumes: velocities read as positions, a process that
is not Markov in the recorded coordinates) drives the held-out objective J
down evaluation after evaluation, or to NaN. Its kept weights, its rate and
its bounds are then meaningless (the issue saw 1 + J = -3e20). ``diverged``
reads the monitor's records and says when that happened:

* non-finite: the held-out objective, the rate or the training loss of the
  latest evaluation is NaN or infinite;
* falling: J fell at each of the last ``patience`` evaluations, and the
  latest one lies below the best so far by more than ``margin`` standard
  errors of J on the monitored windows (``test_objective_stderr``, the
  block-bootstrap error of the mean ``dS - exp(-dS)``: the unpaired error,
  larger than the paired one, so a flat optimum's evaluation noise, which
  falls five times running with probability 1/32 per window, never comes
  near it).

``DivergenceStop`` (after the ``EPMonitor`` in the callback list) stops
``model.fit`` then; the training loop raises ``TrainingDiverged`` (a
``ValueError``: one line in the command) with its reason.
"""

from __future__ import annotations

import math

import keras

__all__ = ["DivergenceStop", "TrainingDiverged", "diverged", "PATIENCE", "MARGIN"]

#: Consecutive falling evaluations that make a divergence (with MARGIN).
PATIENCE = 5
#: How far below the best J (in its standard errors) the latest evaluation must lie.
MARGIN = 10.0


class TrainingDiverged(ValueError):
    """A training stopped because its held-out objective ran away (``diverged``)."""


def _finite(value) -> bool:
    return value is None or math.isfinite(float(value))


def diverged(history: list[dict], patience: int = PATIENCE, margin: float = MARGIN) -> str | None:
    """The reason the evaluations in ``history`` show a divergence, or None (module doc).

    ``history``: one seed's monitor records in order (``iteration``,
    ``test_objective``, ``test_objective_stderr``, ``ep_rate``,
    ``train_loss``).
    """
    if not history:
        return None
    last = history[-1]
    for key, what in (("test_objective", "held-out objective J"), ("ep_rate", "EP rate"),
                      ("train_loss", "training loss")):
        if not _finite(last.get(key)):
            return f"the {what} is {last.get(key)} at iteration {last['iteration']}"
    if len(history) <= patience:
        return None
    js = [float(r["test_objective"]) for r in history[-patience - 1:]]
    if not all(b < a for a, b in zip(js, js[1:])):
        return None
    best = max(history, key=lambda r: float(r["test_objective"]))
    stderr = last.get("test_objective_stderr")
    drop = float(best["test_objective"]) - js[-1]
    if stderr is None or not math.isfinite(float(stderr)) or not drop > margin * float(stderr):
        return None
    return (f"the held-out objective J fell at each of the last {patience} evaluations, from "
            f"{best['test_objective']:.4g} (iteration {best['iteration']}) to {js[-1]:.4g} (iteration "
            f"{last['iteration']}), {drop / float(stderr):.0f} standard errors")


class DivergenceStop(keras.callbacks.Callback):
    """Stop ``model.fit`` when the ``monitor``'s records show a divergence (``diverged``).

    Put it after the monitor in the callback list. ``reason`` is None, or
    the sentence; ``check()`` raises ``TrainingDiverged`` with it.
    """

    def __init__(self, monitor, patience: int = PATIENCE, margin: float = MARGIN):
        super().__init__()
        self.monitor, self.patience, self.margin = monitor, int(patience), float(margin)
        self.reason: str | None = None
        self._seen = 0

    def on_train_begin(self, logs=None):
        self.reason, self._seen = None, 0

    def _look(self) -> None:
        history = getattr(self.monitor, "history", [])
        if self.reason is None and len(history) > self._seen:
            self._seen = len(history)
            self.reason = diverged(history, self.patience, self.margin)
            if self.reason is not None:
                self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        self._look()

    def on_epoch_end(self, epoch, logs=None):
        self._look()

    def check(self, label: str | None = None) -> None:
        """Raise ``TrainingDiverged`` (one line) when the training diverged."""
        if self.reason is not None:
            who = f"{label}: " if label else ""
            raise TrainingDiverged(f"{who}training diverged and was stopped: {self.reason}; no estimate is "
                                   "reported. Try a lower --learning-rate, and check that the states are what the "
                                   "model assumes (positions of a Markov process)")
