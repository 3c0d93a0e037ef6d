"""Helpers of the runner tests: private tracking settings and the CLI in a subprocess."""

import os
import pathlib
import sys

from experiments import faults

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def write_tracking_yaml(
    folder, tracking_uri="sqlite:///mlflow.db", prefix="test-", outage_window_s=None
):
    """Writes an mlflow.yaml into `folder` (store, artifacts and TensorBoard logs there);
    `outage_window_s`: the key's value, or None to leave the default."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mlflow.yaml"
    window = "" if outage_window_s is None else f"outage_window_s: {outage_window_s}\n"
    path.write_text(
        f"tracking_uri: {tracking_uri}\n"
        "artifact_location: mlartifacts\n"
        f'experiment_prefix: "{prefix}"\n'
        "tensorboard_root: tb_logs\n" + window
    )
    return path


def cli_env(tracking_folder=None, **extra):
    """Environment for `python -m experiments` in a subprocess."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", *faults.ENV_NAMES)
    }
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(REPO_ROOT)
    if tracking_folder is not None:
        env["VRL_MLFLOW_CONFIG"] = str(pathlib.Path(tracking_folder) / "mlflow.yaml")
    env.update(extra)
    return env


def cli(*args):
    """The command line of `python -m experiments ARGS`."""
    return [sys.executable, "-m", "experiments", *args]


# Loads a logged model through pyfunc and predicts `x.npy` in an interpreter that cannot
# import the repository (`-I`, cwd outside it): the model must bring its code.
_PREDICT_WITHOUT_THE_REPOSITORY = """
import sys
import numpy as np
for name in {absent!r}:
    try:
        __import__(name)
        raise SystemExit(name + " importable outside the model: the test proves nothing")
    except ImportError:
        pass
import mlflow
mlflow.set_tracking_uri({tracking_uri!r})
model = mlflow.pyfunc.load_model({model_uri!r})
np.save("predictions.npy", model.predict(np.load("x.npy")))
print(sys.modules[{loaded!r}].__file__)
"""


def predict_without_the_repository(folder, tracking_uri, model_uri, x, *, absent, loaded):
    """Predicts `x` with the pyfunc model `model_uri` in a fresh `python -I` run in `folder`,
    where none of the modules `absent` can be imported; returns the predictions and the file
    the model's copy of module `loaded` was imported from."""
    import subprocess

    import numpy as np

    folder = pathlib.Path(folder)
    np.save(folder / "x.npy", x)
    script = _PREDICT_WITHOUT_THE_REPOSITORY.format(
        absent=tuple(absent), tracking_uri=tracking_uri, model_uri=model_uri, loaded=loaded
    )
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    finished = subprocess.run(
        [sys.executable, "-I", "-c", script],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return np.load(folder / "predictions.npy"), finished.stdout.strip().splitlines()[-1]


def keras_predictions(tracking_uri, model_uri, x):
    """`x` through the Keras model file inside the logged model `model_uri`."""
    import keras
    import mlflow

    folder = mlflow.artifacts.download_artifacts(model_uri, tracking_uri=tracking_uri)
    reference = keras.saving.load_model(os.path.join(folder, "data", "model.keras"))
    return reference.predict(x, verbose=0)
