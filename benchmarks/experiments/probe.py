"""Written against the estimators/ layout before the layers (commit ce4f4fa): its monkeypatches name
modules that moved. Run it on a checkout of that commit (PYTHONPATH pointing at a folder ``neep/``
of links to its code folders); its findings are what the current defaults implement.

Probe why the current model does not beat its closed-form start on nonlinear forces (issue 15.3).

Research code, not package code: each lead is a monkeypatch of ``neep.estimators``
around one ``NEEP.fit``, undone afterwards. One JSON line per fit is appended to
``--out`` (default /work/research-data/probe.jsonl) with the rate, its interval, the
truth on the same held-out data, the time, and the selection numbers: validation J of
the start and of the best evaluation and their PAIRED difference with its standard error
(per-window differences over the same validation windows, blocked by trajectory, as the
monitor computes it).

    TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 PYTHONPATH=$PWD/.src \\
        python benchmarks/experiments/probe.py ring1000:400 default lr3e-3 ...

Data: NAME[:M] of /work/research-data/NAME.npy (M: the first M trajectories). Settings:
see ``SETTINGS`` (a name, or name+name to combine).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sys
import time
from unittest import mock

import keras
import numpy as np
from neep.estimators import NEEP
from neep.estimators import callbacks as cb
from neep.estimators import estimator as est_mod
from neep.estimators import training as tr
from neep.estimators.baselines import fit_linear_current
from neep.estimators.data import Trajectories
from neep.estimators.uncertainty import mean_stderr

DATA = "/work/research-data"

# The defaults of `neep fit` for the current model (estimators/run.py FIT_DEFAULTS, _ITERATIONS_DEFAULT),
# minus the data check and the baselines (timed separately; they do not change the estimate).
CLI = dict(model="current", batch_size=4096, learning_rate=1e-3, weight_decay=5e-5, iterations=2000,  # noqa: C408
           eval_every=100, seeds=1, ema_momentum=0.99, hidden_units=128, layers=2, data_check=False,
           baseline=False, verbose=0, track_train=False)

#: name -> (NEEP kwargs, patch options)
SETTINGS = {
    "default": ({}, {}),
    "cli": ({"data_check": True, "baseline": True, "track_train": True}, {}),  # all of `neep fit`'s fit work
    "base": ({"baseline": True}, {}),        # the baselines, no data check, no training-set tracking
    "nostart": ({"linear_start": False}, {}),
    "keep0": ({}, {"keep": 0.0}),            # plain best validation J (start competes, no margin)
    "keep2": ({}, {"keep": 2.0}),
    "it5k": ({"iterations": 5000}, {}),
    "it10k": ({"iterations": 10000}, {}),
    "it20k": ({"iterations": 20000}, {}),
    "lr1e-4": ({"learning_rate": 1e-4}, {}),
    "lr3e-3": ({"learning_rate": 3e-3}, {}),
    "lr1e-2": ({"learning_rate": 1e-2}, {}),
    "cos": ({}, {"schedule": "cosine"}),     # warmup 5 % + cosine to 0 over the iterations
    "pat10": ({"iterations": 30000}, {"patience": 10}),   # stop after 10 evaluations without a new best J
    "pat5": ({"iterations": 30000}, {"patience": 5}),
    "pat20": ({"iterations": 30000}, {"patience": 20}),
    "plateau": ({}, {"plateau": 0.3}),       # with patience P: lr x 0.3 after P/2 evaluations without a new best
    "deg2": ({}, {"degree": 2}),             # closed-form start of force degree 2 (then the net corrects)
    "deg3": ({}, {"degree": 3}),
    "sq": ({}, {"features": 2}),             # correction reads (z, z_i z_k)
    "w256": ({"hidden_units": 256}, {}),
    "w64": ({"hidden_units": 64}, {}),
    "d3": ({"layers": 3}, {}),
    "b1024": ({"batch_size": 1024}, {}),
    "b16k": ({"batch_size": 16384}, {}),
    "ema0": ({"ema_momentum": None}, {}),
    "rise": ({}, {"rise": 0.01}),            # with patience: also go on while the monitored rate still rises > 1 % per 1000 steps
    "trend": ({}, {"trend": 3.0}),           # with patience: also go on while the last 20 rates trend up by > 3 SE
    "ev4x": ({"eval_samples": 524288}, {}),   # 4x the validation subset the monitor evaluates
    "ema999": ({"ema_momentum": 0.999}, {}),
    "wd0": ({"weight_decay": 0.0}, {}),
    "adamw": ({"decoupled_weight_decay": True}, {}),   # Keras AdamW: decay outside Adam's normalization
    "nonorm": ({"normalize": False}, {}),
    "alpha": ({}, {"alpha": -0.5}),          # alpha-NEEP training loss (Kwon & Baek 2024), alpha = -0.5
    "tanh": ({}, {"activation": "tanh"}),
    "silu": ({}, {"activation": "silu"}),
}


def setting(name: str) -> tuple[dict, dict]:
    kwargs, opts = {}, {}
    for part in name.split("+"):
        if part.startswith("it") and part[2:].rstrip("k").isdigit() and part not in SETTINGS:
            kwargs["iterations"] = int(part[2:].rstrip("k")) * (1000 if part.endswith("k") else 1)
            continue
        if part.startswith("lr") and part not in SETTINGS:
            kwargs["learning_rate"] = float(part[2:])
            continue
        if part.startswith("pat") and part not in SETTINGS:
            kwargs.setdefault("iterations", 30000)
            opts["patience"] = int(part[3:])
            continue
        if part.startswith("seed"):
            kwargs["seed"] = int(part[4:])
            continue
        k, o = SETTINGS[part]
        kwargs.update(k)
        opts.update(o)
    return kwargs, opts


# -- data ---------------------------------------------------------------------------------------
def load(spec: str) -> tuple[Trajectories, float]:
    """Trajectories (the first M) and the process's exact EP rate (sidecar)."""
    name, _, count = spec.partition(":")
    states = np.load(f"{DATA}/{name}.npy", mmap_mode="r")
    ep = np.load(f"{DATA}/{name}.ep.npy", mmap_mode="r")
    with open(f"{DATA}/{name}.json") as f:
        meta = json.load(f)
    if count:
        states, ep = states[: int(count)], ep[: int(count)]
    data = Trajectories(states=states, discrete=False, dt=float(meta["dt"]), dt_known=True, exact_ep=ep,
                        ep_rate_exact=float(meta["ep_rate_exact"]))
    return data, float(meta["ep_rate_exact"])


