"""MLflow: the client, experiments, one run's logger, and the sweep's run queries.

`RunLogger` logs to one MLflow run by id (no global "active run") and carries the
run's TensorBoard directory: it is the object the probes receive.
"""

import functools
import json
import logging
import numbers
import os
import pathlib
import platform
import socket
import sys
import time

from experiments import schema
from experiments.tracking.locks import exclusive_lock
from experiments.tracking.settings import TrackingError


def configure_mlflow(tracking_uri):
    """Points MLflow at `tracking_uri`, with bounded HTTP retries.

    MLflow's HTTP client retries 7 times with exponential backoff by default
    (minutes before an error); a sweep wants to know sooner. Values already
    in the environment win.
    """
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri  # inherited by worker processes
    # "Creating initial MLflow database tables..." and the like: not the user's business.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow.system_metrics").setLevel(logging.WARNING)
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    return mlflow.MlflowClient(tracking_uri=tracking_uri)


def open_store(tracking_config):
    """The MLflow client of the configured store, checked usable (created if it is new).

    A new SQLite database is created and migrated here, once, under a file lock: MLflow
    creating one database from several processes at once fails (`_alembic_tmp_*` tables).
    A store that cannot be used fails now, in one line, before anything is written.

    Raises:
        TrackingError: the store is not writable, not an MLflow database, or fails.
    """
    database = tracking_config.sqlite_path
    if database is not None:
        _check_writable(database)
    try:
        if database is None:
            client = configure_mlflow(tracking_config.tracking_uri)
            client.search_experiments(max_results=1)
        else:
            with exclusive_lock(tracking_config.lock_dir / "create-store.lock"):
                client = configure_mlflow(tracking_config.tracking_uri)
                client.search_experiments(max_results=1)
    except OSError as error:  # the lock file beside the database
        raise TrackingError(
            f"Cannot write the MLflow store {tracking_config.tracking_uri}: {error.strerror} "
            f"({error.filename}). Make its folder writable, or point tracking_uri in "
            "mlflow.yaml (or MLFLOW_TRACKING_URI) elsewhere."
        ) from None
    except Exception as error:  # SQLAlchemy, MLflow or HTTP errors: one line for the user
        raise TrackingError(_store_error(tracking_config.tracking_uri, error)) from None
    return client


def _check_writable(database):
    folder = database.parent
    if database.exists() and not database.is_file():
        raise TrackingError(
            f"The SQLite store {database} is a folder, not a database file: point "
            "tracking_uri in mlflow.yaml (or MLFLOW_TRACKING_URI) at a file."
        )
    target = database if database.exists() else folder
    if target.exists() and not os.access(target, os.W_OK):
        raise TrackingError(
            f"Cannot write the MLflow store: {target} is read-only for this user. Make it "
            "writable, or point tracking_uri in mlflow.yaml (or MLFLOW_TRACKING_URI) elsewhere."
        )


def _store_error(tracking_uri, error):
    text = str(error).strip().splitlines()
    reason = text[0] if text else type(error).__name__
    if "file is not a database" in str(error):
        return (
            f"{tracking_uri} is not an MLflow SQLite database (file is not a database). Point "
            "tracking_uri in mlflow.yaml (or MLFLOW_TRACKING_URI) at another file, or move "
            "this one away."
        )
    if "readonly database" in str(error) or "unable to open database" in str(error):
        return (
            f"Cannot write the MLflow store {tracking_uri} ({reason[:200]}). Make the file "
            "and its folder writable, or point tracking_uri elsewhere."
        )
    return f"The MLflow store {tracking_uri} cannot be used: {type(error).__name__}: {reason[:300]}"


def ensure_experiment(client, tracking, name):
    """The MLflow experiment id of a named experiment, created (or restored) if needed."""
    experiment_name = tracking.experiment_name(name)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        location = None
        if tracking.artifact_root is not None:
            location = pathlib.Path(tracking.artifact_root, name).as_uri()
        try:
            return client.create_experiment(
                experiment_name,
                location,
                tags={schema.EXPERIMENT_KIND: schema.MODEL_TRAINING_KIND},
            )
        except Exception:
            # Another driver created it at the same moment: use theirs.
            experiment = client.get_experiment_by_name(experiment_name)
            if experiment is None:
                raise
            return experiment.experiment_id
    if experiment.lifecycle_stage == "deleted":
        client.restore_experiment(experiment.experiment_id)
    if schema.EXPERIMENT_KIND not in experiment.tags:  # made before experiments had a kind
        client.set_experiment_tag(
            experiment.experiment_id, schema.EXPERIMENT_KIND, schema.MODEL_TRAINING_KIND
        )
    return experiment.experiment_id


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
    if keras.backend.backend() == "jax":
        import jax

        tags["version.jax"] = jax.__version__
    try:
        import tensorboard

        tags["version.tensorboard"] = tensorboard.__version__
    except ImportError:
        pass
    return tags


