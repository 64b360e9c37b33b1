"""The monitors' exact references: like with like (same slope estimator, same windows)."""

import keras
import numpy as np
import pytest

from neep.estimators import (
    NEEP,
    EPMonitor,
    GroundTruthMonitor,
    Trajectories,
    ep_rate_from_cumulative,
    make_optimizer,
)

P_FORWARD, P_BACKWARD = 0.6, 0.2
AFFINITY = float(np.log(P_FORWARD / P_BACKWARD))


def biased_ring(m_count, length, rng):
    """3-state ring (+1 w.p. p, -1 w.p. q); exact EP of a step: +-ln(p/q) or 0."""
    moves = rng.choice([1, -1, 0], p=[P_FORWARD, P_BACKWARD, 1 - P_FORWARD - P_BACKWARD], size=(m_count, length - 1))
    start = rng.integers(0, 3, size=(m_count, 1))
    states = (start + np.concatenate([np.zeros((m_count, 1), int), np.cumsum(moves, axis=1)], axis=1)) % 3
    return states.astype(np.int8), (moves * AFFINITY).astype(np.float32)


class ExactRing(keras.Model):
    """A 'perfect estimator' of the ring: dS(window) is the exact EP of its steps."""

    def call(self, x, training=None):
        move = keras.ops.mod(x[:, 1:] - x[:, :-1], 3)
        forward = keras.ops.cast(keras.ops.equal(move, 1), "float32")
        backward = keras.ops.cast(keras.ops.equal(move, 2), "float32")
        return AFFINITY * keras.ops.sum(forward - backward, axis=1)


def perfect_model():
    model = ExactRing()
    model.compile(optimizer=make_optimizer())
    return model


@pytest.mark.parametrize("seq_len", [2, 3])
def test_a_perfect_estimator_has_zero_error(rng, seq_len):
    # 3 trajectories of 301 states: the slope of the cumulative EP and the plain mean of
    # the exact EP differ by sampling noise (several % here); comparing the estimate's slope
    # with the mean (the old reference) gave a perfect estimator a nonzero error. Like with
    # like, the only difference left is float32 rounding of the dS values (~1e-7 relative).
    states, exact_ep = biased_ring(3, 301, rng)
    dt = 0.5
    per = exact_ep.shape[1] // (seq_len - 1)
    used = exact_ep[:, : per * (seq_len - 1)]
    # exact EP of the tiling windows; the slope per window, then per step
    slope = ep_rate_from_cumulative(used.reshape(3, per, seq_len - 1).sum(axis=2), 1.0) / (seq_len - 1)
    assert abs(used.mean() - slope) / slope > 1e-3  # the two references do differ on this data
    model = perfect_model()
    monitor = EPMonitor(states, dt=dt, seq_len=seq_len, exact_ep=exact_ep)
    truth = GroundTruthMonitor(states, exact_ep, seq_len=seq_len)
    for callback in (monitor, truth):
        callback.set_model(model)
        callback.on_train_begin()
    record = monitor.evaluate()
    assert record["error"] == pytest.approx(0, abs=1e-5)
    assert record["ep_rate_exact"] == pytest.approx(slope / dt, rel=1e-6)
    assert record["ep_rate"] == pytest.approx(slope / dt, rel=1e-5)
    assert record["r2"] == pytest.approx(1, abs=1e-6)
    assert truth.evaluate()["error"] == pytest.approx(0, abs=1e-5)


def test_progress_line_prints_the_held_out_exact_value(rng, capsys):
    # The sidecar's process value (here a deliberately different 99) is what the line
    # showed before; with an exact EP file it must show the held-out windows' exact rate.
    states, exact_ep = biased_ring(4, 200, rng)
    data = Trajectories.from_array(states, exact_ep=exact_ep, ep_rate_exact=99.0, ep_per_step_exact=99.0)
    est = NEEP(hidden_units=4, embedding_dim=2, batch_size=16, iterations=2, eval_every=1, verbose=1).fit(data)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "validation EP rate" in line]
    assert len(lines) == 3  # iterations 0 (the starting weights), 1, 2
    for line, record in zip(lines, est.history_):
        assert f"(exact on these windows {record['ep_rate_exact']:.5g})" in line
        assert "windows 99" not in line  # (J itself may read -0.99...)
        assert line.split("J ")[1].split()[1:2] == (["*"] if record["best"] else [])
    kept = [r["iteration"] for r in est.history_ if r["kept"]]
    assert len(kept) == 1 and f"kept iteration {kept[0]} " in err


def test_training_subset_rate_uses_the_same_estimator(rng):
    # The perfect model's training-set rate is the exact EP's cumulative slope on those
    # trajectories (float32 rounding only), and it differs from the held-out one.
    states, exact_ep = biased_ring(6, 301, rng)
    monitor = EPMonitor(states[3:], dt=0.5, exact_ep=exact_ep[3:], train_states=states[:3])
    monitor.set_model(perfect_model())
    monitor.on_train_begin()
    record = monitor.evaluate()
    assert record["train_ep_rate"] == pytest.approx(ep_rate_from_cumulative(exact_ep[:3], 0.5), rel=1e-5)
    assert record["train_ep_rate"] != pytest.approx(record["ep_rate"], rel=1e-3)
    assert np.isfinite(record["train_objective"])
    plain = EPMonitor(states[3:])
    plain.set_model(perfect_model())
    plain.on_train_begin()
    assert plain.evaluate()["train_ep_rate"] is None


