"""Training throughput of NEEP's MLP on this machine: Keras beside the paper's PyTorch loop, same run.

Run by hand (not a test): ``python3 benchmarks/train.py`` (about 10 minutes on
2 cores; ``--device gpu``: the GPU table of ``train_gpu.py`` instead) or e.g. ``python3 benchmarks/train.py --hidden 512 --rounds 3
--no-check``. Prints one table per hidden width H (3 hidden layers, batch
4096, 2-bead states, d = 2):

- ``matmul``: a plain matrix product of the MLP's own shape (2 batch x H @
  H x H) in float32 and bfloat16: the machine's practical peak, this run.
- ``PyTorch``: the paper's own training loop (kdkyum/neep, re-written here):
  an MLP h with in-place ReLU on the concatenated pair, ``dS = h(s, s') -
  h(s', s)`` as two forward passes, loss ``(-dS + exp(-dS)).mean()``,
  ``torch.optim.Adam(lr=1e-4, weight_decay=5e-5)``, ``loss.item()`` every
  step, a batch of 4096 random (trajectory, t) pairs gathered from the
  in-memory tensor (drawn with ``torch.randint``: cheaper than the paper's
  Python ``CartesianSampler``, so this favours PyTorch). ``torch.set_num_threads
  (2)`` for the reference row; ``PyTorch 1t``: one thread (``--torch-threads``),
  which shows how much PyTorch's OpenMP barriers lose when another process
  holds a core. Runs only when ``import torch`` works (CPU build:
  ``python3 -m pip install torch==2.13.0``); torch is NOT a dependency of neep.
- ``bare``: a bare Keras 3 custom loop (``tf.function`` step with
  ``tf.GradientTape``, Adam with PyTorch-style L2 weight decay) on a fixed
  in-memory batch: the ceiling for the network alone.
- ``NEEP mem``: the package's ``NEEPModel`` through ``model.fit`` on one fixed
  batch repeated: the model's step alone.
- ``NEEP data``: the same fed by the package's tf.data pipeline
  (``pair_dataset``: random pairs gathered from the trajectory array): what
  ``NEEP.fit`` runs.

Rows are interleaved: every row is built and warmed up first, then
``--rounds`` rounds each time every row for about ``--seconds`` (order
reversed every other round), so load from other processes hits all rows
alike. Per row: median (and best) samples/s over the rounds (one sample = one
(s, s') pair, both orders through the network), GFLOP/s and fraction of the
matmul rate of the same precision, and "vs PyTorch": the median over rounds of
the row's rate divided by the PyTorch rate of the SAME round. FLOPs per
sample: 3 x the forward pass of both orders, ``3 * 2 * 2 * (2d*H +
(layers-1)*H^2 + H)``. ``--xla`` adds the Keras rows with XLA.

``--check`` (default on) trains the paper's 3 x 512 MLP briefly in float32
and in mixed bfloat16 on 2-bead data and prints both held-out EP rates
beside the exact one, so a faster precision that gives a wrong answer shows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from paper_torch import paper_mlp  # noqa: E402  (sibling module: benchmarks/ is on sys.path)


@dataclass
class Row:
    """One timed row: ``run(n)`` does n steps; each step is ``units`` samples (or FLOPs for matmul)."""

    loop: str
    precision: str
    xla: str
    run: Callable[[int], None]
    units: float
    n: int = 1
    rates: list | None = None


def flops_per_sample(d: int, hidden: int, layers: int) -> float:
    """Training FLOPs of one (s, s') sample: both orders, forward + backward (~3x forward)."""
    macs = 2 * d * hidden + (layers - 1) * hidden * hidden + hidden
    return 3.0 * 2.0 * 2.0 * macs


def matmul_row(batch: int, hidden: int, dtype: str) -> Row:
    """``(2*batch x hidden) @ (hidden x hidden)`` ten times per step inside one tf.function; units FLOPs."""
    import tensorflow as tf

    a = tf.cast(tf.random.normal((2 * batch, hidden)), dtype)
    b = tf.cast(tf.random.normal((hidden, hidden)) / np.sqrt(hidden), dtype)
    repeats = 10

    @tf.function
    def once(a, b):
        total = tf.zeros((), tf.float32)
        for _ in tf.range(repeats):
            total += tf.cast(tf.matmul(a, b)[0, 0], tf.float32)
        return total

    def run(n: int) -> None:
        for _ in range(n):
            once(a, b).numpy()

    return Row("matmul", dtype, "-", run, 2.0 * 2 * batch * hidden * hidden * repeats)


def _mlp(d: int, hidden: int, layers: int, policy: str):
    import keras

    inputs = keras.Input((2 * d,))
    x = inputs
    for _ in range(layers):
        x = keras.layers.Dense(hidden, activation="relu", dtype=policy)(x)
    out = keras.layers.Dense(1, dtype="float32")(x)  # the output stays float32 (exp(-dS))
    return keras.Model(inputs, out)


def bare_keras_row(d: int, hidden: int, layers: int, batch: int, precision: str, xla: bool) -> Row:
    """A bare Keras custom train step on a fixed batch (no input pipeline)."""
    import keras
    import tensorflow as tf

    policy = "mixed_bfloat16" if precision == "bfloat16" else "float32"
    h = _mlp(d, hidden, layers, policy)
    optimizer = keras.optimizers.Adam(1e-4)
    optimizer.build(h.trainable_variables)
    weight_decay = 5e-5
    rng = np.random.default_rng(0)
    s = tf.constant(rng.normal(size=(batch, d)).astype(np.float32))
    s_next = tf.constant((s.numpy() + 0.1 * rng.normal(size=(batch, d))).astype(np.float32))

    @tf.function(jit_compile=xla)
    def step(s, s_next):
        with tf.GradientTape() as tape:
            both = tf.concat([tf.concat([s, s_next], 1), tf.concat([s_next, s], 1)], 0)
            out = tf.cast(h(both, training=True)[:, 0], tf.float32)
            delta_s = out[:batch] - out[batch:]
            loss = -tf.reduce_mean(delta_s - tf.exp(-delta_s))
        variables = h.trainable_variables
        grads = tape.gradient(loss, variables)
        grads = [g + weight_decay * v for g, v in zip(grads, variables)]  # PyTorch Adam's L2 term
        optimizer.apply(grads, variables)
        return loss

    def run(n: int) -> None:
        for _ in range(n):
            step(s, s_next).numpy()

    return Row("bare", precision, "on" if xla else "off", run, batch)


def neep_model_row(states: np.ndarray, hidden: int, layers: int, batch: int, precision: str, xla: bool,
                   pipeline: bool = True) -> Row:
    """The package's NEEPModel through ``model.fit`` (n steps per fit call).

    ``pipeline=True``: fed by ``pair_dataset`` (what ``NEEP.fit`` does);
    False: one fixed batch repeated (the model's step alone).
    """
    import tensorflow as tf

    from neep.estimators import NEEPModel, make_optimizer, mlp_network, pair_dataset

    policy = "mixed_bfloat16" if precision == "bfloat16" else "float32"
    model = NEEPModel(mlp_network(hidden, layers, dtype=policy, seed=0), weight_decay=5e-5)
    model.compile(optimizer=make_optimizer(1e-4), jit_compile=xla)
    if pipeline:
        dataset = pair_dataset(states, batch_size=batch, seed=0)
    else:
        fixed = np.stack([states[0, :batch], states[0, 1 : batch + 1]], axis=1).astype(np.float32)
        options = tf.data.Options()
        options.autotune.enabled = False  # as the package's own pipelines: autotuning stalls fit's exit
        dataset = tf.data.Dataset.from_tensors(fixed).repeat().with_options(options)

    def run(n: int) -> None:
        model.fit(dataset, steps_per_epoch=n, epochs=1, verbose=0)

    return Row("NEEP data" if pipeline else "NEEP mem", precision, "on" if xla else "off", run, batch)


def torch_row(states: np.ndarray, hidden: int, layers: int, batch: int, threads: int) -> Row | str:
    """The paper's PyTorch training loop (see the module doc); a note when torch is missing."""
    try:
        import torch
    except ImportError:
        return "skipped: torch is not installed (CPU build: python3 -m pip install torch==2.13.0)"
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    d = states.shape[-1]


    model = paper_mlp(d, hidden, layers)
    optim = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=5e-5)
    trajs = torch.from_numpy(np.ascontiguousarray(states, dtype=np.float32))
    m_count, length = trajs.shape[:2]
    generator = torch.Generator().manual_seed(0)

    def run(n: int) -> None:
        torch.set_num_threads(threads)  # per row: rows with other thread counts share the process
        model.train()
        for _ in range(n):
            m = torch.randint(0, m_count, (batch,), generator=generator)
            t = torch.randint(0, length - 1, (batch,), generator=generator)
            delta_s = model(trajs[m, t], trajs[m, t + 1])
            optim.zero_grad()
            loss = (-delta_s + torch.exp(-delta_s)).mean()
            loss.backward()
            optim.step()
            loss.item()

    return Row("PyTorch" if threads == 2 else f"PyTorch {threads}t", "float32", "-", run, batch)


