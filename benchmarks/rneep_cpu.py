"""Where an RNEEP (``--model gru``) fit spends its time on a CPU: training step cost per configuration.

Run by hand (not a test)::

    PYTHONPATH=. python3 benchmarks/rneep_cpu.py                 # the step table (about 10 min on 2 cores)
    PYTHONPATH=. python3 benchmarks/rneep_cpu.py --rows base,small --seconds 5

Data: the hidden flashing ratchet at V = 2 (10^6 jumps, int8 states 0..2),
simulated here. Each row builds a ``NEEPModel`` around a GRU network
(embedding -> GRU -> mean over the window -> dense 1, as
``networks.gru_network``) and trains it through ``model.fit`` on the
package's own training feed (``feed.training_feed``), compiled as ``NEEP``
compiles it: the path ``neep fit`` runs. Windows of ``--seq-len`` states
(default 32). Every row is built and warmed up (the first call traces and
compiles), then timed for about ``--seconds`` seconds of steps.

Columns: batch (windows per step), H (GRU units), E (embedding size),
unroll (the GRU's time loop unrolled in the graph), xla (``jit_compile``),
ms/step wall and CPU (process time: user + system of all threads, the
honest number on a shared machine), windows/s (wall), and CPU ms per 1000
windows. The load average is printed with the table: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

# name: (batch, hidden, embedding, unroll, xla)
ROWS = {
    "base": (4096, 128, 128, False, False),  # today's default (the paper's GRU 128, embedding 128)
    "b1024": (1024, 128, 128, False, False),
    "b1024-e8": (1024, 128, 8, False, False),
    "b1024-h64-e8": (1024, 64, 8, False, False),
    "b1024-h32-e8": (1024, 32, 8, False, False),
    "b1024-h32-e8-unroll": (1024, 32, 8, True, False),
    "b1024-h32-e8-xla": (1024, 32, 8, False, True),
    "b1024-h32-e8-unroll-xla": (1024, 32, 8, True, True),
    "b256-h32-e8": (256, 32, 8, False, False),
    "b256-h32-e8-xla": (256, 32, 8, False, True),
    "b256-h32-e8-unroll-xla": (256, 32, 8, True, True),
    "b256-h16-e8": (256, 16, 8, False, False),
    "b256-h16-e8-unroll": (256, 16, 8, True, False),
    "b256-h16-e8-xla": (256, 16, 8, False, True),
    "b512-h32-e8-xla": (512, 32, 8, False, True),
    "b512-h16-e8-xla": (512, 16, 8, False, True),
    "b256-h32-e8-unroll": (256, 32, 8, True, False),
    "b512-h32-e8-unroll": (512, 32, 8, True, False),
    "b512-h64-e8-unroll": (512, 64, 8, True, False),
    "b2048-h32-e8-unroll": (2048, 32, 8, True, False),
}


def ratchet_data(steps: int = 1_000_000):
    from neep.simulators import FlashingRatchet

    return np.asarray(FlashingRatchet(potential=2.0).simulate(1, steps, seed=0, hidden=True))


def build(batch: int, hidden: int, embedding: int, unroll: bool, xla: bool, seq_len: int):
    import keras

    from neep.estimators.nn.model import NEEPModel, make_optimizer

    network = keras.Sequential([
        keras.layers.Embedding(3, embedding),
        keras.layers.GRU(hidden, return_sequences=True, unroll=unroll),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(1),
    ], name="gru")
    model = NEEPModel(network, seq_len=seq_len, weight_decay=5e-5, ema_momentum=0.99, n_states=3, kind="gru")
    model(np.zeros((1, seq_len), dtype=np.int32))
    model.compile(optimizer=make_optimizer(1e-3, 5e-5), jit_compile=xla, steps_per_execution=25)
    return model


def time_row(name: str, states: np.ndarray, seq_len: int, seconds: float) -> dict:
    from neep.estimators.training.feed import training_feed

    batch, hidden, embedding, unroll, xla = ROWS[name]
    model = build(batch, hidden, embedding, unroll, xla, seq_len)
    feed = training_feed(states, seq_len, batch, seed=0, steps=25, device=False)
    model.fit(feed, epochs=1, steps_per_epoch=25, verbose=0)  # trace, compile, warm up
    wall0, cpu0 = time.perf_counter(), time.process_time()
    model.fit(feed, epochs=1, steps_per_epoch=25, verbose=0)
    once = time.perf_counter() - wall0
    blocks = max(1, int(seconds / max(once, 1e-3)))
    wall0, cpu0 = time.perf_counter(), time.process_time()
    model.fit(feed, epochs=1, steps_per_epoch=25 * blocks, verbose=0)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    steps = 25 * blocks
    return dict(name=name, batch=batch, hidden=hidden, embedding=embedding, unroll=unroll, xla=xla, steps=steps,
                ms_wall=1e3 * wall / steps, ms_cpu=1e3 * cpu / steps, windows_s=batch * steps / wall,
                cpu_ms_per_1000=1e3 * cpu / (batch * steps) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated row names: " + ", ".join(ROWS))
    parser.add_argument("--seq-len", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0, help="timed seconds per row (about)")
    args = parser.parse_args()
    from neep.estimators.nn.backend import quiet_import

    quiet_import()
    import keras
    import tensorflow as tf

    states = ratchet_data()
    print(f"# Keras {keras.__version__}, TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, seq_len "
          f"{args.seq_len}, load average at start {open('/proc/loadavg').read().split()[:3]}")
    print("| row | batch | H | E | unroll | xla | steps | ms/step wall | ms/step CPU | windows/s | "
          "CPU ms / 1000 windows |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.rows.split(","):
        r = time_row(name, states, args.seq_len, args.seconds)
        print(f"| {name} | {r['batch']} | {r['hidden']} | {r['embedding']} | {'yes' if r['unroll'] else 'no'} | "
              f"{'yes' if r['xla'] else 'no'} | {r['steps']} | {r['ms_wall']:.1f} | {r['ms_cpu']:.1f} | "
              f"{r['windows_s']:,.0f} | {r['cpu_ms_per_1000']:.1f} |", flush=True)
    print(f"# load average at end {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    sys.exit(main())
