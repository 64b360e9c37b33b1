"""Fits that survive interruption: the partial run folder and what ``--resume`` restores.

While ``fit_to_folder`` trains, the run folder being written holds, after
every evaluation (every ``eval_every`` steps):

* ``summary.json`` with ``"status": "running"`` (``"interrupted"`` after
  Ctrl-C, ``"failed"`` after an error), the iteration reached, the best
  validation objective so far and the command that resumes;
* ``history.csv``: every evaluation so far, of every seed;
* ``model.keras``: the best weights as of the last backup (best validation J over the
  finished seeds and the current one), loadable by ``neep predict``;
* ``checkpoint/``: what ``--resume`` needs. ``state.json`` (the options and
  a fingerprint of the data), per finished seed its kept model
  (``seed_K.keras``) and history; for the seed in training Keras' own
  ``BackupAndRestore`` folder (weights, moving average, optimizer state and
  the epoch reached) and ``monitor.pkl`` (the monitor's history, best weights
  and objective, start record), saved together at an evaluation once the
  training since the last save took ``BACKUP_COST`` times as long as that save
  did (so the backups cost at most about 1/``BACKUP_COST`` of the training:
  every evaluation or two for a small network, every few for a fast one).

Resume restores all of that: finished seeds are loaded, not retrained; the
seed in training continues from its last backup (at most the training time
of ``BACKUP_COST`` backups is redone) with its optimizer state, moving
average, iteration count and monitor history. The random stream of training batches restarts from
(seed, seed index, epoch), so a resumed fit is not bit-identical to an
uninterrupted one. The held-out assessment (interval, baselines, data
check) runs at the end, whole. Data and options must match the interrupted
run's: ``check_resume`` names the first that differs.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from .atomic import atomic_write
from .summary import json_ready, write_history_csv

__all__ = ["RunCheckpoint", "data_fingerprint", "check_resume", "CHECKPOINT_DIR", "BACKUP_COST"]

CHECKPOINT_DIR = "checkpoint"
#: A backup is written once the training since the last one took this many times that backup's duration.
#: At every evaluation they cost 17 % of a fast fit's training: on the driven ring the weight backup took 0.040 s
#: and the best model 0.045 s at 58 % of the evaluations, against 0.38 s of training per evaluation at 2 x 64.
BACKUP_COST = 20.0


def data_fingerprint(data) -> dict:
    """Shape, dtype, dt and a hash of the first and last states: enough to tell two data sets apart.

    A ragged set (``states`` a tuple of parts) is fingerprinted part by part.
    """
    parts = data.states if isinstance(data.states, tuple) else (data.states,)
    digest = hashlib.sha256()
    for states in parts:
        digest.update(np.ascontiguousarray(states[: min(4, states.shape[0]), : min(4096, states.shape[1])]).tobytes())
        digest.update(np.ascontiguousarray(states[-1, -min(4096, states.shape[1]):]).tobytes())
    shape = [list(p.shape) for p in parts] if len(parts) > 1 else list(parts[0].shape)
    return {"name": data.name, "shape": shape, "dtype": str(parts[0].dtype), "dt": data.dt,
            "dt_known": data.dt_known, "sha256_of_samples": digest.hexdigest()}


def check_resume(stored: dict, data: dict, params: dict, explicit: dict) -> dict:
    """The options to resume with: the stored ones; ``explicit`` ones must equal them. ``ValueError`` else."""
    for key in ("shape", "dtype", "dt", "dt_known", "sha256_of_samples"):
        if stored["data"].get(key) != data.get(key):
            raise ValueError(f"--resume: the data differ from the interrupted run's ({key}: "
                             f"{stored['data'].get(key)} there, {data.get(key)} here)")
    for key, value in explicit.items():
        if key in stored["params"] and json.loads(json.dumps(value)) != stored["params"][key]:
            raise ValueError(f"--resume: option {key} differs from the interrupted run's "
                             f"({stored['params'][key]!r} there, {value!r} here)")
    return {**params, **stored["params"]}


def _write_json(path: Path, value: Any) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(json_ready(value), indent=2) + "\n"))


class RunCheckpoint:
    """The partial run folder of one fit (see module doc); ``NEEP.fit`` calls it per seed.

    Parameters
    ----------
    folder : Path
        The run folder (created at the first write).
    params : dict
        The ``NEEP`` options (JSON-able) the fit runs with.
    data : dict
        ``data_fingerprint`` of the data.
    unit : str
        Rate unit of the history (``runs.summary.unit_of``).
    resume_command : str
        What to run to continue, for ``summary.json``.
    """

    def __init__(self, folder: Path, params: dict, data: dict, unit: str, resume_command: str = ""):
        self.folder = Path(folder)
        self.dir = self.folder / CHECKPOINT_DIR
        self.params, self.data, self.unit, self.resume_command = params, data, unit, resume_command
        self.histories: dict[int, list] = {}
        self.best = -np.inf
        self.status = "running"
        self.seed_index, self.iteration = 0, 0
        state = self.dir / "state.json"
        if state.exists():
            stored = json.loads(state.read_text())
            self.best = stored.get("best_objective") if stored.get("best_objective") is not None else -np.inf
            for k in stored.get("seeds_done", []):
                self.histories[k] = json.loads((self.dir / f"seed_{k}.history.json").read_text())

    @staticmethod
    def stored(folder: Path) -> dict | None:
        """``checkpoint/state.json`` of ``folder`` (None when there is none)."""
        state = Path(folder) / CHECKPOINT_DIR / "state.json"
        return json.loads(state.read_text()) if state.exists() else None

    # -- per seed ----------------------------------------------------------------------
    def finished(self, k: int):
        """``(model, history)`` of seed ``k`` when it finished before, else None."""
        if k not in self.histories:
            return None
        model = keras.saving.load_model(self.dir / f"seed_{k}.keras", compile=False)
        return model, [dict(r) for r in self.histories[k]]

    def backup_dir(self, k: int) -> Path:
        return self.dir / f"seed_{k}" / "backup"

    def resumed_epoch(self, k: int) -> int:
        """Epoch the backup of seed ``k`` reached (0: none)."""
        meta = self.backup_dir(k) / "training_metadata.json"
        return int(json.loads(meta.read_text())["epoch"]) if meta.exists() else 0

    def callbacks(self, k: int, monitor) -> tuple[list, list]:
        """Callbacks to put before and after the ``EPMonitor`` of seed ``k``."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self._write_state()
        clock = _BackupClock()
        return [_PacedBackup(str(self.backup_dir(k)), clock)], [_MonitorState(self, k, monitor, clock)]

    def callbacks_after(self, k: int, monitor) -> list:
        """The partial-file writer of seed ``k`` alone (no weight backup: stacked seeds, see ``training``)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self._write_state()
        return [_MonitorState(self, k, monitor)]

    def seed_done(self, k: int, model, history: list) -> None:
        """Keep seed ``k``'s kept model and history; drop its training backup."""
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.dir / f"seed_{k}.keras", lambda tmp: model.save(tmp))
        _write_json(self.dir / f"seed_{k}.history.json", history)
        self.histories[k] = history
        shutil.rmtree(self.dir / f"seed_{k}", ignore_errors=True)
        self._write_state()

    # -- the visible partial files ------------------------------------------------------
    def _write_state(self) -> None:
        _write_json(self.dir / "state.json", {"params": self.params, "data": self.data,
                                              "seeds_done": sorted(self.histories), "best_objective":
                                              None if not np.isfinite(self.best) else self.best})

    def write_partial(self, current: list | None = None, k: int | None = None) -> None:
        """history.csv (finished seeds and ``current``) and summary.json with the status."""
        self.folder.mkdir(parents=True, exist_ok=True)
        rows = [{"seed": s, **r} for s in sorted(self.histories) for r in self.histories[s]]
        if current is not None:
            rows += [{"seed": k, **r} for r in current]
        if rows:
            atomic_write(self.folder / "history.csv", lambda tmp: write_history_csv(rows, tmp, unit=self.unit))
        summary = {
            "status": self.status,
            "message": {"running": "training in progress", "interrupted": "interrupted (Ctrl-C): partial run",
                        "failed": "stopped by an error: partial run"}.get(self.status, self.status)
                       + (f"; continue with: {self.resume_command}" if self.resume_command else ""),
            "seeds_done": sorted(self.histories),
            "seeds": self.params.get("seeds"),
            "seed_in_training": None if current is None else k,
            "iteration": self.iteration,
            "iterations": self.params.get("iterations"),
            "best_validation_objective": None if not np.isfinite(self.best) else self.best,
            "model": "model.keras holds the best weights so far (best validation J)",
            "rate_unit": self.unit,
            "options": self.params,
            "data": self.data,
            "updated": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        _write_json(self.folder / "summary.json", summary)

    def mark(self, status: str, current: list | None = None, k: int | None = None) -> None:
        """Set the status (``interrupted`` / ``failed``) in summary.json, if the folder was started."""
        self.status = status
        if self.folder.exists():
            self.write_partial(current if current is not None else self._current, k if k is not None else self._k)

    _current: list | None = None
    _k: int | None = None

    def finish(self) -> None:
        """Remove ``checkpoint/`` once the complete run folder is written."""
        shutil.rmtree(self.dir, ignore_errors=True)


class _BackupClock:
    """When the next backup is due: once the time since the last one reaches ``BACKUP_COST`` x its duration."""

    def __init__(self) -> None:
        self.since = time.perf_counter()  # the end of the last backup
        self.cost = 0.0  # its duration (0: the first evaluation is backed up)
        self.saving, self._spent = False, 0.0

    def decide(self) -> bool:
        """At an epoch end, before the weight backup: whether this epoch is backed up."""
        self.saving, self._spent = time.perf_counter() - self.since >= BACKUP_COST * self.cost, 0.0
        return self.saving

    def spent(self, seconds: float) -> None:
        """Time one part of this epoch's backup took."""
        self._spent += seconds

    def done(self) -> None:
        """After the monitor state of a backed-up epoch: the backup's duration is known."""
        if self.saving:
            self.cost, self.since = self._spent, time.perf_counter()


class _PacedBackup(keras.callbacks.BackupAndRestore):
    """Keras' ``BackupAndRestore`` at the epoch ends ``_BackupClock`` picks."""

    def __init__(self, backup_dir: str, clock: _BackupClock):
        super().__init__(backup_dir, save_freq="epoch")
        self.clock = clock

    def on_epoch_end(self, epoch, logs=None):
        if self.clock.decide():
            start = time.perf_counter()
            super().on_epoch_end(epoch, logs)
            self.clock.spent(time.perf_counter() - start)


class _MonitorState(keras.callbacks.Callback):
    """Saves the ``EPMonitor`` state with each weight backup, and the partial files at each epoch end; restores it.

    ``clock``: the backup pace of the seed's ``_PacedBackup`` (None: a
    monitor state at every epoch end, for stacked seeds without a weight backup).
    """

    def __init__(self, checkpoint: RunCheckpoint, k: int, monitor, clock: _BackupClock | None = None):
        super().__init__()
        self.checkpoint, self.k, self.monitor, self.clock = checkpoint, k, monitor, clock
        self.path = checkpoint.dir / f"seed_{k}" / "monitor.pkl"

    def on_train_begin(self, logs=None):
        self._best_seen = None
        if self.path.exists() and self.checkpoint.resumed_epoch(self.k) > 0:
            with open(self.path, "rb") as handle:
                state = pickle.load(handle)
            if "_start_record" in state:  # written by neep 0.1: the private attribute names
                state["start_record"], state["best_values"] = state.pop("_start_record"), state.pop("_best_values")
            self.monitor.set_state(state)
            self._best_seen = self.monitor.best_iteration
        else:
            self._best_seen = None  # the first evaluations (the start included) are saved at the first epoch end
        self.checkpoint._current, self.checkpoint._k = self.monitor.history, self.k

    def on_epoch_end(self, epoch, logs=None):
        monitor, ckpt = self.monitor, self.checkpoint
        ckpt.iteration = monitor.history[-1]["iteration"] if monitor.history else 0
        if self.clock is None or self.clock.saving:  # with the weights of the same epoch
            start = time.perf_counter()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            state = monitor.get_state()
            atomic_write(self.path, lambda tmp: tmp.write_bytes(pickle.dumps(state)))
            if monitor.best_iteration != self._best_seen and monitor.best_objective > ckpt.best:
                current = self.model.get_weights()
                self.model.set_weights(monitor.best_weights)
                ckpt.folder.mkdir(parents=True, exist_ok=True)
                atomic_write(ckpt.folder / "model.keras", lambda tmp: self.model.save(tmp))
                self.model.set_weights(current)
                ckpt.best = float(monitor.best_objective)
                ckpt._write_state()
            self._best_seen = monitor.best_iteration
            if self.clock is not None:
                self.clock.spent(time.perf_counter() - start)
                self.clock.done()
        ckpt.write_partial(monitor.history, self.k)
