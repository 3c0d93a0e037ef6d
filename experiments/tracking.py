"""Tracking: the project's `mlflow.yaml`, MLflow runs, TensorBoard directories.

- `load_tracking_config()` reads `mlflow.yaml` (repo root; `VRL_MLFLOW_CONFIG`
  names another file) and applies `MLFLOW_TRACKING_URI` when set.
- `check_tracking_uri()` fails within seconds, with a message that says what
  to do, when a tracking server cannot be reached.
- `RunLogger` logs to one MLflow run by id (no global "active run"), and
  carries the run's TensorBoard directory: it is the object handed to
  `experiments.probes.make_probes`.
- TensorBoard: `<tensorboard_root>/<experiment>/<run name>/{train,validation}`
  from `keras.callbacks.TensorBoard`; the HParams dashboard is configured
  once per sweep at `<tensorboard_root>/<experiment>` and every run writes
  its hyperparameters and final metrics into its own directory.

Nothing here imports TensorFlow at module level: the CLI validates input and
reaches the tracking server before paying TensorFlow's start-up time.
"""

import dataclasses
import json
import math
import numbers
import os
import pathlib
import platform
import shutil
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_FILE = REPO_ROOT / "mlflow.yaml"
CONFIG_ENV = "VRL_MLFLOW_CONFIG"
TRACKING_KEYS = {
    "tracking_uri": "sqlite:///mlflow.db",
    "artifact_location": "mlartifacts",
    "experiment_prefix": "",
    "tensorboard_root": "tb_logs",
}

# MLflow tags and names shared with the report (issue 5) and the executors.
TAG_PARENT = "mlflow.parentRunId"
TAG_SWEEP_HASH = "sweep.config_hash"
TAG_SWEEP_PROFILE = "sweep.profile"
TAG_GRID_POINT = "grid_point"
TAG_CONFIG_HASH = "config_hash"
TAG_ATTEMPT = "attempt"


class TrackingError(RuntimeError):
    """The tracking store cannot be used (broken `mlflow.yaml`, unreachable server)."""


# -------------------------------------------------------------- mlflow.yaml
@dataclasses.dataclass(frozen=True)
class TrackingConfig:
    """Resolved tracking settings.

    Attributes:
        tracking_uri: the MLflow tracking URI (SQLite paths made absolute).
        artifact_root: absolute folder for a local store's artifacts, or None
            for a tracking server (the server decides).
        experiment_prefix: prefix of every MLflow experiment name.
        tensorboard_root: absolute TensorBoard root folder.
        source: where the settings came from (for messages).
    """

    tracking_uri: str
    artifact_root: str | None
    experiment_prefix: str
    tensorboard_root: str
    source: str

    def experiment_name(self, name):
        """The MLflow experiment name of a named experiment."""
        return f"{self.experiment_prefix}{name}"

    def tb_experiment_dir(self, name):
        """`<tensorboard_root>/<experiment>`: where the HParams config lives."""
        return os.path.join(self.tensorboard_root, name)

    def tb_run_dir(self, name, run_name):
        """`<tensorboard_root>/<experiment>/<run name>`."""
        return os.path.join(self.tensorboard_root, name, run_name)

    @property
    def is_remote(self):
        return self.tracking_uri.startswith(("http://", "https://"))


def _resolve_sqlite(uri, base):
    # sqlite:///relative.db is relative to the config file's folder, not the cwd;
    # sqlite:////abs/path.db is absolute already.
    prefix = "sqlite:///"
    if uri.startswith(prefix):
        path = uri[len(prefix) :]
        if path and not path.startswith("/") and path != ":memory:":
            return prefix + str((base / path).resolve())
    return uri


