"""One line per evaluation of an ``EPMonitor`` on stderr while a NEEP model trains."""

from __future__ import annotations

import sys

import keras

from .monitors import PLATEAU_DECAY, EPMonitor

__all__ = ["ProgressPrinter"]


class ProgressPrinter(keras.callbacks.Callback):
    """One line per ``EPMonitor`` evaluation on stderr; ``*`` marks a new best objective.

    ``data`` names what the monitor evaluates (``NEEP`` monitors validation
    data set aside from the training part, not the held-out data it reports
    on). The exact value printed beside the estimate is the exact EP of the
    same windows through the same slope estimator ("exact on these
    windows"); the final report compares with the held-out data as a whole.
    """

    def __init__(self, monitor: EPMonitor, label: str, iterations: int, stream=None, data: str = "validation"):
        super().__init__()
        self.monitor, self.label, self.iterations = monitor, label, iterations
        self.stream, self.data = stream, data

    def _line(self, rec: dict) -> str:
        line = f"{self.label} iter {rec['iteration']:>7d}/{self.iterations}  {self.data} EP rate {rec['ep_rate']:.5g}"
        if rec.get("ep_rate_exact") is not None:
            line += f" (exact on these windows {rec['ep_rate_exact']:.5g})"
        line += f"  J {rec['test_objective']:.5g}{' *' if rec.get('best') else '  '}"
        if rec.get("r2") is not None:
            line += f"  R2 {rec['r2']:.4f}"
        return line + f"  {rec['seconds']:.1f} s"

    def _print(self, text: str) -> None:
        print(text, file=self.stream or sys.stderr, flush=True)

    def on_train_begin(self, logs=None):
        self._shown, self._decay_shown = 0, False

    def on_epoch_end(self, epoch, logs=None):
        for rec in self.monitor.history[self._shown :]:
            self._print(self._line(rec))
        self._shown = len(self.monitor.history)
        decayed_at = getattr(self.monitor, "decayed_at", None)
        if decayed_at is not None and not self._decay_shown:
            self._decay_shown = True
            self._print(f"{self.label} no better {self.data} J for {self.monitor.patience} evaluations: learning rate "
                        f"x {PLATEAU_DECAY:g} from iteration {decayed_at}, then stop at the next plateau")

    def on_train_end(self, logs=None):
        monitor = self.monitor
        if monitor.restore_best and getattr(monitor, "kept_start", False):
            self._print(f"{self.label} kept iteration 0, the starting weights: training did not beat their "
                        f"{self.data} J {monitor.best_objective:.5g} by {monitor.keep_start_unless:g} standard errors")
        elif monitor.restore_best and monitor.best_iteration is not None:
            self._print(f"{self.label} kept iteration {monitor.best_iteration} (best {self.data} J "
                        f"{monitor.best_objective:.5g}, marked *)")
