"""Neural estimators for entropy production (NEEP, RNEEP) in Keras 3 (TensorFlow backend).

Importing this package is cheap: the names below load on first use (PEP 562),
so the NumPy-only layers (``data``, ``stats``, ``baselines``, ``plots``:
``KERAS_FREE``) and input checks run without TensorFlow. The first name
that needs Keras imports it with TensorFlow's C++ start-up log lines hidden
(``nn.backend.quiet_import``), unless ``TF_CPP_MIN_LOG_LEVEL`` is set to 0
(set it to ask for them).

The subpackages are layers; each imports only the ones below it (a test
says so)::

    data        readers, labels, trajectories and ragged sets, windows    NumPy only
    stats       rates, bounds, uncertainty, exact values, diagnostics      NumPy only
    baselines   classical estimators (currents, TUR, plug-in KL)          NumPy only
    nn          layers, networks, the Keras model and its file, monitors, the JAX step
    plots       figures (read data and stats only)                        NumPy + matplotlib
    training    FitConfig, PreparedFit, the loop, seeds, feeds, stacking, distribution
    assessment  the interval, baselines and diagnostics of a trained ensemble
    estimator   NEEP: fit / predict / save / load
    runs        run folders, defaults, summary, figures, predictions, checkpoints
"""

import contextlib
import importlib
import importlib.abc
import importlib.util
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from .nn.backend import keep_tensorflow_out, quiet_import  # noqa: E402

# name -> the submodule that defines it.
_LAZY = {
    "ep_rate_from_cumulative": "stats.rates",
    "local_ep_rate": "stats.rates",
    "r_squared": "stats.rates",
    "LinearCurrent": "baselines.currents",
    "fit_linear_current": "baselines.currents",
    "EPMonitor": "nn.monitors",
    "GroundTruthMonitor": "nn.ground_truth",
    "ProgressPrinter": "nn.monitors",
    "held_out_subset": "data.windows",
    "window_sums": "data.windows",
    "Diagnostic": "stats.diagnostics",
    "Trajectories": "data.trajectories",
    "load_trajectories": "data.trajectories",
    "as_data": "data.sets",
    "NEEP": "estimator",
    "load_model": "estimator",
    "FitConfig": "training.config",
    "Antisymmetric": "nn.layers",
    "CurrentAnsatz": "nn.layers",
    "Standardize": "nn.layers",
    "NEEPModel": "nn.model",
    "make_optimizer": "nn.model",
    "predict_delta_s": "nn.prediction",
    "predict_noise_penalty": "nn.prediction",
    "build_network": "nn.networks",
    "current_network": "nn.networks",
    "embedding_network": "nn.networks",
    "gru_network": "nn.networks",
    "mlp_network": "nn.networks",
    "MODEL_KINDS": "nn.kinds",
    "lower_bound_dv": "stats.bounds",
    "lower_bound_j": "stats.bounds",
    "neep_objective": "nn.objective",
    "objective_numpy": "stats.bounds",
    "Interval": "stats.uncertainty",
    "block_statistics": "stats.uncertainty",
    "bootstrap_replicates": "stats.uncertainty",
    "interval": "stats.uncertainty",
    "iter_evaluation_batches": "data.windows",
    "evaluation_batches": "training.tfdata",
    "pair_dataset": "training.tfdata",
    "window_dataset": "training.tfdata",
    "FIT_DEFAULTS": "runs.defaults",
    "default_hidden_units": "runs.defaults",
    "default_iterations": "runs.defaults",
    "kind_defaults": "runs.defaults",
    "fit_summary": "runs.summary",
    "read_summary": "runs.summary",
    "write_history_csv": "runs.summary",
    "fit_to_folder": "runs.fit",
    "write_run_folder": "runs.fit",
    "write_run_figures": "runs.figures",
    "predict_file": "runs.predict",
    "load_set": "data.sets",
    "TrajectorySet": "data.sets",
    "read_arrays": "data.readers",
    "describe_labels": "data.labels",
    "training_feed": "training.feed",
    "StackedTrainer": "training.stacked",
    "scale_to_batch": "runs.large_batch",
}
# Modules that load without Keras (a test holds them to it): a name from them imports no TensorFlow.
KERAS_FREE = ("data", "stats", "baselines", "plots", "nn.kinds", "nn.backend", "training.config", "runs.defaults",
              "runs.large_batch", "runs.atomic")

__all__ = list(_LAZY)  # noqa: PLE0605 (names load on first use)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if not _keras_free(module):
        quiet_import()
        keep_tensorflow_out()
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def _keras_free(module: str) -> bool:
    return any(module == free or module.startswith(free + ".") for free in KERAS_FREE)


def _initializing(name: str) -> bool:
    """Whether the module ``name`` is being imported right now (its code has not finished)."""
    return bool(getattr(getattr(sys.modules.get(name), "__spec__", None), "_initializing", False))


class _RegisterOnKerasImport(importlib.abc.MetaPathFinder):
    """Registers neep's Keras classes as soon as Keras is imported, by anyone.

    ``keras.saving.load_model("run/model.keras")`` finds a custom class only
    once the module defining it ran; this package loads lazily, so after
    ``import neep.estimators, keras`` the classes would not be there yet.
    The finder steps aside at the first ``import keras`` (it removes itself
    from ``sys.meta_path``) and lets the real import run, then imports
    ``nn.model`` (which registers ``NEEPModel`` and the layers).
    """

    def find_spec(self, name, path=None, target=None):  # noqa: D102 - importlib protocol
        if name != "keras":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec("keras")
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def run_then_register(module):
            run(module)
            # A module of nn that imports Keras first (``from neep.estimators.nn.layers import ...``) is still
            # running here, and nn.model, which imports it back, would fail on its missing names: its classes
            # then register as it runs, and nn.model with its first use.
            if not any(_initializing(name) for name in list(sys.modules) if name.startswith(f"{__name__}.nn.")):
                importlib.import_module(f"{__name__}.nn.model")

        spec.loader.exec_module = run_then_register
        return spec


if "keras" in sys.modules:
    importlib.import_module(f"{__name__}.nn.model")
elif not any(isinstance(f, _RegisterOnKerasImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterOnKerasImport())


def __dir__() -> list:
    return sorted(set(globals()) | set(_LAZY))
