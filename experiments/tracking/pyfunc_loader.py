"""MLflow's python_function loader for this project's Keras models; shipped inside each one.

`experiments.tracking.mlflow_model` copies this file into a logged model's `code/`
folder (as `vanilla_rnn_lab_pyfunc.py`), beside a copy of the `rnn_layers` package and of
the modules of the user's own classes in the model (listed in `USER_MODULES_FILE`), and
names it the model's pyfunc `loader_module`. MLflow puts `code/` on `sys.path` before it
imports the loader, so `mlflow.pyfunc.load_model("runs:/<id>/model")` works in a process
that never imported `rnn_layers` or the user's module, and on a machine where neither is
installed.

Keras only rebuilds classes registered in the loading process (it imports modules for
its own packages alone), and `rnn_layers` and the user's modules register their classes
when imported: so the imports come first, then MLflow's own Keras loader does the rest.
"""

import importlib
import json
import os

from mlflow.keras import _load_pyfunc as _load_keras_pyfunc

import rnn_layers  # noqa: F401  (registers VanillaRNN, VanillaRNNCell, ... with Keras)

# Written by experiments.tracking.mlflow_model (its USER_MODULES_FILE) beside this file.
USER_MODULES_FILE = "vanilla_rnn_lab_modules.json"


def _import_user_modules():
    """Imports the modules of the user's own classes the model lists (models logged
    before they were shipped list none)."""
    listed = os.path.join(os.path.dirname(os.path.abspath(__file__)), USER_MODULES_FILE)
    if not os.path.isfile(listed):
        return
    with open(listed) as file:
        for name in json.load(file):
            importlib.import_module(name)


def _load_pyfunc(path):
    """The pyfunc loader entry point MLflow calls with the model's local folder."""
    _import_user_modules()
    return _load_keras_pyfunc(path)
