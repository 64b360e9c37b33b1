"""Training throughput on a GPU: the paper's PyTorch loop beside neep's JAX path, same run.

Run by hand on a machine with a GPU (``python3 benchmarks/train.py --device gpu``,
or this file directly), with ``KERAS_BACKEND=jax`` set or not (this module
sets it). Prints one table and, with ``--json PATH``, writes the rows.

Rows (2-bead pairs, d = 2; MLP 3 x 512 unless said; one sample = one (s, s')
pair, both orders through the network):

- ``PyTorch`` rows: the paper's loop (kdkyum/neep, re-written: MLP with
  in-place ReLU on the concatenated pair, two forward passes, Adam(lr 1e-4,
  weight_decay 5e-5), ``loss.item()`` every step, batch drawn with
  ``torch.randint`` from the tensor on the GPU), in float32, TF32 and bf16
  autocast. Skipped where ``import torch`` fails.
- ``neep`` rows: ``NEEPModel`` through ``model.fit`` on JAX, as ``NEEP.fit``
  runs it: the training array on the device (``training_feed(device=True)``),
  indices drawn on the host two blocks ahead, ``steps`` optimizer steps per
  compiled call (a ``lax.scan``), float32 or mixed bfloat16.
- ``neep K=5 stacked``: five seeds as one model (``StackedTrainer``, vmap over
  the seed axis), samples/s summed over the seeds, against one seed's rate
  (five sequential fits run at one seed's rate).
- GRU rows, RNEEP at n = 32 (integer states, 3 symbols, embedding 128, GRU 128,
  mean over the window, both orders), batch 4096 windows: PyTorch's cuDNN GRU
  against neep's Keras GRU on JAX (a scan; Keras has no cuDNN path on JAX).

After the table (``--check-iterations`` > 0): the estimate in float32 and
bf16, ``NEEP(seeds=5)`` stacked and sequential end to end, and the large-batch
mode end to end (5-bead pairs, the reference batch 4096 against ``--large-batch``
65 536 by the square-root rule, same windows seen: fit time and estimate).

Every row is compiled and warmed up, then timed for ``--seconds`` in each of
``--rounds`` rounds; the median rate is reported, and ratios are of medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
# PyTorch and JAX share the GPU in this process: JAX must not take 75 % of it up front.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import numpy as np  # noqa: E402
from paper_torch import paper_mlp  # noqa: E402  (sibling module: benchmarks/ is on sys.path)

HIDDEN, LAYERS = 512, 3


def _timed(run, units: float, seconds: float, rounds: int) -> list[float]:
    """Warm up ``run(n)`` (compile), calibrate n to ``seconds``, return ``rounds`` rates (units/s)."""
    run(2)
    start = time.perf_counter()
    run(2)
    per = max((time.perf_counter() - start) / 2, 1e-6)
    n = max(1, int(seconds / per))
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        run(n)
        rates.append(n * units / (time.perf_counter() - start))
    return rates


# -- PyTorch: the paper's loop -----------------------------------------------------------
def _torch_step(model, optim, inputs, bf16: bool = False) -> None:
    """One step of the paper's loop: loss (-dS + exp(-dS)).mean(), Adam, ``loss.item()`` (a sync)."""
    import torch

    with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=bf16):
        delta_s = model(*inputs).float()
    loss = (-delta_s + torch.exp(-delta_s)).mean()
    optim.zero_grad()
    loss.backward()
    optim.step()
    loss.item()


def torch_mlp_row(states, batch: int, precision: str, hidden: int = HIDDEN):
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = precision == "tf32"
    d = states.shape[-1]


    model = paper_mlp(d, hidden, LAYERS).to(device)
    optim = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=5e-5)
    trajs = torch.from_numpy(np.ascontiguousarray(states)).to(device)
    m_count, length = trajs.shape[:2]

    def run(n):
        for _ in range(n):
            m = torch.randint(0, m_count, (batch,), device=device)
            t = torch.randint(0, length - 1, (batch,), device=device)
            _torch_step(model, optim, (trajs[m, t], trajs[m, t + 1]), bf16=precision == "bf16")

    return run