def interleave(rows: list[Row], rounds: int, seconds: float) -> None:
    """Warm up and calibrate every row (n steps ~ ``seconds``), then time them round by round."""
    for row in rows:
        row.run(2)  # trace, build, fill caches
        start = time.perf_counter()
        row.run(2)
        per_step = (time.perf_counter() - start) / 2
        row.n = max(1, int(round(seconds / per_step)))
        row.rates = []
    for r in range(rounds):
        for row in rows if r % 2 == 0 else rows[::-1]:
            start = time.perf_counter()
            row.run(row.n)
            row.rates.append(row.n * row.units / (time.perf_counter() - start))


def _paired_ratio(row: Row, reference: Row | None) -> float | None:
    if reference is None or not reference.rates:
        return None
    return statistics.median(a / b for a, b in zip(row.rates, reference.rates))


def two_bead_data(trajectories: int, steps: int, seed: int = 0) -> tuple[np.ndarray, float, float]:
    """2-bead chain (Tc=1, Th=10, dt=0.01): states (M, L, 2) float32, dt, exact EP rate per unit time."""
    try:
        from neep.simulators import BeadSpring

        beads = BeadSpring(n=2, t_cold=1.0, t_hot=10.0)
        return beads.simulate(trajectories, steps, seed=seed), beads.dt, float(beads.ep_rate)
    except ImportError:
        pass
    from scipy.linalg import solve_continuous_lyapunov

    dt, t_cold, t_hot = 0.01, 1.0, 10.0
    a = np.array([[-2.0, 1.0], [1.0, -2.0]])
    diffusion = np.diag([t_cold, t_hot])
    cov = solve_continuous_lyapunov(a, -2 * diffusion)
    rng = np.random.default_rng(seed)
    x = np.empty((trajectories, steps, 2))
    x[:, 0] = rng.multivariate_normal(np.zeros(2), cov, size=trajectories)
    noise = np.sqrt(2 * np.diag(diffusion) * dt)
    for t in range(1, steps):
        x[:, t] = x[:, t - 1] + dt * x[:, t - 1] @ a.T + noise * rng.standard_normal((trajectories, 2))
    return x.astype(np.float32), dt, (t_hot - t_cold) ** 2 / (4 * t_hot * t_cold)


