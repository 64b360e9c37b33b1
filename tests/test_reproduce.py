"""`neep reproduce`: the wiring at the tiny scale (every figure's code path), the cache, bad input.

The tiny scale's numbers are meaningless (networks of 8 units trained for 20
steps); these tests check that every figure is simulated, fitted, drawn and
tabulated, that a second run reuses the cache and gives the same table, and
that bad options fail cleanly. The accuracy of a real reproduction is checked
by the slow test at the end (quick-scale Fig. 3c).
"""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from neep.cli.main import cli
from neep.reproduce import FIGURES, BeadScale, FitConfig, get_scale
from neep.reproduce.beads import fig2_bar
from neep.reproduce.cache import Cache, parameter_key
from neep.reproduce.ratchet import partial_limit

ROW_KEYS = {"figure", "quantity", "unit", "exact", "paper", "mean", "std", "abs_error", "rel_error", "interval",
            "covers", "flags", "flag_names", "bar", "meets", "sizes", "seconds", "note"}
INTERVAL_KEYS = {"value", "stderr", "low", "high", "level", "sampling_stderr", "training_stderr", "seed_std"}
PNGS = {"fig2.png", "figS1.png", "figS2-N2.png", "figS2-N5.png", "fig3c.png", "fig3e.png"}


def _invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One tiny reproduction of every figure, then the same command again (all from the cache)."""
    out = tmp_path_factory.mktemp("repro") / "paper"
    first = _invoke(["reproduce", "--scale", "tiny", "-o", str(out)])
    table = json.loads((out / "results.json").read_text())
    second = _invoke(["reproduce", "--scale", "tiny", "-o", str(out)])
    return out, first, table, second


def test_every_figure_is_drawn_and_tabulated(tiny_run):
    out, first, table, _ = tiny_run
    assert first.exit_code == 0, first.output
    assert PNGS <= {p.name for p in out.iterdir()}
    assert (out / "results.md").read_text().startswith("# Reproduction of the NEEP paper (tiny scale)")
    assert set(table["figures"]) == set(FIGURES)
    assert table["scale"] == "tiny" and table["notes"]
    for name, figure in table["figures"].items():
        assert figure["rows"], name
        assert figure["seconds"] >= 0
        for row in figure["rows"]:
            assert set(row) == ROW_KEYS, row
            assert row["figure"] == name


def test_estimate_rows_carry_the_interval_and_the_flags(tiny_run):
    """Every fitted estimate (Fig. 2a, S1, 3c, 3e) has a 95 % interval around its value, says whether
    it covers the exact value, and lists the estimator's flags; R^2 and trend rows have none."""
    out, _, table, _ = tiny_run
    rows = [r for f in table["figures"].values() for r in f["rows"]]
    kinds = ("(a) EP rate", "EP rate", "EP per step", "RNEEP EP per step")
    estimates = [r for r in rows if r["quantity"].startswith(kinds)]
    assert len(estimates) == 2 * 2 + 2 * 2 + 2 + 2 * 2  # fig2 (a), S1, 3c, 3e at the tiny scale
    for row in estimates:
        ci = row["interval"]
        assert set(ci) == INTERVAL_KEYS, row["quantity"]
        assert ci["level"] == 0.95 and ci["stderr"] >= 0
        assert ci["low"] <= ci["value"] <= ci["high"]
        assert ci["value"] == pytest.approx(row["mean"], rel=1e-6, abs=1e-12)
        assert row["covers"] == (ci["low"] <= row["exact"] <= ci["high"])
        assert isinstance(row["flags"], list) and len(row["flags"]) == len(row["flag_names"])
    for row in rows:
        if row["quantity"].startswith(("(d,e)", "RNEEP grows")):
            assert row["interval"] is None and row["covers"] is None
    text = (out / "results.md").read_text()
    assert "95 % interval" in text and "covers exact" in text
    assert "current 1x8" in table["figures"]["fig2"]["rows"][0]["sizes"]  # the scale's bead kind


