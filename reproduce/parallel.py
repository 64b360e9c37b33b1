"""``reproduce(..., jobs=N)``: the sweep's simulations and fits in N worker processes, ahead of the figures.

:func:`plan` lists every simulation and fit the chosen figures need, each with
its cache key, computed without simulating or reading anything. :func:`run_jobs`
runs the ones not yet in the cache in a pool of ``spawn``-ed processes
(TensorFlow's and Keras' state is per process, and a forked TensorFlow is not
safe). Each worker stores its result in the same cache as a serial run, under
the same key and atomically, so an interrupted parallel sweep resumes like a
serial one. The figures are then drawn by the serial code, which finds every fit
in the cache: the tables and figures are those of ``jobs=1``.

Scheduling: the simulations first (every fit needs one; two fits of one data set
must not simulate it twice at once), then the fits, the most expensive first (an
estimate from the fit's size), so that no worker idles at the end while one long
fit runs. Threads: each of N workers on C cores gets ``max(1, C // N)`` threads
for TensorFlow (intra- and inter-op), OpenMP / BLAS and Numba, through their
environment variables, set in the worker before it imports any of them (a value
the user has set is kept).

Errors: a failed job is reported as one line naming it; no new job starts, the
jobs in progress finish (their results are kept), then :class:`WorkerError` is
raised. A fit's failure is most often a property of the sweep (its sizes, the
memory, the installation) that the other fits share; the serial run stops at the
first error too, and a rerun resumes from the cache. Ctrl-C (or SIGTERM) stops
every worker at once; finished work stays in the cache, nothing half-written is
trusted.
"""

from __future__ import annotations

import atexit
import concurrent.futures as futures
import functools
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .cache import Cache
from .config import Scale

__all__ = ["Job", "WorkerError", "plan", "run_jobs", "thread_budget", "THREAD_VARIABLES"]

#: Environment variables that size a worker's thread pools (TensorFlow's C++ runtime, OpenMP, BLAS, Numba).
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


class WorkerError(RuntimeError):
    """A simulation or fit failed in a worker process (the message names it)."""


@dataclass(frozen=True)
class Job:
    """One simulation or fit of a sweep.

    ``run(cache, progress)`` does it (a ``functools.partial`` of a module-level
    function, so it pickles to a worker); ``needs`` is the key of the
    simulation a fit reads (and, for a fit that starts from another, that fit's key too: a tuple);
    ``cost`` orders the fits (largest first).
    """

    kind: str  # "simulation" or "fit"
    key: str
    label: str
    run: Callable[[Cache, Callable[[str], None]], Any]
    needs: str | tuple[str, ...] | None = None
    cost: float = 0.0

    def done(self, cache: Cache) -> bool:
        """Whether the cache holds this job's result (for a simulation: its data and sidecar)."""
        if self.kind == "fit":
            return cache.path(self.key, ".json").exists()
        return cache.path(self.key, ".npy").exists() and cache.path(self.key, ".json").exists()


def _needs(job: Job) -> tuple[str, ...]:
    return () if job.needs is None else (job.needs,) if isinstance(job.needs, str) else tuple(job.needs)


def _cost(config, seeds: int, seq_len: int = 2) -> float:
    """Rough work of a fit (samples x steps through the network): orders the fits, nothing else."""
    return float(seeds) * config.iterations * config.batch_size * seq_len


def plan(names: Iterable[str], config: Scale, seed: int) -> list[Job]:
    """Every simulation and fit of the figures ``names`` (each once, in the serial run's order)."""
    from . import beads, ratchet

    jobs: dict[str, Job] = {}

    def add(job: Job) -> None:
        jobs.setdefault(job.key, job)

    names = list(names)
    scale = config.beads
    run = beads.BeadRun(scale, None, seed)  # keys and labels only: no cache needed
    for name in (n for n in names if n in beads.FITS):
        for n, tc, length, seeds in beads.FITS[name](scale):
            sim = run.simulation_key(n, tc)
            add(Job("simulation", sim, f"beads N={n} Tc={tc:g}",
                    functools.partial(beads.simulate_job, scale, seed, n, tc)))
            add(Job("fit", run.fit_key(n, tc, length, seeds), run.fit_label(n, tc, length, seeds),
                    functools.partial(beads.fit_job, scale, seed, n, tc, length, seeds), needs=sim,
                    cost=_cost(scale.fit, seeds)))
    if "fig3c" in names:
        scale = config.ratchet
        for v in ratchet.fig3c_fits(scale):
            sim = ratchet.data_key(v, scale.steps, False, seed)
            add(Job("simulation", sim, f"ratchet V={v:g}",
                    functools.partial(ratchet.simulate_job, v, scale.steps, False, seed)))
            add(Job("fit", ratchet.fig3c_key(scale, seed, v), f"ratchet V={v:g}",
                    functools.partial(ratchet.fig3c_fit, scale, seed, v), needs=sim,
                    cost=_cost(scale.fit, scale.seeds)))
    if "fig3e" in names:
        scale = config.rneep
        for v, n in ratchet.fig3e_fits(scale):
            sim = ratchet.data_key(v, scale.steps, True, seed)
            add(Job("simulation", sim, f"hidden ratchet V={v:g}",
                    functools.partial(ratchet.simulate_job, v, scale.steps, True, seed)))
            start = scale.warm_from(n)  # the fit whose network this one starts from
            add(Job("fit", ratchet.fig3e_key(scale, seed, v, n), f"RNEEP V={v:g} n={n}",
                    functools.partial(ratchet.fig3e_fit, scale, seed, v, n),
                    needs=sim if start is None else (sim, ratchet.fig3e_key(scale, seed, v, start)),
                    cost=_cost(scale.fit_for(n), scale.seeds, n)))
    return list(jobs.values())


