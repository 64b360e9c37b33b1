"""NEEP end to end: training reaches exact EP values, save/reload, monitors with plain model.fit."""

import keras
import numpy as np
import pytest

from neep.estimators import (
    EPMonitor,
    GroundTruthMonitor,
    NEEP,
    NEEPModel,
    Trajectories,
    embedding_network,
    make_optimizer,
    load_trajectories,
    pair_dataset,
    window_dataset,
)
from neep.estimators.training.loop import TRAIN_EVERY

P_FORWARD, P_BACKWARD = 0.6, 0.2


def biased_ring(m_count, length, rng):
    """3-state ring: step +1 w.p. p, -1 w.p. q, stay otherwise; uniform stationary state.

    Exact EP of a step: +ln(p/q) forward, -ln(p/q) backward, 0 staying; mean
    per step (p - q) ln(p/q).
    """
    moves = rng.choice([1, -1, 0], p=[P_FORWARD, P_BACKWARD, 1 - P_FORWARD - P_BACKWARD], size=(m_count, length - 1))
    start = rng.integers(0, 3, size=(m_count, 1))
    states = (start + np.concatenate([np.zeros((m_count, 1), int), np.cumsum(moves, axis=1)], axis=1)) % 3
    exact_ep = moves * np.log(P_FORWARD / P_BACKWARD)
    return states.astype(np.int8), exact_ep.astype(np.float32)


