"""Neural estimators for entropy production (NEEP, RNEEP) in Keras 3 (TensorFlow backend).

Importing this package is cheap: the names below load on first use (PEP 562),
so the NumPy-only parts (``readers``, ``data``, ``ragged``, ``labels``) and
input checks run without TensorFlow. The first name that needs Keras imports
it with TensorFlow's C++ start-up log lines hidden (``_quiet``), unless
``TF_CPP_MIN_LOG_LEVEL`` is set to 0 (set it to ask for them).
"""

import importlib
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from ._backend import keep_tensorflow_out  # noqa: E402

# name -> submodule; the submodules that need no Keras are in _NUMPY_ONLY.
_LAZY = {
    "ep_rate_from_cumulative": "analysis",
    "local_ep_rate": "analysis",
    "r_squared": "analysis",
    "LinearCurrent": "baselines",
    "fit_linear_current": "baselines",
    "EPMonitor": "callbacks",
    "GroundTruthMonitor": "callbacks",
    "ProgressPrinter": "callbacks",
    "held_out_subset": "callbacks",
    "window_sums": "callbacks",
    "Diagnostic": "diagnostics",
    "Trajectories": "data",
    "load_trajectories": "data",
    "NEEP": "estimator",
    "as_trajectories": "estimator",
    "load_model": "estimator",
    "Antisymmetric": "layers",
    "CurrentAnsatz": "layers",
    "Standardize": "layers",
    "NEEPModel": "model",
    "make_optimizer": "model",
    "predict_delta_s": "model",
    "build_network": "networks",
    "current_network": "networks",
    "embedding_network": "networks",
    "gru_network": "networks",
    "mlp_network": "networks",
    "lower_bound_dv": "objective",
    "lower_bound_j": "objective",
    "neep_objective": "objective",
    "objective_numpy": "objective",
    "Interval": "uncertainty",
    "block_statistics": "uncertainty",
    "bootstrap_replicates": "uncertainty",
    "interval": "uncertainty",
    "evaluation_batches": "pipeline",
    "iter_evaluation_batches": "pipeline",
    "pair_dataset": "pipeline",
    "window_dataset": "pipeline",
    "FIT_DEFAULTS": "run",
    "default_hidden_units": "run",
    "default_iterations": "run",
    "kind_defaults": "run",
    "fit_summary": "run",
    "fit_to_folder": "run",
    "predict_file": "run",
    "write_history_csv": "run",
    "write_run_figures": "run",
    "write_run_folder": "run",
    "load_set": "ragged",
    "TrajectorySet": "ragged",
    "read_arrays": "readers",
    "describe_labels": "labels",
    "training_feed": "feed",
    "StackedTrainer": "stacked",
    "scale_to_batch": "large_batch",
}
_NUMPY_ONLY = {"data", "readers", "labels", "ragged", "uncertainty", "analysis", "baselines", "diagnostics", "pipeline",
               "large_batch"}

__all__ = list(_LAZY)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if module not in _NUMPY_ONLY:
        from ._quiet import quiet_import

        quiet_import()
        keep_tensorflow_out()
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(_LAZY))