def precision_check(iterations: int, hidden: int, layers: int, batch: int) -> list[tuple[str, float, float, float]]:
    """Train float32 and mixed bfloat16 briefly on 2-bead data; held-out EP rates and wall time."""
    import keras
    import tensorflow as tf

    states, dt, exact = two_bead_data(200, 2000, seed=1)
    train, test = states[:100], states[100:]
    rows = []
    for precision in ("float32", "bfloat16"):
        keras.utils.set_random_seed(0)
        policy = "mixed_bfloat16" if precision == "bfloat16" else "float32"
        h = _mlp(2, hidden, layers, policy)
        optimizer = keras.optimizers.Adam(1e-4)
        optimizer.build(h.trainable_variables)

        @tf.function
        def step(pairs):
            s, s_next = pairs[:, 0], pairs[:, 1]
            with tf.GradientTape() as tape:
                both = tf.concat([tf.concat([s, s_next], 1), tf.concat([s_next, s], 1)], 0)
                out = tf.cast(h(both, training=True)[:, 0], tf.float32)
                delta_s = out[:batch] - out[batch:]
                loss = -tf.reduce_mean(delta_s - tf.exp(-delta_s))
            grads = tape.gradient(loss, h.trainable_variables)
            grads = [g + 5e-5 * v for g, v in zip(grads, h.trainable_variables)]
            optimizer.apply(grads, h.trainable_variables)

        rng = np.random.default_rng(0)
        start = time.perf_counter()
        for _ in range(iterations):
            m = rng.integers(0, train.shape[0], batch)
            t = rng.integers(0, train.shape[1] - 1, batch)
            step(tf.constant(np.stack([train[m, t], train[m, t + 1]], 1)))
        seconds = time.perf_counter() - start
        pairs = np.concatenate([test[:, :-1], test[:, 1:]], -1).reshape(-1, 4)
        forward = h.predict(pairs, batch_size=65536, verbose=0)[:, 0].astype(np.float64)
        backward = h.predict(pairs[:, [2, 3, 0, 1]], batch_size=65536, verbose=0)[:, 0].astype(np.float64)
        rows.append((precision, float(np.mean(forward - backward)) / dt, exact, seconds))
    return rows



