"""Inspect the trained (not restored) current model: dead hidden units, size of the correction.

    PYTHONPATH=$PWD/.src python benchmarks/experiments/dead_units.py fpu6:100 2000 1e-3 1 5e-5

Arguments: data (probe.py's NAME[:M]), iterations, learning rate, linear start (1/0), weight decay.
"""

import os
import sys

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import probe
from neep.estimators import NEEP
from neep.estimators.nn.prediction import predict_delta_s


def objective(d):
    d = d.astype(np.float64)
    return float(np.mean(d - np.exp(-d)))


def main(spec, iterations, lr, start, weight_decay):
    data, _ = probe.load(spec)
    est = NEEP(**{**probe.CLI, "iterations": int(iterations), "restore_best": False, "learning_rate": float(lr),
                  "linear_start": start == "1", "weight_decay": float(weight_decay)})
    est.fit(data)
    model, lc = est.model_, est.linear_current_
    x = np.asarray(est.test_.states[:20, :5000])
    ds = predict_delta_s(model, x, 2, 16384)
    ds0 = lc.delta_s(x)
    exact = np.asarray(est.test_.exact_ep[:20, :4999])
    print(f"mean dS net {ds.mean():.5f} lin {ds0.mean():.5f} exact {exact.mean():.5f}")
    print(f"J net {objective(ds):.6f} lin {objective(ds0):.6f}")
    net = model.network
    z = (x.reshape(-1, x.shape[-1])[:100000] - np.array(model.standardize.mean)) / np.array(model.standardize.std)
    hidden = keras.Model(net.inputs, net.get_layer("correction").input)
    h = np.asarray(hidden(z.astype("float32")))
    print(f"hidden alive frac {(h > 0).any(axis=0).mean():.3f}, mean act {h.mean():.4f}")
    linear = z @ lc.kernel + lc.bias
    corr = np.asarray(net(z.astype("float32"))) - linear
    print(f"|F_corr| rms {np.sqrt((corr**2).mean()):.4f} vs |F_lin| rms {np.sqrt((linear**2).mean()):.4f}")


if __name__ == "__main__":
    main(*sys.argv[1:6])