def test_exact_column_is_the_simulators_value(tiny_run):
    from neep.simulators import BeadSpring, FlashingRatchet

    _, _, table, _ = tiny_run
    rows = {r["quantity"]: r for f in table["figures"].values() for r in f["rows"]}
    beads = BeadSpring(n=5, t_cold=1.0)
    assert rows["(a) EP rate, N=5, Tc=1"]["exact"] == pytest.approx(beads.ep_per_step / beads.dt, rel=1e-12)
    assert rows["(a) EP rate, N=2, Tc=10"]["exact"] == pytest.approx(0.0, abs=1e-12)
    assert rows["EP per step, V=2"]["exact"] == pytest.approx(FlashingRatchet(potential=2.0).ep_per_jump)
    assert rows["RNEEP EP per step, V=2, n=8"]["exact"] == pytest.approx(
        FlashingRatchet(potential=2.0).partial_ep_per_step(8))
    assert rows["(d,e) per-step R^2, N=2, Tc=1"]["paper"] == 0.9972
    r = rows["(a) EP rate, N=5, Tc=1"]
    assert r["rel_error"] == pytest.approx((r["mean"] - r["exact"]) / r["exact"])


def test_second_run_reuses_every_simulation_and_fit(tiny_run):
    out, first, table, second = tiny_run
    assert second.exit_code == 0, second.output
    assert "simulated" in first.output and "simulated" not in second.output
    fitted = [line for line in second.output.splitlines() if line.split("] ")[-1].startswith("fit ")]
    assert fitted and all("reused from the cache" in line for line in fitted)
    again = json.loads((out / "results.json").read_text())
    for name in FIGURES:
        assert [r["mean"] for r in again["figures"][name]["rows"]] == [r["mean"] for r in table["figures"][name]["rows"]]


def test_a_single_figure_adds_to_the_table(tiny_run, tmp_path):
    out = tmp_path / "one"
    result = _invoke(["reproduce", "fig3c", "--scale", "tiny", "--seeds", "1", "--quiet", "-o", str(out)])
    assert result.exit_code == 0, result.output
    table = json.loads((out / "results.json").read_text())
    assert list(table["figures"]) == ["fig3c"]
    assert "1 seeds" in table["figures"]["fig3c"]["rows"][0]["sizes"]
    assert not [p for p in out.iterdir() if p.suffix == ".png" and p.name != "fig3c.png"]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["fig9"], "fig9"),
        (["--scale", "huge"], "huge"),
        (["--seeds", "0"], "--seeds"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_bad_options_fail_before_any_work(tmp_path, args, needle):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["reproduce", *args, "-o", str(out)])
    assert result.exit_code == 2
    assert needle in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_bad_output_is_one_line_and_writes_nothing(tmp_path):
    missing = tmp_path / "no" / "such"
    result = CliRunner().invoke(cli, ["reproduce", "--scale", "tiny", "-o", str(missing)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("Error: folder")
    assert not (tmp_path / "no").exists()
    afile = tmp_path / "file"
    afile.write_text("x")
    result = CliRunner().invoke(cli, ["reproduce", "--scale", "tiny", "-o", str(afile)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert afile.read_text() == "x"


def test_parameter_key_is_canonical_and_sensitive():
    a = parameter_key("fit", {"b": 1, "a": (1.0, 2)})
    assert a == parameter_key("fit", {"a": [1.0, 2], "b": np.int64(1)})
    assert a != parameter_key("fit", {"b": 1, "a": (1.0, 3)})
    assert a.startswith("fit-") and len(a) == 4 + 16


def test_cache_round_trip_and_no_partial_entry(tmp_path):
    cache = Cache(tmp_path / "c")
    assert cache.load("k") is None
    cache.store("k", {"x": np.float64(1.5), "v": np.arange(3)}, {"a": np.ones(4, np.float32)})
    doc, arrays = cache.load("k")
    assert doc == {"x": 1.5, "v": [0, 1, 2]}
    np.testing.assert_array_equal(arrays["a"], np.ones(4))
    with pytest.raises(TypeError):
        cache.store("bad", {"x": object()})
    assert cache.load("bad") is None
    assert not [p for p in (tmp_path / "c").iterdir() if p.name.endswith(".tmp")]


def test_partial_limit_exact_then_monte_carlo():
    from neep.simulators import FlashingRatchet

    ratchet = FlashingRatchet(potential=2.0)
    at8 = partial_limit(2.0, 8)
    assert at8.method == "exact" and at8.stderr == 0.0 and at8.value == ratchet.partial_ep_per_step(8)
    at13 = partial_limit(2.0, 13).value
    at128 = partial_limit(2.0, 128, samples=20_000)
    assert at128.method == "mc" and at128 == ratchet.partial_ep_per_step_mc(128, samples=20_000)
    # D_n / (n - 1) grows with n and can never exceed the full-information EP per step.
    assert at13 + 4 * at128.stderr < at128.value < ratchet.ep_per_jump
    assert tuple(partial_limit(0.0, 64)) == (0.0, 0.0)


def test_bars_follow_the_issue():
    assert fig2_bar(2, 1.0, 10.0)[:2] == ("rel", 0.05)
    assert fig2_bar(2, 5.0, 10.0)[:2] == ("rel", 0.10)
    assert fig2_bar(5, 3.0, 10.0)[:2] == ("rel", 0.15)
    assert fig2_bar(5, 7.0, 10.0)[:2] == ("abs", 0.005)
    assert fig2_bar(2, 10.0, 10.0)[0] == "zero"


def test_scales_and_configs_validate():
    with pytest.raises(ValueError, match="scale must be one of"):
        get_scale("huge")
    with pytest.raises(ValueError, match="iterations must be an integer >= 1, got 0"):
        FitConfig(8, 1, 0)
    with pytest.raises(ValueError, match="final_learning_rate"):
        FitConfig(8, 1, 10, final_learning_rate=-1.0)
    quick = get_scale("quick")
    assert quick.with_seeds(2).ratchet.seeds == 2 and quick.ratchet.seeds == 5
    assert quick.rneep.fit_for(64) == quick.rneep.fit and quick.rneep.fit_for(128).iterations == 4000
    tiny = get_scale("tiny").rneep
    assert tiny.fit_for(8).batch_size == 16 and tiny.fit_for(2).batch_size == 32
    assert all(note for note in quick.notes)
    # The quick scale fits beads with the package's current ansatz, the paper scale with the paper's MLP.
    assert quick.beads.kind == "current" and get_scale("paper").beads.kind == "mlp"
    assert "current ansatz" in quick.notes[0] and "'mlp'" in get_scale("paper").notes[0]
    with pytest.raises(ValueError, match="kind must be one of"):
        BeadScale(trajectories=4, steps=10, t_colds=(1.0,), lengths_s1=(5,), lengths_s2=(5,), kind="gru")


@pytest.mark.slow
def test_quick_fig3c_matches_the_exact_ratchet(tmp_path):
    """Quick-scale Fig. 3(c) end to end (about 3 min on 2 cores).

    Tolerance per V: 4 sigma, sigma^2 = (seed std)^2 / K + (sampling error)^2 + (pairs / L)^2.
    The sampling error of the held-out mean EP per step is sd(per-step EP) * sqrt(1.2 / L)
    (1.2: the cumulative-slope weights), sd from a simulated trajectory of the same V. The
    last term is the floor of a network fitted to L jumps: each of the ``pairs`` reversible
    transition pairs gets a log-ratio off by ~1/sqrt(L p), seen with a held-out flux
    imbalance ~sqrt(p / L), about 1/L per pair; it is what remains at V = 0, where every
    step is reversible and the first two terms vanish.
    """
    from neep.reproduce import reproduce
    from neep.simulators import FlashingRatchet

    scale = get_scale("quick").ratchet
    table = reproduce(["fig3c"], scale="quick", output=tmp_path / "q")
    for row, v in zip(table["figures"]["fig3c"]["rows"], scale.potentials):
        ratchet = FlashingRatchet(potential=v)
        sd = float(np.std(ratchet.stochastic_ep(ratchet.simulate(1, 200_000, seed=5))))
        rates = ratchet.rate_matrix
        pairs = int(np.sum(np.triu((rates > 0) & (rates.T > 0), k=1)))
        sigma = np.sqrt(row["std"] ** 2 / scale.seeds + sd**2 * 1.2 / scale.steps + (pairs / scale.steps) ** 2)
        assert abs(row["mean"] - row["exact"]) <= 4 * sigma + 1e-9, row