def load_tracking_config(path=None, environ=None):
    """Reads `mlflow.yaml` and resolves it.

    Args:
        path: the YAML file; default `$VRL_MLFLOW_CONFIG` or `<repo>/mlflow.yaml`.
        environ: the environment to read (`os.environ` by default);
            `MLFLOW_TRACKING_URI` there overrides `tracking_uri`.

    Returns:
        A `TrackingConfig`.

    Raises:
        TrackingError: the file is missing, not YAML, has unknown keys or
            values that are not strings.
    """
    environ = os.environ if environ is None else environ
    path = pathlib.Path(path or environ.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE).resolve()
    if not path.is_file():
        raise TrackingError(
            f"Tracking config {path} does not exist. Create it (see the repo's mlflow.yaml)."
        )
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise TrackingError(f"{path}: not valid YAML, fix the file: {error}") from None
    if not isinstance(data, dict):
        raise TrackingError(
            f"{path}: the top level must be a mapping (key: value); got {type(data).__name__}."
        )
    unknown = sorted(set(data) - set(TRACKING_KEYS))
    if unknown:
        raise TrackingError(
            f"{path}: unknown key(s) {', '.join(map(repr, unknown))}. Known keys: {', '.join(TRACKING_KEYS)}."
        )
    values = {
        **TRACKING_KEYS,
        **{k: v for k, v in data.items() if v is not None or k == "experiment_prefix"},
    }
    for key, value in values.items():
        if key == "experiment_prefix" and value is None:
            values[key] = ""
        elif not isinstance(value, str):
            raise TrackingError(
                f"{path}: `{key}` must be a string; got {value!r} ({type(value).__name__})."
            )
    base = path.parent
    tracking_uri = environ.get("MLFLOW_TRACKING_URI") or values["tracking_uri"]
    tracking_uri = _resolve_sqlite(tracking_uri, base)
    remote = tracking_uri.startswith(("http://", "https://"))
    artifact_root = None if remote else str((base / values["artifact_location"]).resolve())
    source = str(path) + (" + MLFLOW_TRACKING_URI" if environ.get("MLFLOW_TRACKING_URI") else "")
    return TrackingConfig(
        tracking_uri=tracking_uri,
        artifact_root=artifact_root,
        experiment_prefix=values["experiment_prefix"],
        tensorboard_root=str((base / values["tensorboard_root"]).resolve()),
        source=source,
    )


