"""Hidden states: compare with the partial-information limit, not the full EP; undersampled plug-ins."""

import numpy as np
import pytest

from neep.estimators import NEEP, load_trajectories
from neep.estimators.baselines.estimates import plugin_kl_baseline
from neep.estimators.stats.references import partial_reference
from neep.simulators import FlashingRatchet, RatchetView, simulate_to_file


def test_partial_reference_is_the_ratchet_limit_only_for_hidden_data():
    ratchet = FlashingRatchet(potential=2.0)
    meta = {"model": "flashing-ratchet", "hidden": True, "parameters": ratchet.parameters}
    # Exact enumeration for n <= 13: the same function, so equal to the bit.
    assert partial_reference(meta, 8) == ratchet.partial_ep_per_step(8)
    assert partial_reference(dict(meta, hidden=False), 8) is None
    assert partial_reference(dict(meta, model="something else"), 8) is None
    assert partial_reference(None, 8) is None


def test_a_fit_on_hidden_data_is_judged_against_the_limit_of_its_windows(tmp_path):
    view = RatchetView(FlashingRatchet(potential=2.0), hidden=True)
    path = tmp_path / "hidden.npy"
    simulate_to_file(view, path, 1, 20_000, seed=1)
    data = load_trajectories(path)
    est = NEEP(model="gru", seq_len=4, hidden_units=8, embedding_dim=4, iterations=20, eval_every=10,
               batch_size=64, data_check=False, verbose=0).fit(data)
    limit = FlashingRatchet(potential=2.0).partial_ep_per_step(4)
    assert est.ep_per_step_exact_ == pytest.approx(limit, rel=1e-12)
    assert est.ep_rate_full_information_ == pytest.approx(data.ep_per_step_exact)  # dt 1: per step
    assert est.ep_per_step_exact_ < 0.2 * data.ep_per_step_exact  # windows of 4 reveal little of it
    assert est.r2_ is None  # the ep file is the full process's: no per-step comparison


def test_an_undersampled_plugin_table_is_reported_but_not_trusted():
    rng = np.random.default_rng(0)
    walk = (np.cumsum(np.where(rng.random((4, 3000)) < 0.7, 1, -1), axis=1) % 3).astype(np.int64)
    pairs = plugin_kl_baseline(walk[:2], walk[2:], n=2)
    long = plugin_kl_baseline(walk[:2], walk[2:], n=14)  # 3^14 = 4.8e6 words possible, 6e3 counted
    assert pairs.sampled and not long.sampled
    assert "UNDERSAMPLED" in long.description
    # the pair estimate of a biased ring walk: (p - q) ln(p / q) per step, within 4 of its errors
    exact = 0.4 * np.log(0.7 / 0.3)
    assert abs(pairs.value - exact) < 4 * pairs.stderr
