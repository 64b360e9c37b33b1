"""Neural estimators for entropy production (NEEP, RNEEP) in Keras 3 (TensorFlow backend).

Import cost: TensorFlow and Keras load with this package.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from ._backend import keep_tensorflow_out  # noqa: E402

keep_tensorflow_out()

from .analysis import ep_rate_from_cumulative, local_ep_rate, r_squared  # noqa: E402
from .baselines import LinearCurrent, fit_linear_current  # noqa: E402
from .callbacks import EPMonitor, GroundTruthMonitor, ProgressPrinter, held_out_subset, window_sums  # noqa: E402
from .diagnostics import Diagnostic  # noqa: E402
from .data import Trajectories, load_trajectories  # noqa: E402
from .estimator import NEEP, as_trajectories, load_model  # noqa: E402
from .layers import Antisymmetric, CurrentAnsatz, Standardize  # noqa: E402
from .model import NEEPModel, make_optimizer, predict_delta_s  # noqa: E402
from .networks import build_network, current_network, embedding_network, gru_network, mlp_network  # noqa: E402
from .objective import lower_bound_dv, lower_bound_j, neep_objective, objective_numpy  # noqa: E402
from .uncertainty import Interval, block_statistics, bootstrap_replicates, interval  # noqa: E402
from .pipeline import evaluation_batches, iter_evaluation_batches, pair_dataset, window_dataset  # noqa: E402
from .run import (  # noqa: E402
    FIT_DEFAULTS,
    default_hidden_units,
    default_iterations,
    fit_summary,
    fit_to_folder,
    predict_file,
    write_history_csv,
    write_run_figures,
    write_run_folder,
)

__all__ = [
    "NEEP",
    "load_model",
    "as_trajectories",
    "Trajectories",
    "load_trajectories",
    "neep_objective",
    "objective_numpy",
    "lower_bound_j",
    "lower_bound_dv",
    "Antisymmetric",
    "CurrentAnsatz",
    "Standardize",
    "current_network",
    "LinearCurrent",
    "fit_linear_current",
    "Interval",
    "interval",
    "block_statistics",
    "bootstrap_replicates",
    "Diagnostic",
    "ProgressPrinter",
    "mlp_network",
    "embedding_network",
    "gru_network",
    "build_network",
    "NEEPModel",
    "make_optimizer",
    "predict_delta_s",
    "pair_dataset",
    "window_dataset",
    "evaluation_batches",
    "iter_evaluation_batches",
    "EPMonitor",
    "GroundTruthMonitor",
    "held_out_subset",
    "window_sums",
    "ep_rate_from_cumulative",
    "r_squared",
    "local_ep_rate",
    "FIT_DEFAULTS",
    "default_hidden_units",
    "default_iterations",
    "fit_to_folder",
    "write_run_folder",
    "fit_summary",
    "write_history_csv",
    "write_run_figures",
    "predict_file",
]
