"""A trained grid point as an MLflow model: MLflow's Keras flavor, plus the code that loads it.

`log_keras_model` logs the model the way `mlflow.keras.log_model` does (the `.keras`
file, signature, input example, pinned requirements, a "Logged model" of the run that
can be registered), named for its grid point (`vanilla-L50-s0`), and adds one thing the
Keras flavor cannot: the `rnn_layers` package under the model's `code/`, with a pyfunc
loader that imports it first (`pyfunc_loader.py`), and the module of any other class in
the model (the tasks' own metrics, `datasets/metrics.py`; a layer from a
`package.module:factory` kind, its cell), which the loader imports too. So

    mlflow.pyfunc.load_model("runs:/<run id>/vanilla-L50-s0").predict(x)

works in a fresh process that never imported `rnn_layers` or the user's module, on any
machine with the pinned packages, and

    import rnn_layers; mlflow.keras.load_model("runs:/<run id>/vanilla-L50-s0")

gives the Keras model itself (`models:/<model id>` works as well).
"""

import json
import os
import pathlib
import shutil
import sys

from experiments.tracking.environment import pip_requirements

CODE_DIR = "code"
LOADER_MODULE = "vanilla_rnn_lab_pyfunc"
# The modules of the model's other classes, which the loader imports first (pyfunc_loader.py
# reads this name; it is shipped alone and cannot import it from here).
USER_MODULES_FILE = "vanilla_rnn_lab_modules.json"
# Top-level packages a loading process has already: Keras's, and `rnn_layers` (shipped).
_PROVIDED = ("keras", "rnn_layers", "builtins")
EXAMPLE_SEQUENCES = 2
_ACTIVE_EXPERIMENT = {}  # the (store, experiment) this process last made MLflow's active one

_REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
_LAYERS_PACKAGE = _REPO_ROOT / "rnn_layers"
_LOADER_FILE = pathlib.Path(__file__).with_name("pyfunc_loader.py")


class _KerasWithCode:
    """A flavor for `mlflow.models.Model.log`: MLflow's Keras flavor, then the code.

    `Model.log` creates the logged model, calls `save_model` on a local folder, and
    uploads that folder; MLflow flavors are modules with this one function.
    """

    __name__ = "keras"  # the flavor name MLflow records on the logged model

    @staticmethod
    def save_model(model, path, mlflow_model, validate_serving_input=False, **kwargs):
        import mlflow.keras

        # MLflow's Keras flavor writes the input example before it creates the folder.
        os.makedirs(path, exist_ok=True)
        mlflow.keras.save_model(model, path, mlflow_model=mlflow_model, **kwargs)
        code = os.path.join(path, CODE_DIR)
        shutil.copytree(
            _LAYERS_PACKAGE,
            os.path.join(code, "rnn_layers"),
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        shutil.copyfile(_LOADER_FILE, os.path.join(code, f"{LOADER_MODULE}.py"))
        _copy_user_modules(model, code)
        pyfunc = mlflow_model.flavors["python_function"]
        pyfunc["loader_module"] = LOADER_MODULE
        pyfunc["code"] = CODE_DIR
        mlflow_model.save(os.path.join(path, "MLmodel"))


def user_modules(model):
    """The modules of the model's classes that neither Keras nor `rnn_layers` provide (the
    tasks' metrics in its compile config, a layer of the user's own, its cell), sorted:
    Keras finds such a class on loading only once its module has registered it."""
    import keras

    found = set()

    def walk(value):
        if isinstance(value, dict):
            module = value.get("module")
            if isinstance(module, str) and module.partition(".")[0] not in _PROVIDED:
                found.add(module)
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(keras.saving.serialize_keras_object(model))
    return sorted(name for name in found if getattr(sys.modules.get(name), "__file__", None))


def _copy_user_modules(model, code):
    """Each user module's file into `code/`, at its package path, and their names in
    `USER_MODULES_FILE`, which the loader imports first. Only the module's own file
    travels: what it imports must be installed where the model loads."""
    names = user_modules(model)
    for name in names:
        source = pathlib.Path(sys.modules[name].__file__)
        parts = name.split(".")
        if source.name == "__init__.py":
            target = pathlib.Path(code, *parts, "__init__.py")
        else:
            target = pathlib.Path(code, *parts[:-1], f"{parts[-1]}.py")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    with open(os.path.join(code, USER_MODULES_FILE), "w") as file:
        json.dump(names, file)


def log_keras_model(run_id, name, model, example_inputs, *, step=0, guard=None):
    """Logs `model` to run `run_id` as the MLflow model `name` and returns its `ModelInfo`.

    Args:
        run_id: the grid point's run (MLflow must point at its store already).
        name: the logged model's name, the grid point's (`schema.model_name`).
        model: the trained Keras model.
        example_inputs: a batch of the task's inputs, shaped `(batch, length, features)`;
            the first `EXAMPLE_SEQUENCES` become the input example, and the model's
            predictions on them give the signature's output.
        step: the training step the model belongs to (MLflow links that step's
            metrics to the logged model: its page and the Models table show them).
        guard: the store's `tracking.outage.StoreGuard`: a tracking server that stops
            answering while the model is logged is waited for, and the model logged
            again once it answers; the cut-off attempt's logged model, left PENDING,
            is marked FAILED first. None: no waiting.

    Raises:
        StoreUnavailable: the server did not answer for the outage window.
        What MLflow raises otherwise (the logged model is then FAILED, never READY).
    """
    import keras
    import numpy as np
    from mlflow.models import infer_signature

    example = np.asarray(example_inputs[:EXAMPLE_SEQUENCES], dtype="float32")
    # A direct call: `predict` would compile a prediction function for two sequences.
    predictions = keras.ops.convert_to_numpy(model(example, training=False))
    signature = infer_signature(example, predictions)  # the batch axis free (-1)
    attempts = []

    def log_once():
        if attempts:
            _fail_pending_models(run_id)
        attempts.append(len(attempts))
        return _log_model(run_id, name, model, example, signature, step)

    return log_once() if guard is None else guard.call(log_once)


def _log_model(run_id, name, model, example, signature, step):
    import mlflow
    from mlflow.models import Model

    # `Model.log` files the logged model under the active experiment ("Default" unless
    # set), not the run's: point it at the run's.
    experiment_id = mlflow.MlflowClient().get_run(run_id).info.experiment_id
    experiment = (mlflow.get_tracking_uri(), experiment_id)
    if _ACTIVE_EXPERIMENT.get("set") != experiment:  # set_experiment is a store round trip
        mlflow.set_experiment(experiment_id=experiment_id)
        _ACTIVE_EXPERIMENT["set"] = experiment
    return Model.log(
        artifact_path=None,
        name=name,
        flavor=_KerasWithCode,
        run_id=run_id,
        step=step,
        model=model,
        signature=signature,
        input_example=example,
        pip_requirements=pip_requirements(),
        # MLflow would load the model back and predict the example here, with a Keras
        # progress bar in the sweep's terminal; the tests load it in a fresh process.
        validate_serving_input=False,
    )


def _fail_pending_models(run_id):
    """Marks FAILED the run's logged models still PENDING: an attempt the store cut off."""
    import mlflow
    from mlflow.entities import LoggedModelStatus

    client = mlflow.MlflowClient()
    experiment_id = client.get_run(run_id).info.experiment_id
    found = client.search_logged_models(
        [experiment_id], filter_string=f"source_run_id = '{run_id}'"
    )
    for logged in found:
        if logged.status == LoggedModelStatus.PENDING:
            client.finalize_logged_model(logged.model_id, LoggedModelStatus.FAILED)
