"""``GroundTruthMonitor``: R^2 and the relative EP-rate error against the exact EP, during training.

For data with known per-step EP (the simulators' sidecars): a Keras callback
on the same clock as ``nn.monitors.EPMonitor`` (every ``every`` steps, or at
each epoch end), evaluating the moving average of the weights when the
model keeps one.
"""

from __future__ import annotations

from ..data.windows import window_sums
from ..stats.rates import ep_rate_from_cumulative, r_squared
from .periodic import PeriodicMonitor, relative_error
from .prediction import predict_delta_s

__all__ = ["GroundTruthMonitor"]


class GroundTruthMonitor(PeriodicMonitor):
    """R^2 and relative EP-rate error against the exact per-step EP, during training.

    Parameters
    ----------
    states : array (M, L, d) or (M, L)
        Trajectories with known EP (a fixed subset).
    exact_ep : array (M, L-1)
        Their exact per-step EP.
    seq_len, every, use_average, batch_size
        As for ``EPMonitor``.

    Attributes
    ----------
    history : list of dict
        ``iteration``, ``r2``, ``error`` (relative error of the EP rate, the
        slope of the cumulative EP, against the same slope of the exact
        cumulative EP of the same windows), ``seconds``.
    """

    def __init__(self, states, exact_ep, *, seq_len=None, every=None, use_average=True, batch_size=16384):
        super().__init__(every, use_average)
        self.states = states
        self.exact_ep = exact_ep
        self.seq_len = seq_len
        self.batch_size = batch_size

    def evaluate(self) -> dict:
        seq_len = int(self.seq_len or getattr(self.model, "seq_len", 2))
        exact = window_sums(self.exact_ep, seq_len)
        with self._averaged():
            delta_s = predict_delta_s(self.model, self.states, seq_len, self.batch_size)
        estimate = ep_rate_from_cumulative(delta_s, 1.0)
        exact_slope = ep_rate_from_cumulative(exact, 1.0)
        return {
            "r2": r_squared(delta_s, exact),
            "error": relative_error(estimate, exact_slope),
        }
