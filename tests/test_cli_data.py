"""Your own data through `neep fit` / `neep predict` and the Python API: formats, ragged sets, labels, failures."""

import json
import os
import stat
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from neep.cli.main import cli

TINY = ["--hidden-units", "8", "--iterations", "20", "--eval-every", "10", "--batch-size", "256", "--no-data-check"]


def _invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def _linear_process(rng, m, length, dt=0.01):
    """Overdamped 2-D linear process with a rotational drive (nonzero EP), float32 (m, length, 2)."""
    a = np.array([[-1.0, 0.8], [-0.8, -1.0]])
    x = np.zeros((m, length, 2))
    x[:, 0] = rng.normal(size=(m, 2))
    for t in range(1, length):
        x[:, t] = x[:, t - 1] + dt * x[:, t - 1] @ a.T + np.sqrt(2 * dt) * rng.normal(size=(m, 2))
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def formats(tmp_path_factory):
    """One trajectory set written in every format: name -> (paths, extra CLI args)."""
    folder = tmp_path_factory.mktemp("formats")
    x = _linear_process(np.random.default_rng(7), 4, 400)
    np.save(folder / "x.npy", x)
    np.save(folder / "x_dat.npy", x)
    os.replace(folder / "x_dat.npy", folder / "x.dat")
    np.savez(folder / "x.npz", states=x)
    np.savez(folder / "parts.npz", **{f"t{k}": x[k] for k in range(4)})
    with h5py.File(folder / "x.h5", "w") as f:
        f.create_dataset("/sim/states", data=x)
    csvs = []
    for k in range(4):
        path = folder / f"t{k}.csv"
        t = np.arange(400) * 0.01
        np.savetxt(path, np.column_stack([t, x[k]]), delimiter=",", header="t,x,y", comments="", fmt="%.9g")
        csvs.append(path)
    return folder, x, csvs


def test_same_estimate_from_every_format_and_as_a_ragged_set(formats):
    """The same trajectories in any format give the same estimate with the same seed.

    The current model starts at the closed-form linear current; with a learning rate of 1e-12 the
    network cannot move, so the estimate is a deterministic function of the data and its split:
    rectangular files and a ragged set of the same trajectories (split the same way, by trajectory)
    must agree to float round-off.
    """
    from neep.estimators import NEEP, load_set

    folder, x, csvs = formats
    kwargs = dict(iterations=20, eval_every=10, batch_size=256, hidden_units=8, learning_rate=1e-12, seed=3,
                  verbose=0, data_check=False)
    sources = {
        "npy": [folder / "x.npy"], "dat": [folder / "x.dat"], "npz": [folder / "x.npz"],
        "hdf5": [folder / "x.h5"], "npz keys": ([folder / "parts.npz"], {"key": "*"}), "csv files": csvs,
        "list of arrays": [x[0], x[1], x[2], x[3]],
    }
    rates = {}
    for name, source in sources.items():
        paths, options = source if isinstance(source, tuple) else (source, {})
        data = load_set(paths, dt=0.01, **options)
        rates[name] = NEEP(**kwargs).fit(data).entropy_production_rate_
    reference = rates["npy"]
    for name, value in rates.items():
        assert value == pytest.approx(reference, rel=1e-5), (name, rates)


def test_same_trained_estimate_from_rectangular_formats(formats):
    """Bit for bit: the same array through .npy, .npz, HDF5 and a .dat name, with a network that trains."""
    from neep.estimators import NEEP, load_trajectories

    folder, _, _ = formats
    kwargs = dict(model="mlp", iterations=20, eval_every=10, batch_size=256, hidden_units=8, seed=3, verbose=0,
                  data_check=False)
    rates = [NEEP(**kwargs).fit(load_trajectories(folder / name, dt=0.01, **options)).entropy_production_rate_
             for name, options in (("x.npy", {}), ("x.dat", {}), ("x.npz", {}), ("x.h5", {"key": "/sim/states"}))]
    assert len(set(rates)) == 1, rates


def test_ragged_fit_and_predict_npz(formats, tmp_path):
    folder, x, csvs = formats
    short = tmp_path / "short.csv"
    t = np.arange(250) * 0.01
    np.savetxt(short, np.column_stack([t, x[0, :250]]), delimiter=",", header="t,x,y", comments="")
    result = _invoke(["fit", str(csvs[0]), str(csvs[1]), str(short), "-o", str(tmp_path / "run"), *TINY])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["trajectory_lengths"] == [400, 400, 250] and summary["dt"] == pytest.approx(0.01)
    mode = stat.S_IMODE(os.stat(tmp_path / "run").st_mode)
    assert mode & 0o055, oct(mode)  # an ordinary folder, not 0700
    bad = _invoke(["predict", str(tmp_path / "run" / "model.keras"), str(csvs[2]), str(short),
                   "-o", str(tmp_path / "ep.npy")])
    assert bad.exit_code != 0 and ".npz" in bad.output and not (tmp_path / "ep.npy").exists()
    out = _invoke(["predict", str(tmp_path / "run" / "model.keras"), str(csvs[2]), str(short),
                   "-o", str(tmp_path / "ep.npz")])
    assert out.exit_code == 0, out.output
    with np.load(tmp_path / "ep.npz") as ep:
        assert [ep[k].shape for k in ep.files] == [(399,), (249,)]
    rate_line = next(line for line in out.output.splitlines() if line.startswith("EP rate"))
    assert rate_line.count("per step") <= 1, rate_line


