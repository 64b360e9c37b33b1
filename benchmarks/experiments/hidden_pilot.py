"""Pilot fits of RNEEP (gru) on a hidden-ratchet file: one configuration, monitored curve and held-out rate.

Usage: PYTHONPATH=... python benchmarks/experiments/hidden_pilot.py DATA.npy LIMIT key=value ... [scale=32]
[final_lr=3e-4]. Prints the monitored validation rate every evaluation, the kept iteration and the
held-out rate with its interval, against LIMIT. No data check, no baselines (pilot only).
"""

from __future__ import annotations

import ast
import sys
import time

import numpy as np


def main(argv: list[str]) -> None:
    path, limit = argv[0], float(argv[1])
    params = {"model": "gru", "seq_len": 32, "hidden_units": 32, "embedding_dim": 8, "batch_size": 256,
              "learning_rate": 3e-3, "iterations": 2000, "jit_compile": True, "data_check": False,
              "baseline": False, "verbose": 0, "weight_decay": 5e-5}
    extra = {}
    for item in argv[2:]:
        key, value = item.split("=", 1)
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            pass
        (extra if key in ("scale", "final_lr") else params)[key] = value
    import keras

    from neep.estimators import NEEP
    from neep.estimators.nn import networks

    if extra.get("scale"):
        original = networks.gru_network

        def scaled(*args, **kwargs):
            net = original(*args, **kwargs)
            dense = net.layers[-1]
            net.pop()
            net.add(keras.layers.Rescaling(float(extra["scale"])))
            net.add(dense)
            return net

        networks.gru_network = scaled
    callbacks = []
    if extra.get("final_lr"):  # (NEEP(final_learning_rate=...) does the same per step)
        epochs = -(-params["iterations"] // params.get("eval_every", 100))
        ratio = extra["final_lr"] / params["learning_rate"]
        lr0 = params["learning_rate"]
        callbacks.append(keras.callbacks.LearningRateScheduler(
            lambda e, _c: float(lr0 * ratio ** (e / max(epochs - 1, 1)))))
    params["callbacks"] = callbacks
    states = np.load(path, mmap_mode="r")
    start = time.perf_counter()
    est = NEEP(**params).fit(states)
    took = time.perf_counter() - start
    curve = [(r["iteration"], r.get("ep_rate"), r.get("test_objective")) for r in est.history_ if r.get("ep_rate") is not None]
    print("curve", " ".join(f"{i}:{r:.4f}" for i, r, _ in curve if i % 500 == 0 or i == curve[-1][0]))
    iv = est.ep_rate_interval_
    print("seeds", " ".join(f"{r:.5f}" for r in est.ep_rate_per_seed_), "flags:", "; ".join(f[:60] for f in est.flags_))
    print(f"RESULT {' '.join(argv[2:])} | rate {iv.value:.5f} se {iv.stderr:.5f} [{iv.low:.5f}, {iv.high:.5f}] "
          f"vs {limit}: {100 * (iv.value / limit - 1):+.1f} % | flags {len(est.flags_)} | {took:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