def torch_gru_row(symbols, batch: int, seq_len: int):
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)

    class RNEEP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(3, 128)
            self.gru = torch.nn.GRU(128, 128, batch_first=True)
            self.out = torch.nn.Linear(128, 1)

        def h(self, w):
            out, _ = self.gru(self.embed(w))
            return self.out(out.mean(1))

        def forward(self, w):
            return self.h(w) - self.h(torch.flip(w, [1]))

    model = RNEEP().to(device)
    optim = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=5e-5)
    trajs = torch.from_numpy(symbols.astype(np.int64)).to(device)
    m_count, length = trajs.shape
    offsets = torch.arange(seq_len, device=device)

    def run(n):
        for _ in range(n):
            m = torch.randint(0, m_count, (batch,), device=device)
            t = torch.randint(0, length - seq_len + 1, (batch,), device=device)
            _torch_step(model, optim, (trajs[m[:, None], t[:, None] + offsets],))

    return run


# -- neep on JAX -------------------------------------------------------------------------
def _neep_model(kind: str, states, seq_len: int, precision: str, seed: int = 0, hidden: int = HIDDEN):
    from neep.estimators.nn.model import NEEPModel, make_optimizer
    from neep.estimators.nn.networks import build_network

    policy = "mixed_bfloat16" if precision == "bfloat16" else None
    if kind == "gru":
        network = build_network("gru", n_states=3, hidden_units=128, layers=1, dtype=policy, seed=seed)
    elif kind == "current":  # the default for float pairs: 2 x 128 correction network
        network = build_network("current", hidden_units=128, layers=2, dtype=policy, seed=seed, dim=states.shape[-1])
    else:
        network = build_network("mlp", hidden_units=hidden, layers=LAYERS, dtype=policy, seed=seed,
                                dim=states.shape[-1])
    model = NEEPModel(network, seq_len=seq_len, weight_decay=5e-5, n_states=3 if kind == "gru" else None,
                      kind=kind, ema_momentum=0.99 if kind == "current" else None)
    model.compile(optimizer=make_optimizer(1e-4), jit_compile=True)
    sample = states[:2, :seq_len]
    model.build_from_data(sample.astype(np.int32) if kind == "gru" else sample)
    return model


def neep_row(kind: str, states, batch: int, precision: str, steps: int, seq_len: int = 2, hidden: int = HIDDEN):
    import contextlib

    import jax

    from neep.estimators.training.feed import training_feed

    model = _neep_model(kind, states, seq_len, precision, hidden=hidden)
    feed = iter(training_feed(states, seq_len, batch, seed=0, steps=steps, device=True))
    # "strict": float32 matmuls in full float32 (XLA's default on GPUs is TF32 for them).
    scope = jax.default_matmul_precision("highest") if precision == "strict" else contextlib.nullcontext()

    def run(n):
        with scope:
            model.fit(feed, epochs=1, steps_per_epoch=n, verbose=0)

    return run, steps * batch


def matmul_row(batch: int, precision: str, hidden: int = HIDDEN):
    """The MLP's own matmul shape (2 batch x H @ H x H), 10 per call: the device's practical rate (FLOP/s)."""
    import jax
    import jax.numpy as jnp

    dtype = jnp.bfloat16 if precision == "bf16" else jnp.float32
    a = jnp.ones((2 * batch, hidden), dtype)
    b = jnp.ones((hidden, hidden), dtype) / hidden
    prec = "highest" if precision == "strict" else None

    @jax.jit
    def ten(a):
        for _ in range(10):
            a = jnp.dot(a, b, precision=prec).astype(dtype)
        return a

    def run(n):
        out = a
        for _ in range(n):
            out = ten(out)
        out.block_until_ready()

    return run, 10 * 2 * 2 * batch * hidden * hidden


def stacked_row(states, batch: int, steps: int, seeds: int, kind: str = "mlp", hidden: int = HIDDEN):
    import jax

    from neep.estimators.training.feed import training_feed
    from neep.estimators.training.stacked import StackedTrainer, stacked_feed

    trainer = StackedTrainer([_neep_model(kind, states, 2, "float32", seed=k, hidden=hidden) for k in range(seeds)])
    feed = stacked_feed([training_feed(states, 2, batch, seed=k, steps=steps, device=True) for k in range(seeds)])

    def run(n):
        for _ in range(n):
            logs = trainer.step(next(feed))
        jax.block_until_ready(logs)

    return run, seeds * steps * batch


