"""Tracking: the project's `mlflow.yaml`, MLflow runs, TensorBoard folders, the servers.

- `settings`: `mlflow.yaml` (`load_tracking_config`, `TrackingConfig`) and the check
  that its store can be used (`check_tracking_uri`). No MLflow import.
- `mlflow_runs`: the client, the store, experiments, and the queries of a sweep's runs
  (`latest_parent_run`, `child_runs`).
- `run_logger`: `RunLogger`, which logs to one run by id.
- `outage`: riding out a tracking server that does not answer for a while (`StoreGuard`).
- `environment`: what a run records of where it ran (versions, device, command, commit).
- `mlflow_model`: a trained model as an MLflow model that loads without this repository.
- `registry`: a sweep's best model in the Model Registry.
- `tensorboard_logs`: one TensorBoard run per grid point (its epoch scalars), a sweep's
  report folder (`sweep_report_dir`), scalars, images and texts.
- `tensorboard_hparams`: the HParams dashboard: its definition, each run's hyperparameters
  and final values.
- `servers`: TensorBoard, the MLflow UI and a team MLflow server, as the CLI starts them.
- `locks`: file locks of this machine.

The names below are the package's public API.
"""

from experiments.errors import TrackingError
from experiments.tracking.environment import (
    device_name,
    pip_requirements,
    source_tags,
    start_system_metrics,
    system_tags,
)
from experiments.tracking.mlflow_model import log_keras_model
from experiments.tracking.mlflow_runs import (
    child_runs,
    configure_mlflow,
    end_run,
    ensure_experiment,
    latest_parent_run,
    log_traceback,
    open_store,
    record_failure,
)
from experiments.tracking.outage import guard_of
from experiments.tracking.run_logger import RunLogger, param_value
from experiments.tracking.settings import (
    CONFIG_ENV,
    MLFLOW_UI_PORT,
    MODEL_TRAINING_VIEW,
    REPO_ROOT,
    TrackingConfig,
    check_tracking_uri,
    load_tracking_config,
)
from experiments.tracking.tensorboard_hparams import (
    clear_report_dir,
    write_hparams_config,
    write_run_hparams,
)
from experiments.tracking.tensorboard_logs import (
    count_runs,
    epoch_summaries,
    reset_dir,
    sweep_report_dir,
    tensorboard_safe,
    write_images,
    write_scalars,
    write_texts,
)

__all__ = [
    "CONFIG_ENV",
    "MLFLOW_UI_PORT",
    "MODEL_TRAINING_VIEW",
    "REPO_ROOT",
    "RunLogger",
    "TrackingConfig",
    "TrackingError",
    "check_tracking_uri",
    "clear_report_dir",
    "child_runs",
    "configure_mlflow",
    "count_runs",
    "device_name",
    "end_run",
    "ensure_experiment",
    "epoch_summaries",
    "guard_of",
    "latest_parent_run",
    "load_tracking_config",
    "log_keras_model",
    "log_traceback",
    "record_failure",
    "open_store",
    "param_value",
    "pip_requirements",
    "reset_dir",
    "source_tags",
    "start_system_metrics",
    "sweep_report_dir",
    "system_tags",
    "tensorboard_safe",
    "write_hparams_config",
    "write_images",
    "write_run_hparams",
    "write_scalars",
    "write_texts",
]
