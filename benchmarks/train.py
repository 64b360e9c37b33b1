"""Training throughput of NEEP's MLP on this machine, beside its float32 matmul peak.

Run by hand (not a test): ``python3 benchmarks/train.py`` (all rows, about
5 minutes on 2 cores) or e.g. ``python3 benchmarks/train.py --hidden 512
--seconds 5 --no-check``. Prints one table:

- ``matmul``: the rate of a plain matrix product of the MLP's own shape
  (batch x hidden @ hidden x hidden) in float32 and bfloat16, measured in
  this same run: the machine's practical peak.
- ``bare``: a bare Keras 3 custom loop (``tf.function`` train step with
  ``tf.GradientTape``, Adam with PyTorch-style L2 weight decay) on a fixed
  in-memory batch: the ceiling for the network alone.
- ``NEEP mem``: the package's model (``neep.estimators.NEEPModel``) through
  ``model.fit`` on one fixed batch repeated: the model's step alone.
- ``NEEP data``: the same fed by the package's tf.data pipeline
  (``pair_dataset``: random pairs gathered from a trajectory array): what a
  user gets from ``NEEP.fit`` (rows skipped with a note if the core is missing).

Each row: training samples per second (one sample = one (s, s') pair, both
orders through the network), optimizer steps per second, achieved GFLOP/s
and the fraction of the matmul rate of the same precision. FLOPs per sample
are counted as 3 x the forward pass (backward ~ 2 x forward) of both orders
of the antisymmetric pair: ``3 * 2 * 2 * (2d*H + (layers-1)*H^2 + H)``.

``--check`` (default on) trains the paper's 3 x 512 MLP briefly in float32
and in mixed bfloat16 on 2-bead data and prints both held-out EP rates
beside the exact one, so a faster precision that gives a wrong answer shows.
The paper's PyTorch loop measured on this CPU (issue 3): 34,500 samples/s
at 3 x 512 and 105,000 at 3 x 256, float32.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

PAPER_PYTORCH = {512: 34_500, 256: 105_000}  # samples/s, float32, measured on this CPU (issue 3)


def flops_per_sample(d: int, hidden: int, layers: int) -> float:
    """Training FLOPs of one (s, s') sample: both orders, forward + backward (~3x forward)."""
    macs = 2 * d * hidden + (layers - 1) * hidden * hidden + hidden
    return 3.0 * 2.0 * 2.0 * macs


def _timed(step, seconds: float, warmup: int = 3) -> tuple[int, float]:
    for _ in range(warmup):
        step()
    n, start = 0, time.perf_counter()
    while True:
        step()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n, elapsed


def matmul_rate(batch: int, hidden: int, dtype: str, seconds: float) -> float:
    """GFLOP/s of ``(2*batch x hidden) @ (hidden x hidden)`` repeated inside one tf.function."""
    import tensorflow as tf

    a = tf.cast(tf.random.normal((2 * batch, hidden)), dtype)
    b = tf.cast(tf.random.normal((hidden, hidden)) / np.sqrt(hidden), dtype)
    repeats = 10

    @tf.function
    def run(a, b):
        total = tf.zeros((), tf.float32)
        for _ in tf.range(repeats):
            total += tf.cast(tf.matmul(a, b)[0, 0], tf.float32)
        return total

    n, elapsed = _timed(lambda: run(a, b).numpy(), seconds)
    return 2.0 * 2 * batch * hidden * hidden * repeats * n / elapsed / 1e9


def _mlp(d: int, hidden: int, layers: int, policy: str):
    import keras

    inputs = keras.Input((2 * d,))
    x = inputs
    for _ in range(layers):
        x = keras.layers.Dense(hidden, activation="relu", dtype=policy)(x)
    out = keras.layers.Dense(1, dtype="float32")(x)  # the output stays float32 (exp(-dS))
    return keras.Model(inputs, out)


def bare_keras_rate(
    d: int, hidden: int, layers: int, batch: int, precision: str, xla: bool, seconds: float
) -> float:
    """Samples/s of a bare Keras custom train step on a fixed batch (no input pipeline)."""
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

    n, elapsed = _timed(lambda: step(s, s_next).numpy(), seconds)
    return batch * n / elapsed


def neep_model_rate(
    states: np.ndarray, hidden: int, layers: int, batch: int, precision: str, xla: bool, seconds: float,
    pipeline: bool = True,
) -> float | str:
    """Samples/s of the package's NEEPModel through ``model.fit``.

    ``pipeline=True``: fed by ``pair_dataset`` (random pairs gathered from the
    array, what ``NEEP.fit`` does); False: one fixed batch repeated, which
    isolates the model's step from the input pipeline.
    """
    try:
        from neep.estimators.model import NEEPModel, make_optimizer
        from neep.estimators.networks import mlp_network
        from neep.estimators.pipeline import pair_dataset
    except ImportError as error:  # the core is not there yet
        return f"n/a ({error.name or error})"
    policy = "mixed_bfloat16" if precision == "bfloat16" else "float32"
    network = mlp_network(hidden, layers, dtype=policy, seed=0)
    model = NEEPModel(network, weight_decay=5e-5)
    model.compile(optimizer=make_optimizer(1e-4), jit_compile=xla)
    model.build((None, 2, states.shape[-1]))
    model.optimizer.build(model.trainable_variables)  # variables outside the traced step
    if pipeline:
        dataset = pair_dataset(states, batch_size=batch, seed=0)
    else:
        import tensorflow as tf

        fixed = np.stack([states[0, :batch], states[0, 1 : batch + 1]], axis=1).astype(np.float32)
        dataset = tf.data.Dataset.from_tensors(fixed).repeat()
    model.fit(dataset, steps_per_epoch=3, epochs=1, verbose=0)  # trace + warm up
    steps = 10
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
        n += steps
    return batch * n / (time.perf_counter() - start)


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[512, 256])
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--seconds", type=float, default=8.0, help="timing window per row")
    parser.add_argument("--precision", nargs="+", default=["float32", "bfloat16"],
                        choices=["float32", "bfloat16"])
    parser.add_argument("--check", action=argparse.BooleanOptionalAction, default=True,
                        help="short float32 vs bfloat16 fit on 2-bead data (3 x 512)")
    parser.add_argument("--check-iterations", type=int, default=800)
    args = parser.parse_args(argv)

    import tensorflow as tf

    d = 2
    print(f"# TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, batch {args.batch}, d = {d}, "
          f"{args.seconds:.0f} s per row", flush=True)
    states, _, _ = two_bead_data(100, 5000)
    header = (f"| {'H':>4} | {'precision':<9} | {'XLA':<3} | {'loop':<9} | {'samples/s':>10} | "
              f"{'steps/s':>7} | {'GFLOP/s':>7} | {'of matmul':>9} | {'vs PyTorch':>10} |")
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for hidden in args.hidden:
        peak = {}
        for precision in args.precision:
            peak[precision] = matmul_rate(args.batch, hidden, precision, args.seconds / 2)
            print(f"| {hidden:>4} | {precision:<9} | {'-':<3} | {'matmul':<9} | {'':>10} | {'':>7} | "
                  f"{peak[precision]:>7.0f} | {'1':>9} | {'':>10} |", flush=True)
        flops = flops_per_sample(d, hidden, args.layers)
        for precision in args.precision:
            for xla in (False, True):
                for loop in ("bare", "NEEP mem", "NEEP data"):
                    if loop == "bare":
                        rate = bare_keras_rate(d, hidden, args.layers, args.batch, precision, xla, args.seconds)
                    else:
                        rate = neep_model_rate(states, hidden, args.layers, args.batch, precision, xla,
                                               args.seconds, pipeline=loop == "NEEP data")
                    if isinstance(rate, str):
                        print(f"| {hidden:>4} | {precision:<9} | {'on' if xla else 'off':<3} | {loop:<9} | "
                              f"{rate:>10} |", flush=True)
                        continue
                    gflops = rate * flops / 1e9
                    paper = PAPER_PYTORCH.get(hidden)
                    ratio = f"{rate / paper:.2f}x" if paper and args.layers == 3 else ""
                    print(f"| {hidden:>4} | {precision:<9} | {'on' if xla else 'off':<3} | {loop:<9} | "
                          f"{rate:>10,.0f} | {rate / args.batch:>7.1f} | {gflops:>7.0f} | "
                          f"{gflops / peak[precision]:>9.2f} | {ratio:>10} |", flush=True)
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