# -- patches ----------------------------------------------------------------------------------------
class PolyFeatures(keras.layers.Layer):
    """``z`` followed by every monomial of degree 2..g (indices non-decreasing): baselines.current_basis order."""

    def __init__(self, dim: int, degree: int, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.degree = dim, degree
        self.combos = [c for g in range(2, degree + 1)
                       for c in itertools.combinations_with_replacement(range(dim), g)]

    def call(self, z):
        parts = [z]
        for combo in self.combos:
            mono = z[:, combo[0]]
            for i in combo[1:]:
                mono = mono * z[:, i]
            parts.append(mono[:, None])
        return keras.ops.concatenate(parts, axis=1)


def poly_current_network(dim, hidden_units, layers, *, degree=1, features=1, activation="relu", dtype=None,
                         seed=None):
    """current_network with a polynomial closed-form part and optional polynomial inputs to the correction."""
    init = keras.initializers.GlorotUniform
    inputs = keras.Input((dim,), name="midpoint")
    lin_in = PolyFeatures(dim, degree)(inputs) if degree > 1 else inputs
    linear = keras.layers.Dense(dim, kernel_initializer="zeros", name="linear")
    linear.trainable = False
    hidden = PolyFeatures(dim, features)(inputs) if features > 1 else inputs
    for i in range(layers):
        hidden = keras.layers.Dense(hidden_units, activation=activation,
                                    kernel_initializer=init(seed=None if seed is None else seed * 1009 + i))(hidden)
    correction = keras.layers.Dense(dim, kernel_initializer="zeros", name="correction")(hidden)
    force = keras.layers.Add(name="force")([linear(lin_in), correction])
    return keras.Model(inputs, force, name="current")


@contextlib.contextmanager
def patched(opts: dict, record: dict):
    """Apply the patches of ``opts``; ``record`` receives the selection numbers."""
    with contextlib.ExitStack() as stack:
        if "keep" in opts:
            stack.enter_context(mock.patch.object(tr, "KEEP_START_UNLESS", opts["keep"]))
        degree, features = opts.get("degree", 1), opts.get("features", 1)
        activation = opts.get("activation", "relu")
        fitted = {}
        if degree > 1 or features > 1 or activation != "relu":
            def fit_poly(states, **kw):
                lc = fit_linear_current(states, degree=degree, **kw)
                fitted["lc"] = lc
                return lc

            def build(kind, **kw):
                return poly_current_network(kw["dim"], kw["hidden_units"] or 128, kw["layers"] or 2, degree=degree,
                                            features=features, activation=activation, seed=kw.get("seed"))

            def set_lin(network, kernel, bias):
                lc = fitted["lc"]
                full = np.vstack([lc.kernel, lc.higher.reshape(-1, lc.bias.size)]) if degree > 1 else lc.kernel
                network.get_layer("linear").set_weights([full.astype("float32"), lc.bias.astype("float32")])

            stack.enter_context(mock.patch.object(est_mod, "fit_linear_current", fit_poly))
            stack.enter_context(mock.patch.object(tr, "build_network", build))
            stack.enter_context(mock.patch.object(tr, "set_linear_current", set_lin))
        if opts.get("schedule") == "cosine":
            def optimizer(lr, wd, decoupled):
                steps = record["iterations"]
                sched = keras.optimizers.schedules.CosineDecay(lr * 0.01, steps, alpha=0.0, warmup_target=lr,
                                                               warmup_steps=max(1, steps // 20))
                return keras.optimizers.Adam(learning_rate=sched)

            stack.enter_context(mock.patch.object(tr, "make_optimizer", optimizer))
        if "alpha" in opts:
            # alpha-divergence objective: per pair e^{a s}/a - e^{-(1+a) s}/(1+a), maximized; its optimum is
            # the same log-ratio (l'(s)/l'(-s) = e^{-s} for l = -objective), and a -> 0 is J up to a constant.
            # Derived here, not copied from the paper. Selection still uses J.
            a = float(opts["alpha"])

            def alpha_objective(delta_s):
                return keras.ops.mean(keras.ops.exp(a * delta_s) / a - keras.ops.exp(-(1 + a) * delta_s) / (1 + a))

            from neep.estimators import model as model_mod
            stack.enter_context(mock.patch.object(model_mod, "neep_objective", alpha_objective))
        original_end = cb.EPMonitor.on_train_end

        def on_train_end(self, logs=None):
            start, best = self._start_record, self._best_values
            if start is not None and best is not None:
                record["j_start"] = float(start[0])
                record["j_best"] = float(self.best_objective)
                record["gain"] = float(self.best_objective - start[0])
                record["gain_se_paired"] = float(mean_stderr(best - start[1]))
                # The unpaired comparison: SE of each J alone, combined as if independent.
                record["gain_se_unpaired"] = float(np.hypot(mean_stderr(best), mean_stderr(start[1])))
            record["best_iteration_before_keep"] = self.best_iteration
            original_end(self, logs)
            record["kept_iteration"] = self.best_iteration
            record["kept_start"] = bool(getattr(self, "kept_start", False))
            record["stopped_at"] = self.history[-1]["iteration"] if self.history else None

        stack.enter_context(mock.patch.object(cb.EPMonitor, "on_train_end", on_train_end))
        if "patience" in opts:
            patience = opts["patience"]
            original_epoch_end = cb.EPMonitor.on_epoch_end

            def on_epoch_end(self, epoch, logs=None):
                original_epoch_end(self, epoch, logs)
                since = sum(1 for _ in itertools.takewhile(lambda r: not r["best"], reversed(self.history)))
                rising = False
                if "rise" in opts and len(self.history) >= 20:
                    last = np.mean([r["ep_rate"] for r in self.history[-10:]])
                    before = np.mean([r["ep_rate"] for r in self.history[-20:-10]])
                    rising = (last - before) > opts["rise"] * abs(last)
                if "trend" in opts and len(self.history) >= 20:
                    x = np.array([r["iteration"] for r in self.history[-20:]], float)
                    y = np.array([r["ep_rate"] for r in self.history[-20:]], float)
                    slope, icpt = np.polyfit(x, y, 1)
                    res = y - (slope * x + icpt)
                    se = np.sqrt(np.sum(res**2) / (len(x) - 2) / np.sum((x - x.mean()) ** 2))
                    rising = rising or slope > opts["trend"] * se
                if since >= patience and not rising:
                    self.model.stop_training = True
                elif "plateau" in opts and since == patience // 2:
                    lr = self.model.optimizer.learning_rate
                    lr.assign(lr * opts["plateau"])
                    record.setdefault("lr_cuts", []).append(self.history[-1]["iteration"])

            stack.enter_context(mock.patch.object(cb.EPMonitor, "on_epoch_end", on_epoch_end))
        yield


def run(data_spec: str, name: str, out: str, extra: dict | None = None) -> dict:
    data, truth_process = load(data_spec)
    kwargs, opts = setting(name)
    params = {**CLI, **kwargs, **(extra or {})}
    record = {"data": data_spec, "setting": name, "iterations": params["iterations"]}
    est = NEEP(**params)
    with patched(opts, record):
        t0 = time.perf_counter()
        est.fit(data)
        record["seconds"] = time.perf_counter() - t0
    iv = est.ep_rate_interval_
    truth = est.ep_rate_exact_held_out_
    record.update(rate=iv.value, low=iv.low, high=iv.high, stderr=iv.stderr, truth_held_out=truth,
                  truth_process=truth_process, error=(iv.value - truth) / truth, covers=bool(iv.low <= truth <= iv.high),
                  r2=est.r2_, lb_j=est.bounds_["lower_bound_j"].value, flags=est.flags_,
                  start_rate=next((r["ep_rate"] for r in est.history_ if r["iteration"] == 0), None),
                  val_exact=est.history_[-1].get("ep_rate_exact"),
                  curve=[(r["iteration"], round(r["ep_rate"], 5), round(r["test_objective"], 7)) for r in est.history_])
    with open(out, "a") as f:
        f.write(json.dumps(record) + "\n")
    short = {k: record.get(k) for k in ("data", "setting", "rate", "low", "high", "truth_held_out", "error", "covers",
                                        "seconds", "kept_iteration", "stopped_at", "gain", "gain_se_paired",
                                        "gain_se_unpaired")}
    print(json.dumps(short), flush=True)
    return record


def main(argv: list[str]) -> None:
    out = f"{DATA}/probe.jsonl"
    if argv and argv[0].startswith("--out="):
        out, argv = argv[0][6:], argv[1:]
    data_spec, names = argv[0], argv[1:]
    for name in names:
        run(data_spec, name, out)


if __name__ == "__main__":
    main(sys.argv[1:])