# -- the estimate in both precisions -----------------------------------------------------------
def precision_check(iterations: int, hidden: int = HIDDEN) -> list[dict]:
    """NEEP (MLP 3 x 512) on 2-bead data, float32 and mixed bfloat16: held-out rate, error, time."""
    from neep.estimators import NEEP, Trajectories
    from neep.simulators import BeadSpring, simulate_to_arrays

    beads = BeadSpring(n=2, t_cold=1.0, t_hot=10.0)
    arrays = simulate_to_arrays(beads, 1000, 10_000, seed=0, exact_ep=True)
    data = Trajectories.from_array(arrays["states"], dt=beads.dt, exact_ep=arrays["ep"],
                                   ep_per_step_exact=beads.ep_per_step)
    rows = []
    for precision in ("float32", "mixed_bfloat16"):
        start = time.perf_counter()
        est = NEEP(model="mlp", hidden_units=hidden, layers=LAYERS, iterations=iterations, batch_size=4096,
                   precision=precision, seed=0, data_check=False, verbose=0).fit(data)
        iv = est.ep_rate_interval_
        rows.append({"precision": precision, "rate": iv.value, "stderr": iv.stderr, "exact": est.ep_rate_exact_,
                     "r2": est.r2_, "seconds": time.perf_counter() - start})
        print(f"| {precision:<14} | {iv.value:.4f} ± {iv.stderr:.4f} | {est.ep_rate_exact_:.4f} | "
              f"{(iv.value - est.ep_rate_exact_) / est.ep_rate_exact_:+.2%} | {est.r2_:.4f} | "
              f"{rows[-1]['seconds']:.0f} s |", flush=True)
    return rows


def seeds_check(iterations: int, quick: bool, hidden: int = HIDDEN) -> list[dict]:
    """``NEEP(seeds=K)`` end to end (MLP 3 x 512, 2-bead data): K = 1, and K = 5 stacked and sequential."""
    from neep.estimators import NEEP, Trajectories
    from neep.simulators import BeadSpring, simulate_to_arrays

    beads = BeadSpring(n=2, t_cold=1.0, t_hot=10.0)
    arrays = simulate_to_arrays(beads, 200 if quick else 1000, 2000 if quick else 10_000, seed=1, exact_ep=True)
    data = Trajectories.from_array(arrays["states"], dt=beads.dt, exact_ep=arrays["ep"],
                                   ep_per_step_exact=beads.ep_per_step)
    rows = []
    for seeds, stack in ((1, False), (5, True), (5, False)):
        start = time.perf_counter()
        est = NEEP(model="mlp", hidden_units=hidden, layers=LAYERS, iterations=iterations, batch_size=4096,
                   seeds=seeds, stack_seeds=stack, seed=0, data_check=False, verbose=0).fit(data)
        seconds = time.perf_counter() - start
        iv = est.ep_rate_interval_
        rows.append({"seeds": seeds, "stacked": stack, "seconds": seconds, "rate": iv.value, "stderr": iv.stderr,
                     "per_seed": est.ep_rate_per_seed_.tolist()})
        print(f"| {seeds} | {'stacked' if stack else 'one after another'} | {seconds:.1f} s | "
              f"{iv.value:.4f} ± {iv.stderr:.4f} | {', '.join(f'{r:.4f}' for r in est.ep_rate_per_seed_)} |",
              flush=True)
    return rows