def test_embedding_model_learns_the_ring_entropy_production(rng):
    m_count, length = 20, 10_000
    states, exact_ep = biased_ring(m_count, length, rng)
    data = Trajectories.from_array(states, exact_ep=exact_ep)
    est = NEEP(
        hidden_units=32, layers=2, embedding_dim=8, batch_size=1024, learning_rate=3e-3,
        iterations=600, eval_every=200, seeds=2, seed=1, verbose=0, ema_momentum=0.99,
    ).fit(data)
    p, q = P_FORWARD, P_BACKWARD
    exact = (p - q) * np.log(p / q)
    # Tolerance from the sampling error of the two halves (n = 10 x 9999 steps each):
    # held-out mean of iid dS: var (p+q) ln^2(p/q) - exact^2, times 1.2 for the
    # parabolic weights of the cumulative slope; training counts: the learned
    # log-ratio per state has var 3 (1/p + 1/q) / n, so the rate var (p-q)^2 (1/p+1/q) / n.
    n = (m_count // 2) * (length - 1)
    var_test = 1.2 * ((p + q) * np.log(p / q) ** 2 - exact**2) / n
    var_train = (p - q) ** 2 * (1 / p + 1 / q) / n
    sigma = np.sqrt(var_test + var_train)  # ~0.0045
    assert abs(est.ep_per_step_ - exact) < 4 * sigma
    assert est.entropy_production_rate_ == pytest.approx(est.ep_per_step_)  # dt = 1
    assert est.ep_rate_per_seed_.shape == (2,) and est.entropy_production_rate_std_ < 4 * sigma
    # dS is a function of the move only: a converged model's R^2 is ~1 - 1e-4.
    assert est.r2_ > 0.99
    assert est.lower_bound_j_ <= est.lower_bound_dv_ + 1e-9
    assert abs(est.lower_bound_dv_ - exact) < 4 * sigma + 0.01
    assert {"seed", "iteration", "test_objective", "ep_rate", "r2"} <= set(est.history_[0])
    assert [h["iteration"] for h in est.history_] == [0, 200, 400, 600] * 2  # 0: the starting weights
    assert est.predict(states[:2]).shape == (2, length - 1)


def test_small_mlp_learns_the_two_bead_entropy_production():
    from neep.simulators.bead_spring import BeadSpring

    beads = BeadSpring(n=2)  # Tc = 1, Th = 10, dt = 0.01: the paper's Fig. 2 system
    x = beads.simulate(100, 10_000, seed=7)
    data = Trajectories.from_array(x, dt=beads.dt, exact_ep=beads.stochastic_ep(x))
    est = NEEP(hidden_units=64, layers=2, batch_size=1024, learning_rate=1e-3, iterations=1500,
               eval_every=500, seed=1, verbose=0, ema_momentum=0.99).fit(data)
    # Tolerance: 4 sigma of the held-out mean EP per step, sigma = sd(exact per-step
    # EP) * sqrt(1.2 / n) over n = 50 x 9999 held-out steps (1.2: cumulative-slope
    # weights), about 1.4 % of the exact value; the estimator is compared with the
    # analytic value, so both its bias and the sample's fluctuation must fit in it.
    n = 50 * 9999
    sigma = float(np.std(data.exact_ep)) * np.sqrt(1.2 / n)
    assert abs(est.ep_per_step_ - beads.ep_per_step) < 4 * sigma
    assert est.entropy_production_rate_ == pytest.approx(est.ep_per_step_ / beads.dt)
    # Untrained R^2 is ~0; the paper reaches 0.9972 after long training. 1500 small
    # steps give ~0.94 here: require a clearly learned per-step function.
    assert est.r2_ > 0.9


def test_save_and_reload_give_identical_predictions(tmp_path, rng):
    x = rng.normal(size=(4, 50, 2)).astype(np.float32) * 3 + 5
    est = NEEP(hidden_units=8, layers=1, batch_size=32, iterations=10, eval_every=5, verbose=0).fit(x)
    path = est.save(tmp_path / "model.keras")
    again = NEEP.load(path)
    np.testing.assert_array_equal(again.predict(x), est.predict(x))
    assert again.model_.standardize is not None  # input statistics travel with the model
    assert again.ep_rate(x) == est.ep_rate(x)
    loaded = keras.saving.load_model(path)  # no custom_objects needed
    assert isinstance(loaded, NEEPModel)


def test_gru_windows_tile_the_trajectory(tmp_path, rng):
    states, _ = biased_ring(4, 41, rng)
    est = NEEP(model="gru", seq_len=5, hidden_units=8, embedding_dim=4, batch_size=16,
               iterations=4, eval_every=2, verbose=0).fit(states)
    out = est.predict(states)
    assert out.shape == (4, 10)  # (41 - 1) // (5 - 1) windows per trajectory
    est.save(tmp_path / "gru.keras")
    np.testing.assert_array_equal(NEEP.load(tmp_path / "gru.keras").predict(states), out)


def test_ema_and_decoupled_options_run(rng):
    states, _ = biased_ring(4, 200, rng)
    est = NEEP(hidden_units=8, embedding_dim=4, batch_size=32, iterations=6, eval_every=3,
               ema_momentum=0.9, decoupled_weight_decay=True, verbose=0).fit(states)
    assert np.isfinite(est.entropy_production_rate_)


def test_fewer_iterations_than_an_evaluation_interval_train_exactly_that_many(rng):
    # iterations are rounded up to whole evaluation intervals: with eval_every above
    # iterations that used to train eval_every steps (30 asked, 100 run)
    states, _ = biased_ring(4, 200, rng)
    est = NEEP(hidden_units=8, embedding_dim=4, batch_size=32, iterations=30, eval_every=100,
               data_check=False, baseline=False, verbose=0).fit(states)
    assert int(est.models_[0].optimizer.iterations.numpy()) == 30
    assert [r["iteration"] for r in est.history_] == [0, 30]


def test_monitors_work_with_plain_model_fit(rng):
    states, exact_ep = biased_ring(6, 300, rng)
    model = NEEPModel(embedding_network(3, 4, 8, 1, seed=0), ema_momentum=0.5)
    model(states[:1, :2].astype(np.int32))
    model.compile(optimizer=make_optimizer(1e-2))
    monitor = EPMonitor(states[3:], every=5, exact_ep=exact_ep[3:])
    truth = GroundTruthMonitor(states[3:], exact_ep[3:], every=10)
    history = model.fit(pair_dataset(states[:3], 64, seed=0), epochs=2, steps_per_epoch=10,
                        callbacks=[monitor, truth], verbose=0, shuffle=False)
    assert [h["iteration"] for h in monitor.history] == [5, 10, 15, 20]
    assert [h["iteration"] for h in truth.history] == [10, 20]
    assert all(0 <= h["r2"] <= 1 for h in truth.history)
    assert "ep_rate" in history.history and "loss" in history.history
    assert history.history["loss"][0] != 0.0  # our trackers, not an empty compiled loss
    # the best held-out objective's weights are back in the model at the end
    for a, b in zip(model.get_weights(), monitor.best_weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("ema", [None, 0.5])
def test_fresh_model_trains_with_plain_model_fit_and_all_callbacks(tmp_path, rng, ema):
    # No model(...) call, no optimizer.build: fit must create the weights, the moving
    # average and the optimizer's slots itself, outside the compiled step.
    states, exact_ep = biased_ring(6, 300, rng)
    model = NEEPModel(embedding_network(3, 4, 8, 1, seed=0), ema_momentum=ema)
    model.compile(optimizer=make_optimizer())
    log = tmp_path / "log.csv"
    monitor = EPMonitor(states[3:], every=5, exact_ep=exact_ep[3:])
    truth = GroundTruthMonitor(states[3:], exact_ep[3:], every=5)
    model.fit(window_dataset(states[:3], 2, 64, seed=0), steps_per_epoch=5, epochs=2, verbose=0,
              shuffle=False, callbacks=[monitor, truth, keras.callbacks.CSVLogger(str(log))])
    assert int(model.optimizer.iterations.numpy()) == 10
    assert [h["iteration"] for h in monitor.history] == [5, 10]
    assert [h["iteration"] for h in truth.history] == [5, 10]
    if ema is not None:
        assert float(model._ema_count.numpy()) == 10
    rows = log.read_text().splitlines()
    header = rows[0].split(",")
    assert len(rows) == 3 and "ep_rate" in header and "loss" in header
    # evaluate on a fresh model's path too: our trackers, loss = -objective
    result = model.evaluate(window_dataset(states[3:], 2, 64, seed=1), steps=2, verbose=0, return_dict=True)
    assert np.isfinite(result["loss"]) and result["loss"] == pytest.approx(-result["objective"])


def test_fitted_split_is_kept_as_memmap_views(tmp_path, rng):
    states, exact_ep = biased_ring(8, 100, rng)
    np.save(tmp_path / "ring.npy", states)
    data = load_trajectories(tmp_path / "ring.npy")
    est = NEEP(hidden_units=4, embedding_dim=2, batch_size=16, iterations=1, eval_every=1,
               test_fraction=0.25, verbose=0).fit(data)
    # 6 training trajectories, the last of which is set aside for model selection (validation_fraction 0.1)
    assert est.train_.states.shape == (5, 100) and est.test_.states.shape == (2, 100)
    for part in (est.train_, est.test_):  # views of the file's memmap, not copies
        assert isinstance(part.states, np.memmap) and np.shares_memory(part.states, data.states)
    np.testing.assert_array_equal(est.test_.states, states[6:])
    # one trajectory: by time, the last quarter held out
    one = Trajectories.from_array(states[:1], exact_ep=exact_ep[:1])
    est = NEEP(hidden_units=4, embedding_dim=2, batch_size=16, iterations=1, eval_every=1,
               test_fraction=0.25, verbose=0).fit(one)
    assert est.train_.n_steps == 68 and est.test_.n_steps == 25  # 75 steps less 10 % for validation
    np.testing.assert_array_equal(est.test_.exact_ep, exact_ep[:1, 75:])


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, True, "0.5", None])
def test_bad_test_fraction_is_named(bad):
    with pytest.raises(ValueError, match="test_fraction must be in"):
        NEEP(test_fraction=bad).fit(np.zeros((4, 10, 1), np.float32))


@pytest.mark.parametrize("track", [True, False])
def test_history_has_the_training_set_rate(rng, track):
    states, _ = biased_ring(4, 200, rng)
    est = NEEP(hidden_units=4, embedding_dim=2, batch_size=16, iterations=TRAIN_EVERY + 1, eval_every=1,
               track_train=track, verbose=0).fit(states)
    assert len(est.history_) == TRAIN_EVERY + 2  # iterations 0 .. TRAIN_EVERY + 1
    for i, record in enumerate(est.history_):  # the training subset at every TRAIN_EVERY-th evaluation
        assert (np.isfinite(record["train_ep_rate"]) and np.isfinite(record["train_objective"])) \
            if track and i % TRAIN_EVERY == 0 else record["train_ep_rate"] is None