def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--device" in argv and argv[argv.index("--device") + 1:][:1] == ["gpu"]:
        # The GPU table (paper's PyTorch loop beside neep's JAX path): benchmarks/train_gpu.py.
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from train_gpu import main as gpu_main

        return gpu_main(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[512, 256])
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per row")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per row per round")
    parser.add_argument("--precision", nargs="+", default=["float32", "bfloat16"],
                        choices=["float32", "bfloat16"])
    parser.add_argument("--loops", nargs="+", default=["bare", "NEEP mem", "NEEP data"],
                        choices=["bare", "NEEP mem", "NEEP data"], help="Keras rows")
    parser.add_argument("--xla", action="store_true", help="also the Keras rows with XLA")
    parser.add_argument("--torch-threads", type=int, nargs="+", default=[2, 1],
                        help="PyTorch rows with these thread counts; the first is the reference")
    parser.add_argument("--check", action=argparse.BooleanOptionalAction, default=True,
                        help="short float32 vs bfloat16 fit on 2-bead data (3 x 512)")
    parser.add_argument("--check-iterations", type=int, default=800)
    args = parser.parse_args(argv)

    import tensorflow as tf

    d = 2
    print(f"# TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, batch {args.batch}, d = {d}, "
          f"{args.layers} hidden layers, {args.rounds} interleaved rounds of ~{args.seconds:g} s per row; "
          f"{_load()}", flush=True)
    states, _, _ = two_bead_data(100, 5000)
    summary = []
    for hidden in args.hidden:
        peaks = {p: matmul_row(args.batch, hidden, p) for p in args.precision}
        rows = list(peaks.values())
        references = [torch_row(states, hidden, args.layers, args.batch, t) for t in args.torch_threads]
        reference = references[0]  # the first thread count is the one the ratios use
        if isinstance(reference, str):
            print(f"# PyTorch rows {reference}")
            reference = None
        else:
            rows.extend(references)
        for precision in args.precision:
            for xla in (False, True) if args.xla else (False,):
                for loop in args.loops:
                    if loop == "bare":
                        rows.append(bare_keras_row(d, hidden, args.layers, args.batch, precision, xla))
                    else:
                        rows.append(neep_model_row(states, hidden, args.layers, args.batch, precision, xla,
                                                   pipeline=loop == "NEEP data"))
        start = time.perf_counter()
        interleave(rows, args.rounds, args.seconds)
        print(f"\n## H = {hidden}: {time.perf_counter() - start:.0f} s, {_load()} at the end")
        header = (f"| {'H':>4} | {'loop':<10} | {'precision':<9} | {'XLA':<3} | {'samples/s':>10} | "
                  f"{'best':>10} | {'steps/s':>7} | {'GFLOP/s':>7} | {'of matmul':>9} | {'vs PyTorch':>10} |")
        print(header)
        print("|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|")
        flops = flops_per_sample(d, hidden, args.layers)
        peak_rate = {p: statistics.median(row.rates) / 1e9 for p, row in peaks.items()}
        for row in rows:
            median, best = statistics.median(row.rates), max(row.rates)
            if row.loop == "matmul":
                print(f"| {hidden:>4} | {'matmul':<10} | {row.precision:<9} | {'-':<3} | {'':>10} | {'':>10} | "
                      f"{'':>7} | {median / 1e9:>7.0f} | {'1':>9} | {'':>10} |")
                continue
            gflops = median * flops / 1e9
            ratio = _paired_ratio(row, reference)
            peak = peak_rate.get(row.precision)
            print(f"| {hidden:>4} | {row.loop:<10} | {row.precision:<9} | {row.xla:<3} | {median:>10,.0f} | "
                  f"{best:>10,.0f} | {median / args.batch:>7.2f} | {gflops:>7.0f} | "
                  f"{gflops / peak if peak else float('nan'):>9.2f} | "
                  f"{'' if ratio is None else f'{ratio:.2f}x':>10} |", flush=True)
        by_key = {(row.loop, row.precision, row.xla): row for row in rows}
        for loop in args.loops:
            f32, bf16 = by_key.get((loop, "float32", "off")), by_key.get((loop, "bfloat16", "off"))
            if f32 is not None and bf16 is not None:
                summary.append(f"H = {hidden}, {loop}: bfloat16 / float32 = {_paired_ratio(bf16, f32):.2f}x")
            if f32 is not None and reference is not None:
                summary.append(f"H = {hidden}, {loop} float32 / PyTorch float32 = {_paired_ratio(f32, reference):.2f}x")
    print("\n# ratios (median over rounds of same-round ratios)")
    for line in summary:
        print(f"- {line}")
    if args.check:
        print(f"\n# precision check: 3 x 512 MLP, {args.check_iterations} iterations, lr 1e-4, "
              "2-bead Tc=1 (100 train / 100 held-out trajectories of 2000 steps)")
        print("| precision | held-out EP rate | exact | rel. error | train s |")
        print("|-----------|------------------|-------|------------|---------|")
        for precision, rate, exact, seconds in precision_check(args.check_iterations, 512, 3, args.batch):
            print(f"| {precision:<9} | {rate:>16.4f} | {exact:.4f} | {(rate - exact) / exact:>+10.1%} | "
                  f"{seconds:>7.1f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