def large_batch_check(iterations: int, big: int, quick: bool, hidden: int = HIDDEN) -> list[dict]:
    """``neep fit``'s MLP on 5-bead data at batch 4096 and at ``big`` by the square-root rule: time and estimate.

    The large-batch rows see the same windows as the reference
    (``large_batch.scale_to_batch``); what the GPU's throughput at large
    batches buys end to end, evaluations and assessment included.
    """
    from neep.estimators import NEEP, Trajectories
    from neep.estimators.runs.large_batch import scale_to_batch
    from neep.estimators.runs.defaults import kind_defaults
    from neep.simulators import BeadSpring, simulate_to_arrays

    beads = BeadSpring(n=5, t_cold=1.0, t_hot=10.0)
    arrays = simulate_to_arrays(beads, 200 if quick else 1000, 2000 if quick else 10_000, seed=2, exact_ep=True)
    data = Trajectories.from_array(arrays["states"], dt=beads.dt, exact_ep=arrays["ep"],
                                   ep_per_step_exact=beads.ep_per_step)
    base = dict(kind_defaults("mlp"), model="mlp", hidden_units=hidden, layers=LAYERS, iterations=iterations)
    large = scale_to_batch(base, big)
    rows = []
    for label, params, precision in (("reference", base, "float32"), ("sqrt rule", large, "float32"),
                                     ("sqrt rule", large, "mixed_bfloat16")):
        start = time.perf_counter()
        est = NEEP(**params, precision=precision, seed=0, data_check=False, baseline=False, verbose=0).fit(data)
        seconds = time.perf_counter() - start
        iv = est.ep_rate_interval_
        rows.append({"row": label, "batch": params["batch_size"], "learning_rate": params["learning_rate"],
                     "iterations": params["iterations"], "precision": precision, "seconds": seconds,
                     "rate": iv.value, "stderr": iv.stderr, "exact": est.ep_rate_exact_,
                     "bound_j": 1.0 + float(est.objective_per_seed_.mean())})
        print(f"| {label} | {params['batch_size']} | {params['learning_rate']:.2e} | {params['iterations']} | "
              f"{precision} | {seconds:.1f} s | {iv.value:.4f} ± {iv.stderr:.4f} | {est.ep_rate_exact_:.4f} | "
              f"{rows[-1]['bound_j']:.5f} |", flush=True)
    return rows