def check_tracking_uri(tracking_uri, timeout=3.0):
    """Fails fast, with advice, when the tracking store cannot be used.

    For an http(s) server: one request to `/health` with a short timeout and
    no retries (MLflow's own client retries with backoff for minutes). For a
    SQLite file: its folder must exist or be creatable.

    Raises:
        TrackingError: with what was tried and what to change.
    """
    if tracking_uri.startswith(("http://", "https://")):
        url = tracking_uri.rstrip("/") + "/health"
        try:
            with urllib.request.urlopen(url, timeout=timeout):
                return
        except urllib.error.HTTPError:
            return  # something answered (auth, proxy, an older server without /health)
        except (TimeoutError, urllib.error.URLError, ConnectionError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise TrackingError(
                f"Cannot reach the MLflow tracking server at {tracking_uri} ({reason}). "
                f"Start it (`make mlflow-server`), fix MLFLOW_TRACKING_URI, or unset it to log to "
                f"the local SQLite store named in mlflow.yaml."
            ) from None
    elif tracking_uri.startswith("sqlite:///"):
        path = pathlib.Path(tracking_uri[len("sqlite:///") :])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise TrackingError(
                f"Cannot create the folder of the SQLite store {tracking_uri}: {error}"
            ) from None


def configure_mlflow(tracking_uri):
    """Points MLflow at `tracking_uri`, with bounded HTTP retries.

    MLflow's HTTP client retries 7 times with exponential backoff by default
    (minutes before an error); a sweep wants to know sooner. Values already
    in the environment win.
    """
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri  # inherited by worker processes
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    return mlflow.MlflowClient(tracking_uri=tracking_uri)


def ensure_experiment(client, tracking, name):
    """The MLflow experiment id of a named experiment, created (or restored) if needed."""
    experiment_name = tracking.experiment_name(name)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        location = None
        if tracking.artifact_root is not None:
            location = pathlib.Path(tracking.artifact_root, name).as_uri()
        return client.create_experiment(experiment_name, artifact_location=location)
    if experiment.lifecycle_stage == "deleted":
        client.restore_experiment(experiment.experiment_id)
    return experiment.experiment_id


# ----------------------------------------------------------------- run tags
def system_tags():
    """Library versions and the device, as MLflow tags (imports TensorFlow)."""
    import keras
    import mlflow
    import numpy
    import tensorflow as tf

    tags = {
        "version.python": platform.python_version(),
        "version.tensorflow": tf.__version__,
        "version.keras": keras.__version__,
        "version.mlflow": mlflow.__version__,
        "version.numpy": numpy.__version__,
        "keras.backend": keras.backend.backend(),
        "host": socket.gethostname(),
        "device": device_name(),
    }
    try:
        import tensorboard

        tags["version.tensorboard"] = tensorboard.__version__
    except ImportError:
        pass
    return tags


def device_name():
    """The GPU's name when TensorFlow sees one (Keras then trains there), else "CPU"."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    name = details.get("device_name", gpus[0].name)
    return name if len(gpus) == 1 else f"{len(gpus)}x {name}"


def pip_requirements():
    """Pinned requirements of a logged model (rnn_layers itself must be importable to load it)."""
    from importlib import metadata

    packages = ("keras", "tensorflow", "numpy")
    return [f"{p}=={metadata.version(p)}" for p in packages]


def param_value(value):
    """A param/tag value as MLflow stores it: lists and dicts as JSON, the rest as str."""
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(value, sort_keys=True)
    return str(value)


# --------------------------------------------------------------- RunLogger
class RunLogger:
    """Logs to one MLflow run by id, plus the run's TensorBoard directory.

    This is the object probes receive (`experiments.probes.make_probes`).

    Args:
        client: an `mlflow.MlflowClient`.
        run_id: the run to log to.
        tb_dir: the run's TensorBoard directory (`<root>/<experiment>/<run name>`),
            for `tf.summary` images and scalars; None when TensorBoard is off.

    Example:

    >>> logger = RunLogger(client, run.info.run_id, tb_dir="tb_logs/exp/vanilla-L10-s0")
    >>> logger.log_metrics({"grad_norm": 0.3}, step=4)
    """

    def __init__(self, client, run_id, tb_dir=None):
        self.client = client
        self.run_id = run_id
        self.tb_dir = tb_dir

    def log_metrics(self, metrics, step=None):
        """Logs `{name: number}` at `step` (an int; None: 0)."""
        from mlflow.entities import Metric

        timestamp = int(time.time() * 1000)
        entries = [
            Metric(key, float(value), timestamp, int(step or 0))
            for key, value in metrics.items()
            if isinstance(value, numbers.Real) or hasattr(value, "__float__")
        ]
        for start in range(0, len(entries), 1000):  # MLflow's batch limit
            self.client.log_batch(self.run_id, metrics=entries[start : start + 1000])

    def log_params(self, params):
        """Logs `{name: value}` as params (lists/dicts as JSON)."""
        from mlflow.entities import Param

        entries = [Param(key, param_value(value)) for key, value in params.items()]
        for start in range(0, len(entries), 100):
            self.client.log_batch(self.run_id, params=entries[start : start + 100])

    def set_tags(self, tags):
        """Sets `{name: value}` as tags."""
        from mlflow.entities import RunTag

        entries = [RunTag(key, param_value(value)) for key, value in tags.items()]
        if entries:
            self.client.log_batch(self.run_id, tags=entries)

    def log_artifact(self, local_path, artifact_path=None):
        """Copies a local file into the run's artifacts (under `artifact_path`)."""
        self.client.log_artifact(self.run_id, str(local_path), artifact_path)

    def log_figure(self, figure, artifact_file):
        """Saves a matplotlib figure as an artifact (e.g. `"plots/loss.png"`)."""
        self.client.log_figure(self.run_id, figure, artifact_file)

    def log_dict(self, dictionary, artifact_file):
        """Saves a dict as a JSON/YAML artifact (by the file's extension)."""
        self.client.log_dict(self.run_id, dictionary, artifact_file)

    def log_text(self, text, artifact_file):
        """Saves a string as a text artifact."""
        self.client.log_text(self.run_id, text, artifact_file)


# -------------------------------------------------------- MLflow run helpers
def end_run(client, run_id, status):
    """Ends a run with `status` (FINISHED, FAILED, KILLED) if it is still RUNNING."""
    run = client.get_run(run_id)
    if run.info.status in ("RUNNING", "SCHEDULED"):
        client.set_terminated(run_id, status)


def log_traceback(client, run_id, text):
    """Stores a traceback as `traceback.txt` and its last line as the `error` tag."""
    try:
        client.log_text(run_id, text, "traceback.txt")
    finally:
        last = text.strip().splitlines()[-1] if text.strip() else "unknown error"
        client.set_tag(run_id, "error", last[:4000])


def find_parent_run(client, experiment_id, config_hash):
    """The newest parent run of a sweep with this config hash, or None."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{TAG_SWEEP_HASH}` = '{config_hash}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def latest_parent_run(client, experiment_id):
    """The newest parent run (any sweep) of an experiment, or None."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{TAG_SWEEP_HASH}` != ''",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def child_runs(client, experiment_id, parent_run_id):
    """Every active child run of a parent (any status), oldest first."""
    runs = []
    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{TAG_PARENT}` = '{parent_run_id}'",
            order_by=["attributes.start_time ASC"],
            max_results=1000,
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


# ------------------------------------------------------------- TensorBoard
def tensorboard_hparam_value(value):
    """HParams accept bool/int/float/str: everything else becomes JSON text."""
    if isinstance(value, (bool, int, float, str)):
        return value
    if value is None:
        return "None"
    return json.dumps(value, sort_keys=True)


def write_hparams_config(tb_experiment_dir, hparam_names, metric):
    """Configures the HParams dashboard once at `<root>/<experiment>`.

    Earlier sweeps' configs in that folder are replaced so that the dashboard
    reads one definition.

    Args:
        tb_experiment_dir: `<tensorboard_root>/<experiment>`.
        hparam_names: the hyperparameters shown as columns.
        metric: the task's main metric name (e.g. "mse").
    """
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    root = pathlib.Path(tb_experiment_dir)
    root.mkdir(parents=True, exist_ok=True)
    for old in root.glob("events.out.tfevents.*"):
        old.unlink()
    metrics = [
        hp.Metric(f"test_{metric}", display_name=f"test {metric}"),
        hp.Metric("solved", display_name="solved"),
        hp.Metric("diverged", display_name="diverged"),
        hp.Metric("train_time_s", display_name="train time (s)"),
        hp.Metric(f"epoch_{metric}", group="validation", display_name=f"val {metric}"),
        hp.Metric("epoch_loss", group="validation", display_name="val loss"),
        hp.Metric("epoch_loss", group="train", display_name="train loss"),
    ]
    writer = tf.summary.create_file_writer(str(root))
    with writer.as_default():
        hp.hparams_config(hparams=[hp.HParam(name) for name in hparam_names], metrics=metrics)
    writer.close()


def write_run_hparams(tb_dir, run_name, hparams, final_metrics):
    """Writes one run's hyperparameters and final metrics into its TensorBoard dir."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    writer = tf.summary.create_file_writer(str(tb_dir))
    with writer.as_default():
        hp.hparams({k: tensorboard_hparam_value(v) for k, v in hparams.items()}, trial_id=run_name)
        for key, value in final_metrics.items():
            if value is not None and math.isfinite(float(value)):
                tf.summary.scalar(key, float(value), step=0)
    writer.close()


def reset_dir(path):
    """Removes a run's previous TensorBoard logs so a rerun does not overlay them."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)


def temporary_dir(prefix):
    """A temporary folder (caller removes it)."""
    return tempfile.mkdtemp(prefix=prefix)
