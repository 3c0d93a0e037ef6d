"""MLflow's python_function loader for this project's Keras models; shipped inside each one.

`experiments.tracking.mlflow_model` copies this file into a logged model's `code/`
folder (as `vanilla_rnn_lab_pyfunc.py`), beside a copy of the `rnn_layers` package and of
the modules of the model's other classes (the tasks' metrics, a layer of the user's own;
listed in `USER_MODULES_FILE`), and
names it the model's pyfunc `loader_module`. MLflow puts `code/` on `sys.path` before it
imports the loader, so `mlflow.pyfunc.load_model("runs:/<id>/<grid point>")` works in a process
that never imported `rnn_layers` or the user's module, and on a machine where neither is
installed.

Keras only rebuilds classes registered in the loading process (it imports modules for
its own packages alone), and `rnn_layers` and the other modules register their classes
when imported: so the imports come first, then MLflow's own Keras loader does the rest.
"""

import importlib
import importlib.util
import json
import os
import sys

from mlflow.keras import _load_pyfunc as _load_keras_pyfunc

import rnn_layers  # noqa: F401  (registers VanillaRNN, VanillaRNNCell, ... with Keras)

# Written by experiments.tracking.mlflow_model (its USER_MODULES_FILE) beside this file.
USER_MODULES_FILE = "vanilla_rnn_lab_modules.json"


def _import_user_modules():
    """Imports the modules of the model's other classes it lists (models logged before
    they were shipped list none).

    By name first (an installed copy wins, as it would for any import); where the name
    is taken by another package that lacks the module (Hugging Face's `datasets` has no
    `datasets.metrics`), from the shipped file, under a private name: Keras finds a
    registered class by its registered name, not by its module.
    """
    code = os.path.dirname(os.path.abspath(__file__))
    listed = os.path.join(code, USER_MODULES_FILE)
    if not os.path.isfile(listed):
        return
    with open(listed) as file:
        names = json.load(file)
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            _import_shipped_file(code, name)


def _import_shipped_file(code, name):
    parts = name.split(".")
    path = os.path.join(code, *parts[:-1], f"{parts[-1]}.py")
    if not os.path.isfile(path):
        path = os.path.join(code, *parts, "__init__.py")
    private = f"_vanilla_rnn_lab_shipped.{name}"
    spec = importlib.util.spec_from_file_location(private, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[private] = module
    spec.loader.exec_module(module)


def _load_pyfunc(path):
    """The pyfunc loader entry point MLflow calls with the model's local folder."""
    _import_user_modules()
    return _load_keras_pyfunc(path)
