"""Fits that survive interruption: a real SIGINT to `neep fit`, then `--resume` completes the run."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest


def _sigint_default() -> None:
    # A pytest started in the background by a non-interactive shell (`pytest &`, nohup) ignores
    # SIGINT, and children inherit that: the fit below would never see the Ctrl-C it is sent.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _neep(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "neep.cli.main", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ), preexec_fn=_sigint_default,
                            **kwargs)


def _status(folder: Path) -> dict:
    try:
        return json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return {}


@pytest.fixture(scope="module")
def beads(tmp_path_factory):
    from neep.simulators import BeadSpring

    path = tmp_path_factory.mktemp("data") / "beads.npy"
    np.save(path, BeadSpring(n=2).simulate(64, 400, seed=5).astype(np.float32))
    return path


OPTIONS = ["--seeds", "2", "--iterations", "1500", "--eval-every", "50", "--hidden-units", "16",
           "--batch-size", "1024", "--no-data-check", "--dt", "0.01"]


@pytest.mark.slow  # four `neep` processes (TensorFlow start-up each) and two short fits: ~40 s on 2 cores
def test_sigint_leaves_a_partial_run_that_resume_completes(beads, tmp_path):
    run = tmp_path / "run"
    proc = _neep("fit", beads, "-o", run, *OPTIONS)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        status = _status(run)
        if status.get("seeds_done") == [0] and (status.get("iteration") or 0) >= 200:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the fit ended before it could be interrupted: " + proc.stderr.read()[-2000:]
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("neep fit: interrupted") and "--resume" in last

    partial = _status(run)
    assert partial["status"] == "interrupted" and partial["seeds_done"] == [0]
    stopped_at = partial["iteration"]
    assert 200 <= stopped_at < 1500
    assert (run / "model.keras").exists() and (run / "history.csv").exists()
    rows = (run / "history.csv").read_text().splitlines()
    assert len(rows) > 1500 // 50  # all of seed 1, part of seed 2
    predicted = subprocess.run([sys.executable, "-m", "neep.cli.main", "predict", run / "model.keras", beads],
                               capture_output=True, text=True)
    assert predicted.returncode == 0, predicted.stderr

    # options must match the interrupted run's: a clear one-line error, nothing changed
    bad = subprocess.run([sys.executable, "-m", "neep.cli.main", "fit", beads, "-o", run, "--resume",
                          "--learning-rate", "0.01"], capture_output=True, text=True)
    assert bad.returncode != 0 and "learning_rate differs" in bad.stderr and "Traceback" not in bad.stderr
    assert _status(run)["status"] == "interrupted"

    done = subprocess.run([sys.executable, "-m", "neep.cli.main", "fit", beads, "-o", run, "--resume"],
                          capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = _status(run)
    assert "status" not in summary or summary["status"] == "complete"
    assert summary["ep_rate"] > 0 and summary["seeds"] == 2 and summary["iterations"] == 1500
    assert not (run / "checkpoint").exists()
    with open(run / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    second = np.array([int(r["iteration"]) for r in rows if r["seed"] == "1"])
    # the second seed continued where it stopped: its iterations run once each up to the end, no restart
    assert second.max() == 1500 and len(np.unique(second)) == len(second)
    assert np.sum(second == 0) == 1


def test_resume_needs_an_interrupted_run(beads, tmp_path):
    result = subprocess.run([sys.executable, "-m", "neep.cli.main", "fit", beads, "-o", tmp_path, "--resume"],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "no interrupted run" in result.stderr
