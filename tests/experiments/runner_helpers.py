"""Helpers of the runner tests: private tracking settings and the CLI in a subprocess."""

import os
import pathlib
import sys

from experiments.training import faults

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
