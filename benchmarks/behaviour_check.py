"""Behaviour before and after a refactor: fixed-seed fits, predictions and error messages, recorded and compared.

Record with one version of the code, record with another, compare::

    PYTHONPATH=/old/tree/.src python benchmarks/behaviour_check.py record before.json
    python benchmarks/behaviour_check.py record after.json
    python benchmarks/behaviour_check.py compare before.json after.json

(``/old/tree/.src/neep`` is a folder of links to an old checkout's code folders,
so the old code is imported instead of the installed one.) What is recorded,
through the public API only (``fit_to_folder``, ``predict_file``, the ``neep``
command): for four small fits (current and MLP on a 2-bead chain, embedding on
the ratchet, GRU on the hidden ratchet) every key and value of summary.json but
the wall times, the history, the predicted per-step EP and the predicted rate;
the one-line errors of ``neep fit`` on 16 kinds of bad input, and of ``NEEP`` on
bad parameters. Wall times (the history's ``seconds``, the summary's) are not
compared. ``compare`` prints every difference (floats compared exactly:
the same seed on the same machine gives the same bits) and exits 1 if any.
Summary keys renamed on purpose are mapped with ``RENAMED``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

# summary.json keys renamed on purpose (old name -> new name).
RENAMED = {"ep_rate_exact": "ep_rate_target", "ep_rate_exact_process": "ep_rate_exact",
           "ep_per_step_exact": "ep_per_step_target", "interval_covers_exact": "interval_covers_target"}
# Values that are wall times, paths or the prose of the summary's notes: not compared.
IGNORED = {"seconds", "fit_seconds", "time", "path", "data", "output", "resume_command", "command", "notes"}


def _scenarios(folder: Path) -> list[tuple[str, str, dict]]:
    from neep.simulators import BeadSpring, FlashingRatchet, RatchetView, simulate_to_file

    beads = folder / "beads.npy"
    simulate_to_file(BeadSpring(n=2), beads, 40, 2000, seed=1, exact_ep=True)
    ratchet = folder / "ratchet.npy"
    simulate_to_file(RatchetView(FlashingRatchet()), ratchet, 1, 60_000, seed=2, exact_ep=True)
    hidden = folder / "hidden.npy"
    simulate_to_file(RatchetView(FlashingRatchet(), hidden=True), hidden, 1, 60_000, seed=3, exact_ep=True)
    common = dict(iterations=200, eval_every=100, verbose=0, eval_samples=20_000)
    return [
        ("current", str(beads), dict(common, seeds=2)),
        ("mlp", str(beads), dict(common, model="mlp", hidden_units=32, layers=2, data_check=False)),
        ("embedding", str(ratchet), dict(common, hidden_units=32, data_check=False)),
        ("gru", str(hidden), dict(common, model="gru", seq_len=8, iterations=100, data_check=False)),
    ]


def _bad_inputs(folder: Path) -> list[list[str]]:
    good = folder / "beads.npy"
    (folder / "text.npy").write_text("not an array\n")
    np.save(folder / "nan.npy", np.full((4, 100, 2), np.nan, np.float32))
    np.save(folder / "short.npy", np.zeros((1, 1, 2), np.float32))
    np.save(folder / "ints.npy", np.zeros((2, 100), np.int64))
    (folder / "full").mkdir(exist_ok=True)
    (folder / "full" / "x").write_text("x")
    out = str(folder / "bad-run")
    return [
        ["fit", str(folder / "missing.npy"), "-o", out],
        ["fit", str(folder / "text.npy"), "-o", out],
        ["fit", str(folder / "nan.npy"), "-o", out],
        ["fit", str(folder / "short.npy"), "-o", out],
        ["fit", str(folder / "ints.npy"), "--model", "current", "-o", out],
        ["fit", str(good), "--model", "embedding", "-o", out],
        ["fit", str(good), "--model", "current", "--seq-len", "4", "-o", out],
        ["fit", str(good), "--seq-len", "1", "-o", out],
        ["fit", str(good), "--iterations", "0", "-o", out],
        ["fit", str(good), "--learning-rate", "-1", "-o", out],
        ["fit", str(good), "--model", "foo", "-o", out],
        ["fit", str(good), "-o", str(folder / "full")],
        ["fit", str(good), "--dt", "-2", "-o", out],
        ["fit", str(good), "--baseline-degree", "7", "-o", out],
        ["fit", str(good), "--batch-size", "8", "--large-batch", "1024", "-o", out],
        ["predict", str(folder / "missing.keras"), str(good)],
    ]


def _python_errors() -> list[dict]:
    from neep.estimators import NEEP

    cases = [dict(iterations=0), dict(model="foo"), dict(seq_len=1), dict(learning_rate=0),
             dict(test_fraction=1.0), dict(validation_fraction=0.0), dict(baseline_degree=5),
             dict(ema_momentum=1.5), dict(precision="float16"), dict(stack_seeds="x")]
    found = []
    for kwargs in cases:
        try:
            NEEP(**kwargs).fit(np.zeros((2, 50, 1), np.float32))
            found.append({"kwargs": repr(kwargs), "error": None})
        except Exception as error:  # noqa: BLE001 - recorded, not handled
            found.append({"kwargs": repr(kwargs), "error": f"{type(error).__name__}: {error}"})
    return found


def record(path: str) -> None:
    from click.testing import CliRunner

    from neep.cli.main import cli
    from neep.estimators import fit_to_folder, predict_file

    out: dict = {"fits": {}, "cli_errors": [], "python_errors": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, data, kwargs in _scenarios(folder):
            run = folder / f"run-{name}"
            est, summary = fit_to_folder(data, run, plots=False, **kwargs)
            history = (run / "history.csv").read_text()
            pred = predict_file(run / "model.keras", data, folder / f"pred-{name}.npy")
            pred = pred[1] if isinstance(pred, tuple) else pred
            ep = np.load(folder / f"pred-{name}.npy")
            out["fits"][name] = {"summary": summary, "history": history, "predict": pred,
                                 "predicted_ep_sum": float(np.sum(ep, dtype=np.float64)),
                                 "predicted_ep_head": ep.reshape(-1)[:16].tolist()}
            print(f"recorded {name}", file=sys.stderr)
        runner = CliRunner()
        for args in _bad_inputs(folder):
            result = runner.invoke(cli, args)
            text = result.output.replace(tmp, "TMP")
            out["cli_errors"].append({"args": [a.replace(tmp, "TMP") for a in args], "exit": result.exit_code,
                                      "output": text.strip().splitlines()[-1:] if text.strip() else []})
    out["python_errors"] = _python_errors()
    Path(path).write_text(json.dumps(out, indent=1, default=str, sort_keys=True) + "\n")


def _walk(a, b, where: str, diffs: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key in IGNORED:
                continue
            if key not in a or key not in b:
                diffs.append(f"{where}.{key}: only in {'after' if key not in a else 'before'}")
            else:
                _walk(a[key], b[key], f"{where}.{key}", diffs)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _walk(x, y, f"{where}[{i}]", diffs)
    elif isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return
    elif a != b:
        diffs.append(f"{where}: {str(a)[:200]!r} -> {str(b)[:200]!r}")


def _without_times(text: str) -> list[list[str]]:
    """history.csv as rows, without its wall-time column."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or "seconds" not in rows[0]:
        return rows
    i = rows[0].index("seconds")
    return [row[:i] + row[i + 1:] for row in rows]


def compare(before: str, after: str) -> int:
    a, b = json.loads(Path(before).read_text()), json.loads(Path(after).read_text())
    for fit in a["fits"].values():  # the old names, renamed all at once (a chain: exact -> target, ...)
        fit["summary"] = {RENAMED.get(k, k): v for k, v in fit["summary"].items()}
    for fit in list(a["fits"].values()) + list(b["fits"].values()):
        fit["history"] = _without_times(fit["history"])
    diffs: list[str] = []
    _walk(a, b, "", diffs)
    n_fits, n_cli, n_py = len(a["fits"]), len(a["cli_errors"]), len(a["python_errors"])
    print(f"compared {n_fits} fits (summary, history, predictions), {n_cli} command-line errors, "
          f"{n_py} parameter errors; renamed keys mapped: {RENAMED}")
    for line in diffs:
        print("DIFF", line)
    print("identical" if not diffs else f"{len(diffs)} differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if len(sys.argv) == 3 and sys.argv[1] == "record":
        record(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
