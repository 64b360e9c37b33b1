"""Inspect the trained (not restored) current model: dead hidden units, size of the correction.

    PYTHONPATH=$PWD/.src python benchmarks/experiments/dead_units.py fpu6:100 2000 1e-3 1 5e-5
(data, iterations, learning rate, linear start 1/0, weight decay)
"""
import sys; sys.path.insert(0, __import__("os").path.dirname(__file__))
import numpy as np, probe, keras
from neep.estimators import NEEP
from neep.estimators.model import predict_delta_s
data, truth = probe.load(sys.argv[1])
est = NEEP(**{**probe.CLI, "iterations": int(sys.argv[2]), "restore_best": False, "learning_rate": float(sys.argv[3]), "linear_start": sys.argv[4] == "1", "weight_decay": float(sys.argv[5])})
est.fit(data)
m = est.model_
x = np.asarray(est.test_.states[:20, :5000])
ds = predict_delta_s(m, x, 2, 16384)
lc = est.linear_current_
ds0 = lc.delta_s(x)
ex = np.asarray(est.test_.exact_ep[:20, :4999])
def J(d): d = d.astype(np.float64); return np.mean(d - np.exp(-d))
print("mean dS net %.5f lin %.5f exact %.5f" % (ds.mean(), ds0.mean(), ex.mean()))
print("J net %.6f lin %.6f" % (J(ds), J(ds0)))
print("std dS net %.4f lin %.4f corr(net-lin, exact-lin) %.3f" % (ds.std(), ds0.std(), np.corrcoef((ds-ds0).ravel(), (ex-ds0).ravel())[0,1]))
net = m.network
z = (x.reshape(-1, x.shape[-1])[:100000] - np.array(m.standardize.mean)) / np.array(m.standardize.std)
hidden = keras.Model(net.inputs, net.get_layer("correction").input)
h = np.asarray(hidden(z.astype("float32")))
print("hidden alive frac %.3f, mean act %.4f" % ((h > 0).any(axis=0).mean(), h.mean()))
corr = np.asarray(net(z.astype("float32"))) - (z @ lc.kernel + lc.bias)
print("|F_corr| rms %.4f vs |F_lin| rms %.4f" % (np.sqrt((corr**2).mean()), np.sqrt(((z @ lc.kernel + lc.bias)**2).mean())))