def thread_budget(workers: int, cores: int | None = None) -> int:
    """Threads per worker: the usable cores shared out, at least one."""
    if cores is None:
        try:
            cores = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cores = os.cpu_count() or 1
    return max(1, cores // workers)


class _Stopped(SystemExit):
    """Raised in a worker by SIGTERM: unwinds (removing half-written temporary files), then the worker exits.

    A ``SystemExit``: an idle worker (waiting for a job) exits quietly, with no traceback.
    """


def _on_terminate(signum, frame) -> None:
    raise _Stopped()


def _init_worker(threads: int) -> None:
    """Runs in each worker before anything imports TensorFlow or Numba."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops us
    signal.signal(signal.SIGTERM, _on_terminate)
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))
    from neep.estimators.nn.backend import quiet_import

    quiet_import()
    # Last in, first out: at the worker's exit, before TensorFlow's own handlers and the interpreter's
    # teardown (seconds per worker). Its results have been sent (synchronously) by then; nothing is lost.
    atexit.register(os._exit, 0)


def _work(folder: str, run: Callable) -> list[str]:
    """One job in a worker: its progress lines (returned, printed by the parent when the job ends)."""
    lines: list[str] = []
    try:
        run(Cache(folder), lines.append)
    except _Stopped:
        os._exit(1)  # the pool is being torn down: take no further job
    return lines


def _worker_threads() -> dict[str, Any]:
    """What a worker runs with (for the tests): the thread variables and Numba's thread count."""
    import numba

    return {"environ": {name: os.environ.get(name) for name in THREAD_VARIABLES},
            "numba": numba.config.NUMBA_NUM_THREADS}


def _pool(workers: int, threads: int) -> futures.ProcessPoolExecutor:
    return futures.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_init_worker, initargs=(threads,))


def _stop_workers(executor: futures.ProcessPoolExecutor, grace: float = 10.0) -> None:
    """SIGTERM every worker, SIGKILL those still alive after ``grace`` seconds."""
    # pid -> Process; the executor has no public way to stop its workers before Python 3.14
    processes = list((getattr(executor, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def run_jobs(jobs: list[Job], cache: Cache, workers: int, tell: Callable[[str], None]) -> dict[str, Any]:
    """Run the jobs not yet in ``cache`` in ``training.workers`` processes; one progress line per finished job.

    Returns ``{"jobs", "threads", "fits", "simulations", "cached", "seconds"}`` (what ran).
    Raises :class:`WorkerError` when a job failed (after the jobs in progress have finished),
    ``KeyboardInterrupt`` after stopping the workers.
    """
    start = time.perf_counter()
    todo = [job for job in jobs if not job.done(cache)]
    simulations = [job for job in todo if job.kind == "simulation"]
    fits = sorted((job for job in todo if job.kind == "fit"), key=lambda job: -job.cost)  # stable: ties keep order
    cached = sum(1 for job in jobs if job.kind == "fit") - len(fits)
    workers = max(1, min(workers, len(fits) + len(simulations)))
    threads = thread_budget(workers)
    summary = {"jobs": workers, "threads": threads, "fits": len(fits), "simulations": len(simulations),
               "cached": cached, "seconds": 0.0}
    tell(f"{_count(len(fits), 'fit')} and {_count(len(simulations), 'simulation')} to run "
         f"({_count(cached, 'fit')} already in the cache)"
         + (f" in {workers} worker processes, {threads} threads each" if todo else ""))
    if not todo:
        return summary
    queue = simulations + fits
    pending = {job.key for job in todo}  # every job not done yet: what a job may need
    total = len(queue)
    finished = 0
    failures: list[tuple[Job, BaseException]] = []
    running: dict[futures.Future, Job] = {}
    executor = _pool(workers, threads)
    folder = str(cache.folder)
    try:
        while queue or running:
            while not failures and len(running) < workers:
                ready = next((job for job in queue if not pending.intersection(_needs(job))), None)
                if ready is None:
                    break
                queue.remove(ready)
                running[executor.submit(_work, folder, ready.run)] = ready
            if not running:
                break
            done, _ = futures.wait(running, return_when=futures.FIRST_COMPLETED)
            for future in done:
                job = running.pop(future)
                try:
                    lines = future.result()
                except futures.process.BrokenProcessPool as error:
                    failures.append((job, error))
                    tell(f"{job.kind} {job.label}: FAILED: its worker process died (killed, or out of memory?)")
                    continue
                except Exception as error:  # noqa: BLE001 - reported, then raised as WorkerError
                    failures.append((job, error))
                    tell(f"{job.kind} {job.label}: FAILED: {type(error).__name__}: {error}")
                    if running:
                        tell(f"stopping: no new job; waiting for the {len(running)} in progress "
                             "(their results are kept)")
                    continue
                pending.discard(job.key)
                finished += 1
                lines = lines or [f"{job.kind} {job.label}: done"]
                for line in lines[:-1]:
                    tell(line)
                tell(f"{lines[-1]}  [{finished}/{total}]")
            if failures and any(isinstance(e, futures.process.BrokenProcessPool) for _, e in failures):
                break  # the pool is unusable: every job in it fails the same way
    except KeyboardInterrupt:
        tell("interrupted: stopping the workers; finished simulations and fits are in the cache "
             "(the same command resumes)")
        _stop_workers(executor)
        raise
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    summary["seconds"] = time.perf_counter() - start
    if failures:
        job, error = failures[0]
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        reason = ("its worker process died" if isinstance(error, futures.process.BrokenProcessPool)
                  else f"{type(error).__name__}: {error}")
        raise WorkerError(f"{job.kind} {job.label} failed in a worker process: {reason}{more}; {finished} "
                          f"finished jobs are in the cache, the same command resumes") from error
    return summary

