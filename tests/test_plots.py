"""The plotting functions draw what they are given, on the Agg backend, and never show."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from neep.estimators.plots import (
    history_columns,
    plot_convergence,
    plot_cumulative_ep,
    plot_ep_scatter,
    plot_local_ep_map,
    save_figure,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _history(seeds=2, evaluations=5):
    return [
        {"iteration": 100 * (i + 1), "seed": s, "ep_rate": 1.0 + 0.1 * i + 0.01 * s,
         "train_ep_rate": 1.1 + 0.1 * i, "test_objective": 0.5}
        for s in range(seeds)
        for i in range(evaluations)
    ]


def test_history_columns_accepts_rows_mappings_and_structured():
    rows = [{"iteration": 1, "ep_rate": 2.0}, {"iteration": 2, "ep_rate": 3.0, "extra": 1.0}]
    cols = history_columns(rows)
    np.testing.assert_array_equal(cols["iteration"], [1, 2])
    assert np.isnan(cols["extra"][0]) and cols["extra"][1] == 1.0
    assert history_columns({"iteration": [1, 2], "ep_rate": [2, 3]})["ep_rate"].tolist() == [2, 3]
    structured = np.array([(1, 2.0)], dtype=[("iteration", "i8"), ("ep_rate", "f8")])
    assert history_columns(structured)["ep_rate"].tolist() == [2.0]
    with pytest.raises(ValueError, match="equal lengths"):
        history_columns({"iteration": [1, 2], "ep_rate": [1]})


def test_convergence_band_over_seeds_and_exact_line():
    ax = plot_convergence(_history(seeds=3), exact=2.025)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("held-out" in l and "3 seeds" in l for l in labels)
    assert any("training set" in l for l in labels)
    assert any("exact" in l for l in labels)
    held_out = ax.get_lines()[0]
    # the band's centre line is the mean over the seeds at each iteration
    np.testing.assert_allclose(held_out.get_ydata(), 1.0 + 0.1 * np.arange(5) + 0.01)
    exact_line = [l for l in ax.get_lines() if l.get_linestyle() == "--"][0]
    assert exact_line.get_ydata()[0] == 2.025
    assert "per unit time" in ax.get_ylabel()


def test_convergence_lines_per_seed_on_given_axes():
    fig, given = plt.subplots()
    ax = plot_convergence(_history(seeds=2), ax=given, style="lines", train_key=None, unit="per step")
    assert ax is given
    assert len(ax.get_lines()) == 2  # one per seed, no exact, no training curve
    assert "per step" in ax.get_ylabel()


def test_convergence_rejects_missing_columns():
    with pytest.raises(ValueError, match="ep_rate"):
        plot_convergence([{"iteration": 1}])
    with pytest.raises(ValueError, match="style"):
        plot_convergence(_history(), style="dots")


def test_cumulative_ep_trajectory_and_inset(rng):
    est = rng.normal(0.02, 0.1, size=(4, 50))
    exact = est + rng.normal(0, 0.01, size=est.shape)
    ax = plot_cumulative_ep(est, exact, dt=0.01)
    lines = ax.get_lines()
    exact_line, est_line = lines[0], lines[1]
    np.testing.assert_allclose(est_line.get_ydata(), np.concatenate([[0], np.cumsum(est[0])]))
    np.testing.assert_allclose(exact_line.get_ydata(), np.concatenate([[0], np.cumsum(exact[0])]))
    np.testing.assert_allclose(est_line.get_xdata()[-1], 50 * 0.01)
    assert ax.get_xlabel() == "time τ"
    (inset,) = ax.child_axes
    np.testing.assert_allclose(
        inset.get_lines()[1].get_ydata()[1:], np.cumsum(est, axis=1).mean(axis=0)
    )


def test_cumulative_ep_mean_only_and_bad_input(rng):
    ax = plot_cumulative_ep(rng.normal(size=20), trajectory=None, mean=True)
    assert ax.get_xlabel() == "step"
    with pytest.raises(ValueError, match="dt"):
        plot_cumulative_ep(np.zeros(5), dt=0.0)
    with pytest.raises(ValueError, match="shape"):
        plot_cumulative_ep(np.zeros((2, 5)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="trajectory"):
        plot_cumulative_ep(np.zeros((2, 5)), trajectory=3)


def test_local_ep_map_masks_empty_bins():
    x = np.linspace(-1, 1, 4)
    y = np.linspace(-2, 2, 5)
    values = np.arange(12, dtype=float).reshape(3, 4)
    values[0, 0] = np.nan
    ax = plot_local_ep_map(x, y, values)
    mesh = ax.collections[0]
    data = mesh.get_array()
    assert data.shape == (4, 3)  # drawn transposed: rows are y
    assert np.ma.is_masked(data[0, 0])
    assert data[1, 0] == values[0, 1]
    with pytest.raises(ValueError, match="shape"):
        plot_local_ep_map(x, y, values.T)


def test_ep_scatter_fit_and_r2_in_legend(rng):
    exact = rng.normal(size=5000)
    est = 0.9 * exact + 0.05 + rng.normal(0, 0.1, size=exact.size)
    ax = plot_ep_scatter(est, exact, max_points=1000)
    assert len(ax.collections[0].get_offsets()) == 1000
    (fit_label,) = [t.get_text() for t in ax.get_legend().get_texts() if "R^2" in t.get_text()]
    r2 = np.corrcoef(exact, est)[0, 1] ** 2
    assert f"{r2:.4f}" in fit_label
    slope, _ = np.polyfit(exact, est, 1)
    assert f"y = {slope:.3f} x" in fit_label
    with pytest.raises(ValueError, match="same size"):
        plot_ep_scatter(est[:10], exact[:11])


def test_save_figure_writes_png_and_closes(tmp_path, rng):
    ax = plot_ep_scatter(rng.normal(size=100), rng.normal(size=100))
    path = save_figure(ax, tmp_path / "scatter.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(ax.figure.number)


def test_local_ep_map_blanks_rarely_visited_bins(rng):
    """A bin's value is EP per unit time and area; bins with fewer than min_count midpoints are NaN."""
    from neep.estimators.stats.rates import local_ep_rate

    states = rng.normal(size=(4, 2000, 2))
    delta_s = np.ones((4, 1999))
    full, xe, ye = local_ep_rate(states, delta_s, dt=0.5, bins=10)
    area = np.outer(np.diff(xe), np.diff(ye))
    mid = 0.5 * (states[:, :-1] + states[:, 1:]).reshape(-1, 2)
    count, _, _ = np.histogram2d(mid[:, 0], mid[:, 1], bins=(xe, ye))
    # each step carries dS = 1: the map integrates to (steps inside the grid) / (all steps * dt)
    assert np.sum(full * area) == pytest.approx(count.sum() / (delta_s.size * 0.5), rel=1e-12)
    sparse, _, _ = local_ep_rate(states, delta_s, dt=0.5, bins=(xe, ye), min_count=50)
    assert np.all(np.isnan(sparse[count < 50])) and np.allclose(sparse[count >= 50], full[count >= 50])
    assert np.any(count < 50) and np.any(count >= 50)