def _end_to_end(name: str, title: str, columns: list[str], run, iterations: int) -> list[dict]:
    """One end-to-end table after the throughput rows: its heading, then ``run()``'s rows (none on failure)."""
    if iterations <= 0:
        return []
    print(f"\n# {title}")
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    try:
        return run()
    except Exception as error:  # one broken check must not lose the table above
        print(f"{name} failed: {type(error).__name__}: {error}")
        return []


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="gpu", help="(for train.py's dispatch)")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to try the script on a CPU")
    parser.add_argument("--check-iterations", type=int, default=4000)
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)

    import jax
    import keras

    hidden, big, gru_batch = HIDDEN, 65536, 4096
    if args.quick:
        hidden, big, gru_batch = 64, 2048, 256
    device = jax.devices()[0]
    name = getattr(device, "device_kind", str(device))
    print(f"# {name}; JAX {jax.__version__}, Keras {keras.__version__} ({keras.backend.backend()})", flush=True)
    rng = np.random.default_rng(0)
    states = rng.normal(size=(1000, 10_000 if not args.quick else 500, 2)).astype(np.float32).cumsum(1) * 0.05
    symbols = rng.integers(0, 3, size=(100, 10_000 if not args.quick else 500)).astype(np.int8)
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
        print("# PyTorch rows skipped: torch is not installed")

    specs = []  # (label, batch, maker)
    if have_torch:
        specs += [(f"PyTorch paper loop, {p}", 4096, lambda p=p: (torch_mlp_row(states, 4096, p, hidden), 4096))
                  for p in ("fp32", "tf32", "bf16")]
        specs.append(("PyTorch paper loop, bf16", big, lambda: (torch_mlp_row(states, big, "bf16", hidden), big)))
    specs += [(f"matmul {p} (H x H, jnp.dot)", 4096, lambda p=p: matmul_row(4096, p, hidden)) for p in ("strict", "fp32", "bf16")]
    specs += [("neep JAX, strict fp32", 4096, lambda: neep_row("mlp", states, 4096, "strict", 50, hidden=hidden)),
              ("neep JAX, fp32", 4096, lambda: neep_row("mlp", states, 4096, "float32", 50, hidden=hidden)),
              ("neep JAX, mixed bf16", 4096, lambda: neep_row("mlp", states, 4096, "bfloat16", 50, hidden=hidden)),
              ("neep JAX, mixed bf16", big, lambda: neep_row("mlp", states, big, "bfloat16", 10, hidden=hidden)),
              ("neep JAX, fp32, K=5 stacked", 4096, lambda: stacked_row(states, 4096, 20, 5, hidden=hidden)),
              ("neep JAX current 2x128, one seed", 4096, lambda: neep_row("current", states, 4096, "float32", 50)),
              ("neep JAX current 2x128, K=5 stacked", 4096,
               lambda: stacked_row(states, 4096, 50, 5, kind="current"))]
    if have_torch:
        specs.append(("PyTorch cuDNN GRU(128), n=32", gru_batch, lambda: (torch_gru_row(symbols, gru_batch, 32), gru_batch)))
    specs.append(("neep JAX GRU(128), n=32", gru_batch,
                  lambda: neep_row("gru", symbols, gru_batch, "float32", 10, seq_len=32)))

    print("| row | batch | samples/s (median) | best |")
    print("|---|---|---|---|", flush=True)
    results = []
    for label, batch, maker in specs:
        try:
            run, units = maker()
            rates = _timed(run, units, args.seconds, args.rounds)
            row = {"row": label, "batch": batch, "median": statistics.median(rates), "best": max(rates)}
            if label.startswith("matmul"):  # FLOP/s, not samples/s
                print(f"| {label} | {batch} | {row['median'] / 1e12:.0f} TFLOP/s | {row['best'] / 1e12:.0f} |",
                      flush=True)
            else:
                print(f"| {label} | {batch} | {row['median']:,.0f} | {row['best']:,.0f} |", flush=True)
        except Exception as error:  # one broken row must not lose the others
            row = {"row": label, "batch": batch, "error": f"{type(error).__name__}: {error}"[:300]}
            print(f"| {label} | {batch} | failed: {row['error']} | |", flush=True)
        results.append(row)
        if label.startswith("PyTorch") and have_torch:
            import torch

            torch.cuda.empty_cache() if torch.cuda.is_available() else None

    def rate(label, batch):
        return next((r.get("median") for r in results if r["row"] == label and r["batch"] == batch), None)

    ratios = {
        "neep fp32 / PyTorch fp32 (b 4096)": (rate("neep JAX, fp32", 4096), rate("PyTorch paper loop, fp32", 4096)),
        "neep bf16 / PyTorch bf16 (b 4096)": (rate("neep JAX, mixed bf16", 4096), rate("PyTorch paper loop, bf16", 4096)),
        "neep bf16 / PyTorch bf16 (large batch)": (rate("neep JAX, mixed bf16", big), rate("PyTorch paper loop, bf16", big)),
        "neep strict fp32 / PyTorch fp32 (b 4096)": (rate("neep JAX, strict fp32", 4096),
                                                     rate("PyTorch paper loop, fp32", 4096)),
        "K=5 stacked / one seed (= 5 sequential), MLP 3x512": (rate("neep JAX, fp32, K=5 stacked", 4096),
                                                              rate("neep JAX, fp32", 4096)),
        "K=5 stacked / one seed (= 5 sequential), current 2x128": (
            rate("neep JAX current 2x128, K=5 stacked", 4096), rate("neep JAX current 2x128, one seed", 4096)),
        "neep GRU / PyTorch cuDNN GRU": (rate("neep JAX GRU(128), n=32", gru_batch),
                                         rate("PyTorch cuDNN GRU(128), n=32", gru_batch)),
    }
    print("\n# ratios of medians")
    summary = {}
    for key, (a, b) in ratios.items():
        if a and b:
            summary[key] = a / b
            print(f"- {key}: {a / b:.2f}x")
    iterations = args.check_iterations
    checks = _end_to_end(
        "precision check", f"the estimate in both precisions: MLP {hidden}x{LAYERS}, {iterations} iterations, "
        "batch 4096, 2-bead Tc=1 Th=10, 1000 x 10^4 states (half held out)",
        ["precision", "EP rate ± SE", "exact", "rel. error", "R^2", "fit"],
        lambda: precision_check(iterations, hidden), iterations)
    seeds_rows = _end_to_end(
        "seeds check", f"NEEP(seeds=K) end to end: MLP {hidden}x{LAYERS}, {iterations} iterations, batch 4096, "
        "evaluation every 100 (every seed), assessment included",
        ["K", "training", "fit", "EP rate ± SE", "per seed"],
        lambda: seeds_check(iterations, args.quick, hidden), iterations)
    large_rows = _end_to_end(
        "large-batch check", f"large batch end to end: MLP {hidden}x{LAYERS} on 5-bead pairs, {iterations} "
        f"iterations at 4096 vs batch {big} by the square-root rule (same windows seen)",
        ["row", "batch", "lr", "iterations", "precision", "fit", "EP rate ± SE", "exact", "1+J per step"],
        lambda: large_batch_check(iterations, big, args.quick, hidden), iterations)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": name, "rows": results, "ratios": summary, "precision_check": checks,
                       "seeds_check": seeds_rows, "large_batch_check": large_rows}, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