@functools.lru_cache(maxsize=1)
def source_tags():
    """Who ran which command from which commit, as MLflow's source tags.

    MLflow's own context tags (`mlflow.user`, `mlflow.source.type`, ...), with the
    source named by the command (MLflow names the entry file, `__main__.py`), the
    repository's commit and branch (read from this package's checkout, whatever the
    entry point), and `git.dirty`: whether tracked files had uncommitted changes, so a
    run from an edited tree is not taken for the commit's. No git tags outside a checkout.
    """
    from mlflow.tracking.context import registry

    tags = {
        k: v for k, v in registry.resolve_tags({}).items() if not k.startswith("mlflow.source.git.")
    }
    entry = sys.argv[0] if sys.argv else ""
    if entry.endswith(os.path.join("experiments", "__main__.py")):
        tags[schema.SOURCE_NAME] = " ".join(["python -m experiments", *sys.argv[1:]])
    try:
        import git

        repo = git.Repo(pathlib.Path(__file__).resolve().parents[2])
        tags[schema.GIT_COMMIT] = repo.head.commit.hexsha
        tags[schema.GIT_DIRTY] = str(repo.is_dirty()).lower()
        if not repo.head.is_detached:
            tags[schema.GIT_BRANCH] = repo.active_branch.name
    except Exception:  # not a checkout (an installed copy, a Ray node's working_dir), no git
        pass
    return tags


SYSTEM_METRICS_INTERVAL_S = 5


def start_system_metrics(run_id):
    """Starts MLflow's system metrics monitor on a run (CPU, memory, disk, network, GPU).

    Every `SYSTEM_METRICS_INTERVAL_S` seconds a thread samples the machine with psutil
    (and NVML where a GPU is present) and logs `system/*` metrics to the run. MLflow's own
    switch turns it off: `MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING=false`.

    Returns:
        The monitor (call `finish()` when the run ends), or None when switched off.
    """
    from mlflow.environment_variables import MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING
    from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

    if (
        MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING.defined
        and not MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING.get()
    ):
        return None
    monitor = SystemMetricsMonitor(run_id, sampling_interval=SYSTEM_METRICS_INTERVAL_S)
    monitor.start()
    return monitor


def device_name():
    """The accelerator Keras trains on in this process (its name), else "CPU".

    The backend's own view: TensorFlow's GPUs on the TensorFlow backend, JAX's default
    devices on the JAX backend (each worker sees the GPUs the executor gave it).
    """
    import keras

    if keras.backend.backend() == "jax":
        import jax

        devices = [d for d in jax.devices() if d.platform != "cpu"]
        if not devices:
            return "CPU"
        name = devices[0].device_kind
        return name if len(devices) == 1 else f"{len(devices)}x {name}"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    name = details.get("device_name", gpus[0].name)
    return name if len(gpus) == 1 else f"{len(gpus)}x {name}"


def pip_requirements():
    """Pinned requirements of a logged model (its `rnn_layers` code travels with it)."""
    from importlib import metadata

    import keras

    backend = keras.backend.backend()
    packages = (
        ("keras", "jax", "jaxlib", "numpy")
        if backend == "jax"
        else ("keras", "tensorflow", "numpy")
    )
    return [f"{p}=={metadata.version(p)}" for p in packages]


def param_value(value):
    """A param/tag value as MLflow stores it: lists and dicts as JSON, the rest as str."""
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(value, sort_keys=True)
    return str(value)


DATASET_ATTEMPTS = 5


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

    def log_dataset(self, name, features, targets, context, digest):
        """Records one input dataset of the run: the runs table's Dataset column.

        Args:
            name: the dataset's name, e.g. `adding-L10-s0`.
            features, targets: a sample of it (NumPy), for the schema and profile
                MLflow shows.
            context: `"validation"`, `"test"`, ... (MLflow's `mlflow.data.context` tag).
            digest: a short fingerprint of the whole dataset.
        """
        import mlflow.data
        from mlflow.entities import DatasetInput, InputTag
        from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

        dataset = mlflow.data.from_numpy(features, targets=targets, name=name, digest=digest)
        # What the fluent `mlflow.log_input` sends, for a run given by id.
        entry = DatasetInput(
            dataset._to_mlflow_entity(), tags=[InputTag(MLFLOW_DATASET_CONTEXT, context)]
        )
        for attempt in range(DATASET_ATTEMPTS):
            try:
                self.client.log_inputs(self.run_id, datasets=[entry])
                return
            except Exception as error:
                # Grid points that share a task, length and seed share their datasets; the
                # SQL store looks a dataset up, then inserts it, so two workers logging it at
                # once collide on its unique key. The next attempt finds it and links it.
                # (SQLite: "UNIQUE constraint failed"; PostgreSQL: "violates unique constraint".)
                collided = "unique constraint" in str(error).lower()
                if not collided or attempt == DATASET_ATTEMPTS - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

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
        client.log_text(run_id, text, schema.TRACEBACK_FILE)
    finally:
        last = text.strip().splitlines()[-1] if text.strip() else "unknown error"
        client.set_tag(run_id, schema.ERROR, last[:4000])


def latest_parent_run(client, experiment_id, config_hash=None):
    """The newest parent run of an experiment's sweeps (with this config hash), or None."""
    condition = f"= '{config_hash}'" if config_hash else "!= ''"
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{schema.SWEEP_HASH}` {condition}",
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
            filter_string=f"tags.`{schema.PARENT_RUN_ID}` = '{parent_run_id}'",
            order_by=["attributes.start_time ASC"],
            max_results=1000,
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs
