"""Files written by neep 0.1 still read, and a Keras user loads a model the Keras way.

``tests/data/v0.1/`` was written by neep 0.1 (the code before the estimators/
layout): a tiny current model fitted on a 2-bead chain (``model.keras``), its
``summary.json`` (the old key names), a few states and that model's
predictions of them.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from neep.estimators import NEEP, load_model, read_summary
from neep.estimators.runs.summary import RENAMED_IN_0_2

DATA = Path(__file__).resolve().parent / "data" / "v0.1"


def test_a_0_1_summary_reads_under_the_new_names():
    old = json.loads((DATA / "summary.json").read_text())
    assert "ep_rate_exact_process" in old and "ep_rate_target" not in old  # really the old layout
    new = read_summary(DATA / "summary.json")
    assert new["ep_rate_target"] == old["ep_rate_exact"]  # the chain's rate: the estimator's target
    assert new["ep_rate_exact"] == old["ep_rate_exact_process"]  # the process's: the sidecar's meaning
    assert new["ep_per_step_target"] == old["ep_per_step_exact"]
    assert new["interval_covers_target"] == old["interval_covers_exact"]
    assert not set(RENAMED_IN_0_2) - {"ep_rate_exact"} & set(new)
    assert new["ep_rate"] == old["ep_rate"]


def test_a_current_summary_is_left_as_it_is():
    summary = {"ep_rate": 1.0, "ep_rate_target": 2.0, "ep_rate_exact": 2.5, "interval_covers_target": False}
    assert read_summary(summary) == summary


def test_a_0_1_model_file_loads_and_predicts_as_it_did():
    states, expected = np.load(DATA / "states.npy"), np.load(DATA / "predicted.npy")
    est = load_model(DATA / "model.keras")
    assert isinstance(est, NEEP) and est.kind_ == "current"
    # Same weights, same float32 arithmetic: equal up to float32 round-off of a different op order.
    np.testing.assert_allclose(est.predict(states), expected, rtol=1e-5, atol=1e-6)


_KERAS_LOAD = """
import numpy as np
{imports}
model = keras.saving.load_model({path!r})
states = np.load({states!r})
print(type(model).__name__, model.kind)
"""


def _keras_user(imports: str) -> str:
    code = _KERAS_LOAD.format(imports=imports, path=str(DATA / "model.keras"), states=str(DATA / "states.npy"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def test_keras_load_model_works_after_importing_the_package():
    # The package loads lazily; importing it must still make its classes known to Keras.
    assert _keras_user("import neep.estimators, keras") == ["NEEPModel", "current"]


def test_keras_load_model_works_when_keras_came_first():
    assert _keras_user("import keras\nimport neep.estimators") == ["NEEPModel", "current"]


def test_a_module_of_nn_can_be_the_first_to_import_keras():
    # Its import brings Keras, whose import hook would import nn.model, which imports this module back.
    code = "from neep.estimators.nn.layers import Antisymmetric, Monomials\nprint(Antisymmetric.__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "Antisymmetric"
