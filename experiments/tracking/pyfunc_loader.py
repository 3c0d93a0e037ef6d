"""MLflow's python_function loader for this project's Keras models; shipped inside each one.

`experiments.tracking.mlflow_model` copies this file into a logged model's `code/`
folder (as `vanilla_rnn_lab_pyfunc.py`), beside a copy of the `rnn_layers` package, and
names it the model's pyfunc `loader_module`. MLflow puts `code/` on `sys.path` before it
imports the loader, so `mlflow.pyfunc.load_model("runs:/<id>/<grid point>")` works in a process
that never imported `rnn_layers` and on a machine where it is not installed.

Keras only rebuilds classes registered in the loading process (it imports modules for
its own packages alone), and `rnn_layers` registers its layers when imported: so the
import comes first, then MLflow's own Keras loader does the rest.
"""

from mlflow.keras import _load_pyfunc as _load_keras_pyfunc

import rnn_layers  # noqa: F401  (registers VanillaRNN, VanillaRNNCell, ... with Keras)


def _load_pyfunc(path):
    """The pyfunc loader entry point MLflow calls with the model's local folder."""
    return _load_keras_pyfunc(path)