def test_labels_are_mapped_stored_and_checked(tmp_path):
    rng = np.random.default_rng(0)
    states = np.empty(3000, dtype=np.int64)
    states[0] = 5
    for t in range(1, 3000):  # a biased ring 5 -> 17 -> 42 -> 5
        ring = [5, 17, 42]
        i = ring.index(states[t - 1])
        states[t] = ring[(i + 1) % 3] if rng.random() < 0.8 else ring[(i - 1) % 3]
    np.save(tmp_path / "s.npy", states.reshape(3, 1000))
    result = _invoke(["fit", str(tmp_path / "s.npy"), "-o", str(tmp_path / "run"), *TINY])
    assert result.exit_code == 0, result.output
    assert "3 states: 5, 17, 42" in result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["n_states"] == 3 and summary["labels"] == [5, 17, 42]
    np.save(tmp_path / "new.npy", np.array([5, 17, 42, 99, 5]))
    out = _invoke(["predict", str(tmp_path / "run" / "model.keras"), str(tmp_path / "new.npy")])
    assert out.exit_code != 0 and "state 99 (step 3) was never seen in training" in out.output
    ok = _invoke(["predict", str(tmp_path / "run" / "model.keras"), str(tmp_path / "s.npy")])
    assert ok.exit_code == 0 and "3 states: 5, 17, 42" in ok.output


_BAD_INPUTS = r"""
import os, sys, time, json
import numpy as np, h5py
from click.testing import CliRunner
from neep.cli.main import cli
d = sys.argv[1]
j = lambda name: os.path.join(d, name)
rng = np.random.default_rng(0)
good = rng.normal(size=(4, 100, 2)).astype(np.float32)
np.save(j("good.npy"), good)
open(j("junk.npy"), "w").write("garbage")
open(j("bin.dat"), "wb").write(bytes(range(256)))
np.savez(j("two.npz"), a=good[0], b=good[1])
with h5py.File(j("two.h5"), "w") as f:
    f.create_dataset("a", data=good[0]); f.create_dataset("b", data=good[1])
t = np.arange(100) * 0.01; t[50:] += 0.003
np.savetxt(j("uneven.csv"), np.column_stack([t, good[0]]), delimiter=",", header="t,x,y", comments="")
open(j("text.csv"), "w").write("x,y\n1,2\n3,oops\n")
np.save(j("ints.npy"), rng.integers(0, 3, size=(4, 100)))
cases = {
    "missing": ["fit", j("none.npy")], "folder without data": ["fit", j("empty")],
    "junk .npy": ["fit", j("junk.npy")], "unknown format": ["fit", j("bin.dat")],
    "npz without key": ["fit", j("two.npz")], "npz wrong key": ["fit", j("two.npz"), "--key", "c"],
    "hdf5 without key": ["fit", j("two.h5")], "uneven time": ["fit", j("uneven.csv")],
    "text in numbers": ["fit", j("text.csv")], "key on npy": ["fit", j("good.npy"), "--key", "a"],
    "columns": ["fit", j("uneven.csv"), "--columns", "z"],
    "embedding on floats": ["fit", j("good.npy"), "--model", "embedding"],
    "mlp on integers": ["fit", j("ints.npy"), "--model", "mlp"],
    "mixed kinds": ["fit", j("good.npy"), j("ints.npy")],
    "predict missing model": ["predict", j("none.keras"), j("good.npy")],
    "predict bad data": ["predict", j("good.npy"), j("junk.npy")],
}
os.mkdir(j("empty"))
out = {}
for name, args in cases.items():
    if args[0] == "fit":
        args = args + ["-o", j("run")]
    start = time.perf_counter()
    result = CliRunner().invoke(cli, args)
    out[name] = [result.exit_code, time.perf_counter() - start, result.output, os.path.exists(j("run"))]
out["tensorflow imported"] = "tensorflow" in sys.modules
print(json.dumps(out))
"""


def test_bad_input_fails_fast_without_tensorflow(tmp_path):
    """Every kind of bad input: non-zero exit, one error line, nothing written, no TensorFlow import."""
    script = tmp_path / "bad.py"
    script.write_text(textwrap.dedent(_BAD_INPUTS))
    data = tmp_path / "d"
    data.mkdir()
    done = subprocess.run([sys.executable, str(script), str(data)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.splitlines()[-1])
    assert results.pop("tensorflow imported") is False
    for name, (code, seconds, output, written) in results.items():
        assert code != 0, (name, output)
        assert "Traceback" not in output
        errors = [line for line in output.splitlines() if line.startswith("Error")]
        assert len(errors) == 1, (name, output)
        assert not written, name
        assert seconds < 1.0, (name, seconds)


def test_importing_the_estimators_prints_nothing():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", "from neep.estimators import NEEP; import neep.estimators.nn.model"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_predict_help_names_no_missing_option():
    text = _invoke(["predict", "--help"]).output
    assert "--seq-len states" not in text and "--key" in text and ".npz" in text
