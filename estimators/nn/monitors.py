"""Keras callbacks that watch a NEEP model on held-out data while it trains.

Both work with a plain ``model.fit`` on a ``NEEPModel`` (or any Keras model
mapping windows to ``dS``):

* ``EPMonitor``: every ``every`` training steps (or at each epoch end), the
  held-out objective J, the EP rate (slope of the cumulative EP), the lower
  bounds and, when the exact per-step EP is given, R^2; keeps the weights
  with the best held-out objective and restores them at the end (the
  supplement: trust the held-out estimate, not the training one).
* ``PeriodicMonitor``: the timing both share (``nn.ground_truth.GroundTruthMonitor``,
  R^2 and the relative rate error against the exact EP, is the other).

Evaluate on a fixed subset (``held_out_subset``) during training; the final
result should use all held-out data. When the model keeps a moving average of
its weights (``NEEPModel(ema_momentum=...)``), the monitors evaluate it, and
the best weights kept are the averaged ones.
"""

from __future__ import annotations

import time

import keras
import numpy as np

from ..data.windows import window_sums
from ..stats.bounds import lower_bound_dv, lower_bound_j, objective_values
from ..stats.rates import ep_rate_from_cumulative, r_squared
from ..stats.uncertainty import mean_stderr
from .periodic import PeriodicMonitor, relative_error
from .prediction import predict_delta_s, predict_noise_penalty

__all__ = ["EPMonitor", "PeriodicMonitor", "PLATEAU_DECAY", "relative_error"]


#: When ``patience`` runs out after training beat the first evaluation, the learning rate is multiplied
#: by this once and patience starts again; the second time, training stops. Measured on the driven ring
#: (current model): Adam at a constant 1e-3 plateaued 2.6 % below the chain's own value on held-out data.
PLATEAU_DECAY = 0.1


class EPMonitor(PeriodicMonitor):
    """Held-out EP rate and objective during training; keeps the best weights by held-out objective.

    Parameters
    ----------
    states : array (M, L, d) or (M, L)
        Held-out trajectories (a fixed subset; see ``held_out_subset``).
    dt : float
        Time per step: rates are per unit time (per step when 1).
    seq_len : int, optional
        Window length; default the model's ``seq_len`` (2 if it has none).
    every : int or None
        Evaluate every ``every`` optimizer steps; None: at each epoch end.
    exact_ep : array (M, L-1), optional
        Exact per-step EP of ``states``: adds ``r2``, ``ep_rate_exact`` (the
        same slope estimator applied to the exact EP of the same windows,
        per unit time) and ``error`` (relative error of ``ep_rate`` against
        it: like with like, so a perfect estimator has error 0 whatever the
        sampling noise of the subset) to each record.
    restore_best : bool
        Restore the weights of the best held-out objective at the end.
    use_average : bool
        Evaluate the moving average of the weights when the model keeps one.
    batch_size : int
        Evaluation batch size.
    evaluate_start : bool
        Also evaluate before the first step (iteration 0): the starting
        weights compete in the selection (the current model starts at the
        closed-form linear current, which training must beat to replace).
    keep_start_unless : float or None
        With ``evaluate_start``: keep the starting weights unless the best
        evaluation beats their objective by more than this many standard
        errors (paired over the same windows, block-wise). Near its optimum
        J is flat while the mean EP is not, so a trained network that is
        not clearly better than a good start (the current model's
        closed-form linear current) only adds noise to the rate.
    train_states : array (M', L', d) or (M', L'), optional
        A fixed subset of the TRAINING trajectories (``held_out_subset`` of
        the training data, best of the same size as ``states``): each
        evaluation also reports the training-set estimate ``train_ep_rate``
        and objective ``train_objective`` with the same weights (the
        supplement's Fig. S2: the training-set estimate can drift away while
        the held-out one converges). Costs one more evaluation pass.
    train_every : int
        Evaluate ``train_states`` at every this-many-th evaluation only (the
        first included: iteration 0 with ``evaluate_start``); the others
        record None. Each pass costs as much as the held-out one.
    patience : int or None
        Stop training (``model.stop_training``) once this many evaluations in
        a row brought no new best objective: train until the held-out J stops
        improving, the iterations being a cap. None: train them all.
    patience_from : int
        ``patience`` may stop the training only from this iteration on (the
        training loop: one horizon of the weights' moving average). The first
        time patience runs out, if training beat the first evaluation and the
        learning rate is settable (no schedule), the rate drops by
        ``PLATEAU_DECAY`` and patience starts again (``decayed_at``: that
        iteration), counting from ``drop_wait`` after the drop.
    drop_wait : int or None
        Steps after the learning rate's drop before patience counts again
        (None: ``patience_from``): the averaged weights take a few horizons
        to show what the drop brings.
    stop_from : int
        No stop by patience before this iteration (a closed-form start close
        to the optimum, which the correction needs longer to beat).
    latest_within : float or None
        After the drop: the last evaluation whose objective is within this
        many paired standard errors of the best one (the same validation
        pairs) is kept instead of the best. Near the optimum J is flat to its
        noise while the rate still rises; the best J among ties is noise.
    resolve : float or None
        For ``patience`` before the learning rate's drop: an evaluation counts
        as an improvement when its objective beats the last such one by more
        than this many paired standard errors (the same validation pairs);
        None, and after the drop: by any amount. On a plateau the averaged
        weights' J drifts up by a fraction of its noise now and then, and each
        drift restarted the count (the 2-D swirl waited 8600 steps on a J flat
        within 0.1 of its error). After the drop the rate still rises while J
        gains by such fractions, and stopping at the first resolved plateau
        left a rising rate ("not converged" on an estimate 0.03 % from the
        exact one). The weights kept are chosen by the best objective (and
        ``latest_within``) in either case.

    Attributes
    ----------
    history : list of dict
        One record per evaluation: ``iteration``, ``train_loss``,
        ``test_objective`` and its standard error ``test_objective_stderr``
        (block bootstrap over the subset; the model's own objective: J, or
        ``mean ln sigmoid(dS)`` for a model trained on it, ``nn.objective``),
        ``best`` (a new best held-out objective), ``improved`` (one that
        restarts ``patience``: ``best``, or by ``resolve``),
        ``ep_rate``, ``ep_per_step``, ``lower_bound_j``, ``lower_bound_dv``
        (rates: per unit time, like ``ep_rate``), ``r2``, ``error`` and
        ``ep_rate_exact`` (None without truth), ``train_ep_rate`` and
        ``train_objective`` (None without ``train_states``), ``seconds``.
    best_objective, best_iteration, best_weights
    stopped : bool
        Whether ``patience`` stopped the training.
    """

    def __init__(
        self,
        states,
        *,
        dt: float = 1.0,
        seq_len: int | None = None,
        every: int | None = None,
        exact_ep=None,
        restore_best: bool = True,
        use_average: bool = True,
        batch_size: int = 16384,
        train_states=None,
        evaluate_start: bool = False,
        keep_start_unless: float | None = None,
        patience: int | None = None,
        patience_from: int = 0,
        latest_within: float | None = None,
        stop_from: int = 0,
        drop_wait: int | None = None,
        train_every: int = 1,
        resolve: float | None = None,
    ):
        super().__init__(every, use_average)
        if isinstance(train_every, bool) or int(train_every) < 1:
            raise ValueError(f"train_every must be an integer >= 1, got {train_every!r}")
        self.train_every = int(train_every)
        self.drop_wait = None if drop_wait is None else int(drop_wait)
        self.latest_within = latest_within
        self.resolve = None if resolve is None else float(resolve)
        if patience is not None and (isinstance(patience, bool) or int(patience) < 1):
            raise ValueError(f"patience must be an integer >= 1 or None, got {patience!r}")
        self.patience = None if patience is None else int(patience)
        self.patience_from = int(patience_from)
        self.stop_from = int(stop_from)
        self.evaluate_start = bool(evaluate_start)
        self.keep_start_unless = keep_start_unless
        if not dt > 0:
            raise ValueError(f"dt must be > 0, got {dt!r}")
        self.states = states
        self.train_states = train_states
        self.dt = float(dt)
        self.seq_len = seq_len
        self.exact_ep = exact_ep
        self.restore_best = restore_best
        self.batch_size = batch_size
        self._exact_windows = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.best_objective = -np.inf
        self.best_iteration = None
        self.best_weights = None
        self.kept_start = False
        self.stopped = False
        self.decayed_at = None
        self._start_record = self._best_values = None
        self._start_delta = self._trained = self._latest = None
        self._resolved = None  # (iteration, per-pair objective values) of the last resolved improvement
        seq_len = self._seq_len()
        if self.exact_ep is not None:
            self._exact_windows = window_sums(self.exact_ep, seq_len)
        if self.evaluate_start and self._step() == 0:
            self._run(0, None)

    def _seq_len(self) -> int:
        return int(self.seq_len or getattr(self.model, "seq_len", 2))

    def evaluations_since_best(self) -> int:
        """Evaluations after the best objective so far (by ``resolve``), or after the learning rate's drop if later."""
        resolved = self.resolve is not None and self.decayed_at is None and self._resolved is not None
        best = self._resolved[0] if resolved else self.best_iteration
        # After a drop, the averaged weights need drop_wait steps to show what it brings.
        wait = self.patience_from if self.drop_wait is None else self.drop_wait
        since = best if self.decayed_at is None or best is None else max(best, self.decayed_at + wait)
        return sum(1 for rec in self.history if best is not None and rec["iteration"] > since)

    def _run(self, step: int, logs) -> None:
        super()._run(step, logs)
        if (self.patience is not None and step >= max(self.patience_from, self.stop_from)
                and self.evaluations_since_best() >= self.patience):
            if not self._decay(step):
                self.stopped = True
                self.model.stop_training = True

    def _decay(self, step: int) -> bool:
        """Patience ran out: drop the learning rate once (``PLATEAU_DECAY``); False when it may not."""
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or self.decayed_at is not None or not self._beat_start():
            return False  # already dropped, or the start (clearly) still best
        try:
            optimizer.learning_rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate)) * PLATEAU_DECAY
        except TypeError:  # a LearningRateSchedule (final_learning_rate) is not settable: it decays already
            return False
        self.decayed_at = step
        self.history[-1]["learning_rate_drop"] = PLATEAU_DECAY  # the diagnostics judge convergence after it
        return True

    def evaluate(self) -> dict:
        seq_len = self._seq_len()
        train_delta_s = None
        with self._averaged():
            delta_s = predict_delta_s(self.model, self.states, seq_len, self.batch_size)
            if self.train_states is not None and len(self.history) % self.train_every == 0:
                train_delta_s = predict_delta_s(self.model, self.train_states, seq_len, self.batch_size)
            # A noise-corrected current model is judged by its own objective, mean(dS - exp(-dS - q)):
            # the plain J would prefer the force shrunk by the noise that training corrects for.
            penalty = predict_noise_penalty(self.model, self.states, self.batch_size)
            kind = getattr(self.model, "objective", "neep")  # what training maximizes (logistic: odd columns)
            values = objective_values(delta_s, penalty, kind)
            objective = float(np.mean(values))
            objective_stderr = mean_stderr(values) if np.all(np.isfinite(values)) else float("nan")
            best = bool(objective > self.best_objective)
            if best:
                self.best_objective = objective
                self.best_iteration = self._step()
                self.best_weights = self.model.get_weights()
                if self.keep_start_unless is not None:
                    if self._start_record is None and self.best_iteration == 0:
                        self._start_record = (objective, values, self.best_weights)
                        self._start_delta = delta_s.astype(np.float64)
                    self._best_values = values
                self._latest = None
            elif self.latest_within is not None and self.decayed_at is not None and self._best_values is not None:
                gap = values - self._best_values  # paired: the same validation pairs
                if np.mean(gap) > -self.latest_within * mean_stderr(gap):
                    self._latest = (self._step(), self.model.get_weights())
            step = self._step()
            improved = best if self.resolve is None or self.decayed_at is not None else self._resolves(values)
            if improved and self.resolve is not None and self.decayed_at is None:
                self._resolved = (step, values)
            if self.keep_start_unless is not None and step > 0 and (
                    self._trained is None or objective > self._trained[0]):
                self._trained = (objective, step, delta_s.astype(np.float64))  # the best trained evaluation
        per_window = ep_rate_from_cumulative(delta_s, 1.0)
        per_step = per_window / (seq_len - 1)
        record = {
            "test_objective": objective,
            "test_objective_stderr": objective_stderr,
            "best": best,
            "improved": improved,
            "ep_rate": per_step / self.dt,
            "ep_per_step": per_step,
            "lower_bound_j": lower_bound_j(delta_s) / (seq_len - 1) / self.dt,
            "lower_bound_dv": lower_bound_dv(delta_s) / (seq_len - 1) / self.dt,
            "r2": None,
            "error": None,
            "ep_rate_exact": None,
            "train_ep_rate": None,
            "train_objective": None,
        }
        if train_delta_s is not None:
            record["train_ep_rate"] = ep_rate_from_cumulative(train_delta_s, 1.0) / (seq_len - 1) / self.dt
            record["train_objective"] = float(np.mean(objective_values(
                train_delta_s, predict_noise_penalty(self.model, self.train_states, self.batch_size), kind)))
        if self._exact_windows is not None:
            exact = self._exact_windows
            record["r2"] = r_squared(delta_s, exact)
            # Like with like: the same slope estimator on the same windows, exact EP in place of dS.
            exact_step = ep_rate_from_cumulative(exact, 1.0) / (seq_len - 1)
            record["ep_rate_exact"] = exact_step / self.dt
            record["error"] = relative_error(per_step, exact_step)
        return record

    def _resolves(self, values) -> bool:
        """Whether ``values`` beat the last resolved improvement's by ``resolve`` paired errors (the first does)."""
        if self._resolved is None:
            return True
        if not np.all(np.isfinite(values)):
            return False
        gap = values - self._resolved[1]
        return bool(np.mean(gap) > self.resolve * mean_stderr(gap))

    def _beat_start(self) -> bool:
        """Whether the best evaluation is a trained one, by ``keep_start_unless`` paired errors when it applies."""
        if not self.best_iteration:
            return False
        if self.keep_start_unless is None or self._start_record is None:
            return True
        objective, values, _ = self._start_record
        return self.best_objective - objective > self.keep_start_unless * mean_stderr(self._best_values - values)

    def on_train_end(self, logs=None):
        if self.keep_start_unless is not None and self._start_record is not None and self.best_iteration != 0:
            if not self._beat_start():
                objective, _, weights = self._start_record
                self.best_objective, self.best_iteration, self.best_weights = objective, 0, weights
                self.kept_start = True
        if self.best_iteration == 0 and self._start_delta is not None and self._trained is not None:
            self._note_trained_gain()
        if self._latest is not None and self.best_iteration and self._latest[0] > self.best_iteration:
            self.best_iteration, self.best_weights = self._latest  # as good in J, and trained longer
        self._latest = None
        self._start_record = self._best_values = None
        self._start_delta = self._trained = self._resolved = None
        if self.restore_best and self.best_weights is not None:
            self.model.set_weights(self.best_weights)

    def _note_trained_gain(self) -> None:
        """The start is kept: record how far the best trained evaluation's rate was above it (paired).

        Written into the start's record (iteration 0) as ``trained_rate_gain``
        and ``trained_rate_gain_stderr`` (per unit time, like ``ep_rate``): a
        gain well beyond its error means the start, not the network, set the
        estimate although training found higher EP (``stats.diagnostics``).
        """
        _, step, trained = self._trained
        difference = trained - self._start_delta
        scale = 1.0 / ((self._seq_len() - 1) * self.dt)
        gain = float(np.sum(difference) / difference.size) * scale
        for rec in self.history:
            if rec["iteration"] == 0:
                rec.update(trained_rate_gain=gain, trained_rate_gain_stderr=mean_stderr(difference) * scale,
                           trained_iteration=step)

    #: What ``get_state`` returns: the history, the best so far and the start's paired values.
    STATE_KEYS = ("history", "best_objective", "best_iteration", "best_weights", "start_record", "best_values")

    def get_state(self) -> dict:
        """The monitor's state after an evaluation (picklable), to resume training later (``set_state``)."""
        state = {key: getattr(self, key) for key in self.STATE_KEYS[:4]}
        state["start_record"], state["best_values"] = self._start_record, self._best_values
        state["start_delta"], state["trained"] = self._start_delta, self._trained
        state["decayed_at"], state["latest"] = self.decayed_at, self._latest
        state["resolved"] = self._resolved
        return state

    def set_state(self, state: dict) -> None:
        """Continue from ``get_state``'s ``state``: history, selection and the clock of the last record."""
        for key in self.STATE_KEYS[:4]:
            setattr(self, key, state[key])
        self._start_record, self._best_values = state["start_record"], state["best_values"]
        self._start_delta, self._trained = state.get("start_delta"), state.get("trained")
        self.decayed_at, self._latest = state.get("decayed_at"), state.get("latest")
        self._resolved = state.get("resolved")
        if self.history:
            self._start = time.perf_counter() - self.history[-1]["seconds"]