def _small_current_model(trajectories: int, steps: int):
    """Chain states, and a compiled current model of 4 units on them, for driving a monitor by hand."""
    from neep.estimators import NEEPModel, build_network
    from neep.simulators import BeadSpring, simulate_to_arrays

    states = simulate_to_arrays(BeadSpring(n=2), trajectories, steps, seed=4)["states"]
    network = build_network("current", dim=2, hidden_units=4, layers=1, seed=0)
    model = NEEPModel(network, kind="current")
    model(states[:2, :2])
    model.compile(optimizer=make_optimizer())
    model.build_from_data(states[:2, :2])
    return states, network, model


def test_after_the_drop_the_latest_evaluation_as_good_as_the_best_is_kept():
    # EPMonitor(latest_within=2): after the learning rate's drop, an evaluation whose validation J is within 2
    # paired standard errors of the best one replaces it in what is kept (the best J among ties is noise),
    # and patience counts only from one horizon (patience_from) after the drop. Driven by hand: weights set
    # between evaluations, the optimizer's step counter moved.
    from neep.estimators import fit_linear_current

    states, network, model = _small_current_model(16, 2000)
    linear = fit_linear_current(states)
    monitor = EPMonitor(states, evaluate_start=True, keep_start_unless=3.0, patience=2, patience_from=100,
                        latest_within=2.0, use_average=False)
    monitor.set_model(model)
    monitor.on_train_begin()  # iteration 0: the start, dS = 0 (J = -1)

    def evaluate_at(step, kernel, bias):
        network.get_layer("linear").set_weights([kernel.astype("float32"), bias.astype("float32")])
        model.optimizer.iterations.assign(step)
        monitor._run(step, None)
        return monitor.history[-1]

    assert evaluate_at(50, linear.kernel, linear.bias)["best"]  # far above the start: the best
    monitor.decayed_at = 50  # the drop
    tied = evaluate_at(100, linear.kernel * 0.999, linear.bias)  # as good within its noise, not better
    assert not tied["best"] and monitor.evaluations_since_best() == 0  # within the horizon after the drop
    evaluate_at(150, linear.kernel * 0.2, linear.bias * 0.2)  # clearly worse: not kept
    evaluate_at(250, linear.kernel * 0.2, linear.bias * 0.2)
    assert monitor.evaluations_since_best() == 1  # only the evaluation after 50 + 100 counts
    monitor.on_train_end()
    assert monitor.best_iteration == 100
    np.testing.assert_allclose(network.get_layer("linear").get_weights()[0], linear.kernel * 0.999, rtol=1e-6)


def test_resolve_counts_only_gains_beyond_the_paired_error_for_patience():
    # EPMonitor(resolve=1): on a plateau the averaged weights' J drifts up by a fraction of its noise, which
    # is a new best but must not restart patience; a gain of many paired errors does. Driven by hand.
    from neep.estimators import fit_linear_current

    states, network, model = _small_current_model(16, 2000)
    linear = fit_linear_current(states)
    monitor = EPMonitor(states, evaluate_start=True, patience=2, resolve=1.0, use_average=False)
    monitor.set_model(model)
    monitor.on_train_begin()  # iteration 0: dS = 0

    def evaluate_at(step, scale):
        network.get_layer("linear").set_weights([(linear.kernel * scale).astype("float32"),
                                                 (linear.bias * scale).astype("float32")])
        model.optimizer.iterations.assign(step)
        monitor._run(step, None)
        return monitor.history[-1]

    first = evaluate_at(50, 0.99)
    assert first["best"] and first["improved"]  # far above dS = 0
    # The linear current maximizes J on these very states, at scale 1: nearer to it J is higher (a new best),
    # by about 1e-6 per pair, a tenth of the gap's paired error (its derivative's sampling noise).
    drift = evaluate_at(100, 0.995)
    assert drift["best"] and not drift["improved"] and monitor.evaluations_since_best() == 1
    assert not model.stop_training
    assert evaluate_at(150, 0.997)["best"]
    # 2 evaluations without a resolved gain, although both were new bests: patience ran out (the first time
    # the learning rate drops instead of stopping)
    assert monitor.decayed_at == 150
    assert monitor.best_iteration == 150  # what is kept is still the best J
    # After the drop the rate may still rise while J gains by fractions of its error: any new best counts again.
    after = evaluate_at(200, 0.998)
    assert after["best"] and after["improved"]


def test_stop_from_holds_patience_back_until_its_iteration():
    # EPMonitor(stop_from=N): from a cubic start the correction needs longer to beat it; patience may not
    # stop before N, and stops at the first evaluation from N on once it has run out.
    states, _, model = _small_current_model(8, 500)
    monitor = EPMonitor(states, evaluate_start=True, patience=2, patience_from=100, stop_from=300,
                        use_average=False)
    monitor.set_model(model)
    monitor.on_train_begin()  # iteration 0: nothing later beats it (the weights never change)
    for step in (100, 200):
        model.optimizer.iterations.assign(step)
        monitor._run(step, None)
        assert not model.stop_training  # 2 evaluations without a better J, but before stop_from
    model.optimizer.iterations.assign(300)
    monitor._run(300, None)
    assert model.stop_training and monitor.stopped
