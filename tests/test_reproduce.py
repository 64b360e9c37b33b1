"""`neep reproduce`: the wiring at the tiny scale (every figure's code path), the cache, bad input.

The tiny scale's numbers are meaningless (networks of 8 units trained for 20
steps); these tests check that every figure is simulated, fitted, drawn and
tabulated, that a second run reuses the cache and gives the same table, and
that bad options fail cleanly. The accuracy of a real reproduction is checked
by the slow test at the end (quick-scale Fig. 3c).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

from pathlib import Path

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
        (["--jobs", "0"], "--jobs"),
        (["--jobs", "-2"], "--jobs"),
        (["--jobs", "two"], "--jobs"),
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
    assert quick.rneep.fit_for(32) == quick.rneep.fit and not quick.rneep.fit.restore_best  # neep fit's gru
    assert (quick.rneep.fit_for(64).batch_size, quick.rneep.fit_for(128).iterations) == (64, 2000)
    # the curriculum in n: 64 starts from 32, 128 from 64, shorter ones fresh
    assert [quick.rneep.warm_from(n) for n in quick.rneep.seq_lens] == [None, None, None, None, 32, 64]
    assert quick.rneep.fit_for(128).learning_rate == 1e-3 and quick.rneep.fit_for(32).learning_rate == 3e-3
    assert "last weights kept" in quick.rneep.fit.describe("gru")
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


# --- --jobs N: the sweep in worker processes -------------------------------------------------------------------


def _fit_docs(folder):
    """Cached fit documents without their wall times, and their arrays, by file name."""
    docs = {}
    for path in sorted((folder / "cache").glob("fit-*.json")):
        doc = json.loads(path.read_text())
        doc.pop("seconds")
        for row in doc["history"]:
            row.pop("seconds", None)  # wall time of the evaluation
        npz = path.with_suffix(".npz")
        arrays = {}
        if npz.exists():
            with np.load(npz) as data:
                arrays = {k: data[k] for k in data.files}
        docs[path.name] = (doc, arrays)
    return docs


def _rows_without_times(table):
    return {name: [{k: v for k, v in row.items() if k != "seconds"} for row in figure["rows"]]
            for name, figure in table["figures"].items()}


def _assert_same_fits(a, b):
    assert set(a) == set(b)
    for name in a:
        assert a[name][0] == b[name][0], name  # same numbers, to the last bit (fits are deterministic per seed)
        assert set(a[name][1]) == set(b[name][1]), name
        for key in a[name][1]:
            np.testing.assert_array_equal(a[name][1][key], b[name][1][key])


def test_the_plan_lists_every_simulation_and_fit_of_the_serial_run(tiny_run):
    from neep.reproduce.parallel import plan

    out = tiny_run[0]
    jobs = plan(list(FIGURES), get_scale("tiny"), 0)
    fits = {j.key for j in jobs if j.kind == "fit"}
    sims = {j.key for j in jobs if j.kind == "simulation"}
    assert len(fits) + len(sims) == len(jobs)
    assert fits == {p.stem for p in (out / "cache").glob("fit-*.json")}
    assert sims == {p.stem for p in (out / "cache").glob("sim-*.npy") if not p.stem.endswith(".ep")}
    # every fit needs its simulation; a warm-started one (Fig. 3e, n >= long_from) also the fit it starts from
    needs = [(j.needs,) if isinstance(j.needs, str) else j.needs for j in jobs if j.kind == "fit"]
    assert all(n[0] in sims and set(n[1:]) <= fits for n in needs)
    assert sum(len(n) == 2 for n in needs) == len(get_scale("tiny").rneep.potentials)  # n = 8 from n = 2
    assert all(j.done(Cache(out / "cache")) for j in jobs)


def test_thread_budget_shares_the_cores():
    from neep.reproduce.parallel import thread_budget

    assert thread_budget(1, cores=2) == 2
    assert thread_budget(2, cores=2) == 1
    assert thread_budget(3, cores=2) == 1
    assert thread_budget(2, cores=16) == 8


def test_bad_jobs_in_python_fails_before_any_work(tmp_path):
    from neep.reproduce import reproduce

    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="jobs must be an integer >= 1"):
            reproduce(["fig3c"], scale="tiny", output=tmp_path / "out", jobs=bad)
    assert not (tmp_path / "out").exists()


def test_jobs_resumes_a_partial_cache_with_the_serial_numbers(tiny_run, tmp_path):
    """Two fits removed from a finished serial sweep: --jobs 2 redoes those two only, in two workers,
    and they come out bit for bit as the serial run made them (the table too, wall times aside)."""
    out, _, table, _ = tiny_run
    copy = tmp_path / "paper"
    shutil.copytree(out, copy)
    serial = _fit_docs(copy)
    removed = [name for name, (doc, _) in serial.items() if doc["label"] in ("beads N=2 Tc=1 L=400", "ratchet V=2")]
    assert len(removed) == 2 and any(serial[name][1] for name in removed)  # one with arrays (Fig. 2 detail)
    kept = {p.name: p.stat().st_mtime_ns for p in (copy / "cache").iterdir()
            if p.stem not in {Path(n).stem for n in removed}}
    for name in removed:
        for path in (copy / "cache").glob(Path(name).stem + ".*"):
            path.unlink()
    result = _invoke(["reproduce", "--scale", "tiny", "--jobs", "2", "-o", str(copy)])
    assert result.exit_code == 0, result.output
    assert "2 fits and 0 simulations to run (12 fits already in the cache) in 2 worker processes" in result.output
    fitted = [line for line in result.output.splitlines() if line.split("] ")[-1].startswith("fit ")]
    assert len(fitted) == 2 and all(line.endswith(("[1/2]", "[2/2]")) for line in fitted), fitted
    assert "reused from the cache" not in result.output and "simulated" not in result.output
    assert {p.name: p.stat().st_mtime_ns for p in (copy / "cache").iterdir() if p.name in kept} == kept
    _assert_same_fits(_fit_docs(copy), serial)
    again = json.loads((copy / "results.json").read_text())
    assert _rows_without_times(again) == _rows_without_times(table)
    assert again["parallel"]["fits"] == 2 and "--jobs 2" in again["command"]
    assert "in 2 worker processes" in (copy / "results.md").read_text()


def test_a_failing_fit_is_one_line_naming_it(tiny_run, tmp_path):
    out = tiny_run[0]
    copy = tmp_path / "paper"
    shutil.copytree(out, copy)
    from neep.reproduce.parallel import plan

    job = next(j for j in plan(["fig3c"], get_scale("tiny"), 0) if j.label == "ratchet V=2" and j.kind == "fit")
    (copy / "cache" / f"{job.key}.json").unlink()
    (copy / "cache" / f"{job.needs}.npy").write_bytes(b"not an array")  # the data it reads, damaged
    result = CliRunner().invoke(cli, ["reproduce", "fig3c", "--scale", "tiny", "--jobs", "2", "-o", str(copy)])
    assert result.exit_code == 1, result.output
    assert "fit ratchet V=2: FAILED: " in result.output
    assert result.output.strip().splitlines()[-1].startswith("Error: fit ratchet V=2 failed in a worker process: ")
    assert "Traceback" not in result.output
    assert not (copy / "cache" / f"{job.key}.json").exists()


@pytest.mark.slow
def test_jobs_2_from_scratch_equals_jobs_1(tiny_run, tmp_path):
    """The whole tiny sweep in 2 workers (about 2 min on 2 cores): the same cache entries, bit for bit."""
    out, _, table, _ = tiny_run
    result = _invoke(["reproduce", "--scale", "tiny", "--jobs", "2", "-o", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "p" / "cache").iterdir()) == sorted(
        p.name for p in (out / "cache").iterdir())
    _assert_same_fits(_fit_docs(tmp_path / "p"), _fit_docs(out))
    assert _rows_without_times(json.loads((tmp_path / "p" / "results.json").read_text())) == _rows_without_times(table)


@pytest.mark.slow
def test_workers_get_their_share_of_the_threads(monkeypatch):
    from neep.reproduce import parallel

    for name in parallel.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with parallel._pool(2, 1) as pool:
        seen = pool.submit(parallel._worker_threads).result(timeout=300)
    assert seen["environ"] == {name: "1" for name in parallel.THREAD_VARIABLES}
    assert seen["numba"] == 1
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")  # a value set by the user is kept
    with parallel._pool(1, 2) as pool:
        seen = pool.submit(parallel._worker_threads).result(timeout=300)
    assert seen["environ"]["TF_NUM_INTRAOP_THREADS"] == "2" and seen["numba"] == 1


@pytest.mark.slow
def test_ctrl_c_stops_every_worker_and_the_sweep_resumes(tmp_path):
    """SIGINT to the process group (what Ctrl-C in a terminal does) while two workers fit."""
    out = tmp_path / "p"
    command = [sys.executable, "-m", "neep.cli.main", "reproduce", "fig3c", "fig3e", "--scale", "tiny",
               "--jobs", "2", "-o", str(out)]
    # SIGINT back to its default in the child: a pytest run in the background (`pytest &`, nohup)
    # ignores it, and the child would inherit that and never be interrupted.
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for line in proc.stdout:
            if line.split("] ")[-1].startswith("fit "):
                break
        os.killpg(proc.pid, signal.SIGINT)
        start = time.monotonic()
        output = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0, output[-3000:]
    assert time.monotonic() - start < 30
    assert "interrupted: stopping the workers" in output and "Traceback" not in output
    time.sleep(2)
    left = subprocess.run(["ps", "-o", "pid=,stat=", "-g", str(proc.pid)], capture_output=True, text=True).stdout
    assert all("Z" in line for line in left.split("\n") if line.strip()), left  # nothing running on
    cache = out / "cache"
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]
    done = list(cache.glob("fit-*.json"))
    assert 1 <= len(done) < 6
    for path in done:
        json.loads(path.read_text())
    result = _invoke(["reproduce", "fig3c", "fig3e", "--scale", "tiny", "--jobs", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"{6 - len(done)} fit" in result.output and f"({len(done)} fit" in result.output
