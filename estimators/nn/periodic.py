"""The timing the held-out monitors share: ``PeriodicMonitor`` evaluates every ``every`` steps or at each epoch end.

``nn.monitors.EPMonitor`` (held-out objective, rate, selection and patience)
and ``nn.ground_truth.GroundTruthMonitor`` (R^2 and the rate's error against
the exact EP) build on it.
"""

from __future__ import annotations

import contextlib
import time

import keras

__all__ = ["PeriodicMonitor", "relative_error"]


def relative_error(estimate: float, exact: float) -> float | None:
    """Relative error ``(estimate - exact) / exact``; None when the exact value is 0."""
    return (estimate - exact) / exact if exact != 0 else None



class PeriodicMonitor(keras.callbacks.Callback):
    """The base of the monitors: ``evaluate()`` every ``every`` optimizer steps (None: at each epoch end).

    Each evaluation's dict, with ``iteration``, ``train_loss`` and ``seconds``,
    is appended to ``history``; ``use_average``: evaluate the model's moving
    average of its weights when it keeps one.
    """

    def __init__(self, every: int | None, use_average: bool):
        super().__init__()
        if every is not None and (isinstance(every, bool) or int(every) < 1):
            raise ValueError(f"every must be an integer >= 1 or None, got {every!r}")
        self.every = None if every is None else int(every)
        self.use_average = use_average
        self._last: dict | None = None
        self._new = False

    def on_train_begin(self, logs=None):
        self.history: list[dict] = []
        self._next = None
        self._start = time.perf_counter()
        self._last = None
        self._new = False

    def _step(self) -> int:
        return int(self.model.optimizer.iterations.numpy())

    def _averaged(self):
        if self.use_average and hasattr(self.model, "average_weights"):
            return self.model.average_weights()
        return contextlib.nullcontext(False)

    def on_train_batch_end(self, batch, logs=None):
        if self.every is None:
            return
        step = self._step()
        if self._next is None:
            self._next = (max(step - 1, 0) // self.every + 1) * self.every
        if step >= self._next:
            self._run(step, logs)
            self._next = (step // self.every + 1) * self.every

    def on_epoch_end(self, epoch, logs=None):
        if self.every is None:
            self._run(self._step(), logs)
        if logs is not None and self._new and self._last is not None:
            # Numbers only: loggers such as TensorBoard cannot write None (e.g. r2
            # without exact EP).
            logs.update({k: v for k, v in self._last.items()
                         if k not in ("iteration", "train_loss") and v is not None})
            self._new = False

    def _run(self, step: int, logs) -> None:
        record = {"iteration": step}
        if logs and "loss" in logs:
            record["train_loss"] = float(logs["loss"])
        record.update(self.evaluate())
        record["seconds"] = time.perf_counter() - self._start
        self.history.append(record)
        self._last = record
        self._new = True

    def evaluate(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError
