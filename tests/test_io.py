"""The chunked writer: byte-identical whatever the threads, atomic, bounded by a chunk."""

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from neep.simulators import BeadSpring, FlashingRatchet, RatchetView, chunk_plan, simulate_to_arrays, simulate_to_file
from neep.simulators.io import FORMAT


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_writes_states_sidecar_and_ep(tmp_path):
    model = BeadSpring(n=3, dt=0.02)
    seen = []
    result = simulate_to_file(model, tmp_path / "b.npy", 7, 40, seed=4, exact_ep=True, progress=lambda d, t: seen.append((d, t)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.ep.npy", "b.json", "b.npy"]
    states = np.load(tmp_path / "b.npy", mmap_mode="r")
    ep = np.load(tmp_path / "b.ep.npy")
    assert states.dtype == np.float32 and states.shape == (7, 40, 3) and ep.shape == (7, 39)
    meta = json.loads((tmp_path / "b.json").read_text())
    for key in ("format", "model", "state", "n_states", "parameters", "dt", "seed", "shape", "dtype", "version",
                "ep_rate_exact", "ep_per_step_exact", "ep_file", "times_file", "hidden", "continuous_time", "notes"):  # fmt: skip
        assert key in meta, key
    assert meta["format"] == FORMAT and meta["model"] == "bead-spring" and meta["shape"] == [7, 40, 3]
    assert meta["ep_file"] == "b.ep.npy" and meta["times_file"] is None and meta["seed"] == 4
    assert meta["ep_per_step_exact"] == model.ep_per_step and meta["parameters"]["n"] == 3
    assert result.metadata == meta and result.nbytes == sum(p.stat().st_size for p in tmp_path.iterdir())
    assert seen[-1] == (7 * 40, 7 * 40)
    # the file equals the in-memory simulation, and exact_ep does not change the states
    np.testing.assert_array_equal(states, model.simulate(7, 40, seed=4))


def test_identical_for_one_or_two_workers(tmp_path):
    model = BeadSpring(n=2)
    for workers in (1, 2):
        folder = tmp_path / str(workers)
        folder.mkdir()
        # ~20 blocks of 2 MiB... here 1 trajectory per block: many blocks, both threads busy
        simulate_to_file(model, folder / "x.npy", 30, 500, seed=9, exact_ep=True, workers=workers, chunk_trajectories=1)
    assert _digest(tmp_path / "1") == _digest(tmp_path / "2")


def test_identical_for_any_numba_thread_count(tmp_path):
    # Separate interpreters, so NUMBA_NUM_THREADS is read at Numba's import.
    code = textwrap.dedent(
        """
        import sys
        from neep.simulators import BeadSpring, FlashingRatchet, RatchetView, simulate_to_file
        simulate_to_file(BeadSpring(n=2), sys.argv[1] + "/b.npy", 6, 300, seed=2, exact_ep=True, chunk_trajectories=1)
        simulate_to_file(RatchetView(FlashingRatchet(), hidden=True), sys.argv[1] + "/r.npy", 1, 5000,
                         seed=2, exact_ep=True, chunk_steps=700)
        """
    )
    digests = []
    for threads in ("1", "2"):
        folder = tmp_path / threads
        folder.mkdir()
        env = {**os.environ, "NUMBA_NUM_THREADS": threads}
        subprocess.run([sys.executable, "-c", code, str(folder)], check=True, env=env)
        digests.append(_digest(folder))
    assert digests[0] == digests[1] and len(digests[0]) == 6


def test_time_chunks_continue_each_trajectory(tmp_path):
    # Blocks of 37 steps: every block starts from the float64 state the previous
    # one ended in, so the EP file is the stochastic EP of the written states at
    # every boundary too (tolerance: float32 rounding of the states, see
    # test_bead_spring), and the ensemble stays stationary.
    model = BeadSpring(n=2, dt=0.05)
    simulate_to_file(model, tmp_path / "t.npy", 3, 400, seed=1, exact_ep=True, chunk_steps=37)
    x = np.load(tmp_path / "t.npy")
    ep = np.load(tmp_path / "t.ep.npy")
    u, s = 2.0**-24, float(np.abs(x).max())
    bound = np.linalg.norm(model.ep_matrix, 2) * 4 * u * model.n * s * s + u * np.abs(ep).max()
    assert np.abs(model.stochastic_ep(x) - ep).max() < bound
    meta = json.loads((tmp_path / "t.json").read_text())
    assert meta["chunks"] == {"trajectories": 1, "steps": 37}


def test_ratchet_time_chunks_hidden_and_continuous(tmp_path):
    ratchet = FlashingRatchet(potential=2.0)
    view = RatchetView(ratchet, hidden=True, continuous_time=True)
    simulate_to_file(view, tmp_path / "r.npy", 2, 3000, seed=5, exact_ep=True, chunk_steps=256)
    states, times = np.load(tmp_path / "r.npy"), np.load(tmp_path / "r.times.npy")
    assert states.dtype == np.int8 and states.min() >= 0 and states.max() <= 2
    assert times.dtype == np.float64 and (times[:, 0] == 0).all() and (np.diff(times, axis=1) > 0).all()
    meta = json.loads((tmp_path / "r.json").read_text())
    assert meta["hidden"] and meta["continuous_time"] and meta["times_file"] == "r.times.npy"
    # full view, same seed and plan: same jumps, and its EP file is the exact EP of
    # its states across the 256-step boundaries
    full = RatchetView(ratchet, continuous_time=True)
    simulate_to_file(full, tmp_path / "f.npy", 2, 3000, seed=5, exact_ep=True, chunk_steps=256)
    f = np.load(tmp_path / "f.npy")
    np.testing.assert_array_equal(f % 3, states)
    np.testing.assert_array_equal(np.load(tmp_path / "f.ep.npy"), np.load(tmp_path / "r.ep.npy"))
    np.testing.assert_allclose(np.load(tmp_path / "f.ep.npy"), ratchet.stochastic_ep(f), rtol=2**-23)


def test_chunk_plan_is_bounded_and_machine_independent():
    # paper's beads: whole trajectories, ~2 MiB of states per block
    tb, lb = chunk_plan(1000, 10_000, 5 * 4)
    assert lb == 10_000 and tb * lb * 20 <= 2 * 1024 * 1024 and tb >= 1
    # the ratchet's 5 x 10^7 steps of one trajectory: along time, 2 MiB blocks
    tb, lb = chunk_plan(1, 50_000_000, 1)
    assert tb == 1 and lb == 2 * 1024 * 1024
    assert chunk_plan(3, 10, 4, chunk_trajectories=100) == (3, 10)


class _Failing:
    """A sampler that fails (or is interrupted) in its third block."""

    def __init__(self, error):
        self.model, self.error, self.calls = BeadSpring(n=2), error, 0

    def outputs(self, trajectories, steps, exact_ep):
        return self.model.outputs(trajectories, steps, exact_ep)

    def fill(self, rng, out, initial=None):
        self.calls += 1
        if self.calls == 3:
            raise self.error
        return self.model.fill(rng, out, initial)

    def metadata(self):
        return self.model.metadata()


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_nothing_left_after_an_error_in_a_block(tmp_path, error):
    with pytest.raises(type(error)):
        simulate_to_file(_Failing(error), tmp_path / "x.npy", 10, 50, exact_ep=True, chunk_trajectories=1, workers=2)
    assert list(tmp_path.iterdir()) == []


def test_nothing_left_after_ctrl_c_in_the_caller(tmp_path):
    def interrupt(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulate_to_file(BeadSpring(), tmp_path / "x.npy", 10, 50, chunk_trajectories=1, progress=interrupt)
    assert list(tmp_path.iterdir()) == []


def test_existing_output_needs_force_and_stale_companions_go(tmp_path):
    model = BeadSpring(n=2)
    simulate_to_file(model, tmp_path / "x.npy", 2, 10, exact_ep=True)
    before = _digest(tmp_path)
    with pytest.raises(FileExistsError, match="x.npy"):
        simulate_to_file(model, tmp_path / "x.npy", 2, 10, seed=1)
    assert _digest(tmp_path) == before
    simulate_to_file(model, tmp_path / "x.npy", 2, 10, seed=1, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.npy"]  # old x.ep.npy removed


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"trajectories": 0}, ValueError, "trajectories must be >= 1, got 0"),
        ({"steps": 0}, ValueError, "steps must be >= 1, got 0"),
        ({"steps": 2.5}, ValueError, "steps must be an integer"),
        ({"seed": -1}, ValueError, "seed must be >= 0, got -1"),
        ({"workers": 0}, ValueError, "workers must be >= 1, got 0"),
        ({"path": "x.dat"}, ValueError, "must end with .npy"),
        ({"path": "missing/x.npy"}, FileNotFoundError, "does not exist"),
    ],
)
def test_bad_arguments_write_nothing(tmp_path, kwargs, error, words):
    args = {"path": "x.npy", "trajectories": 2, "steps": 10, **kwargs}
    args["path"] = tmp_path / args["path"]
    with pytest.raises(error, match=words):
        simulate_to_file(BeadSpring(), **args)
    assert list(tmp_path.iterdir()) == []


def test_in_memory_equals_file_for_the_ratchet(tmp_path):
    view = RatchetView(FlashingRatchet(potential=3.0))
    arrays = simulate_to_arrays(view, 3, 1000, seed=8, exact_ep=True)
    simulate_to_file(view, tmp_path / "r.npy", 3, 1000, seed=8, exact_ep=True)
    np.testing.assert_array_equal(arrays["states"], np.load(tmp_path / "r.npy"))
    np.testing.assert_array_equal(arrays["ep"], np.load(tmp_path / "r.ep.npy"))
