"""What a run records of where it ran: libraries, device, command and commit, the machine.

- `system_tags`: the library versions, the Keras backend and the device (imports Keras).
- `source_tags`: MLflow's source tags (user, command, git commit and branch).
- `start_system_metrics`: MLflow's own monitor of CPU, memory, disk, network, GPU.
- `pip_requirements`: the pinned packages a logged model needs.
"""

import functools
import os
import pathlib
import platform
import socket
import sys

from experiments import schema


def system_tags():
    """Library versions and the device, as MLflow tags (imports TensorFlow)."""
    import keras
    import mlflow
    import numpy
    import tensorflow as tf

    version = schema.VERSION_PREFIX
    tags = {
        f"{version}python": platform.python_version(),
        f"{version}tensorflow": tf.__version__,
        f"{version}keras": keras.__version__,
        f"{version}mlflow": mlflow.__version__,
        f"{version}numpy": numpy.__version__,
        schema.KERAS_BACKEND: keras.backend.backend(),
        schema.HOST: socket.gethostname(),
        schema.DEVICE: device_name(),
    }
    if keras.backend.backend() == "jax":
        import jax

        tags[f"{version}jax"] = jax.__version__
    try:
        import tensorboard

        tags[f"{version}tensorboard"] = tensorboard.__version__
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


def start_system_metrics(run_logger):
    """Starts MLflow's system metrics monitor on a run (CPU, memory, disk, network, GPU).

    Every `SYSTEM_METRICS_INTERVAL_S` seconds a thread samples the machine with psutil
    (and NVML where a GPU is present) and keeps `system/*` metrics in the run's logger,
    which writes them with the run's own metrics (`RunLogger.keep_metrics`): no store
    round trip of its own, and kept through a tracking server's outage. (MLflow's monitor
    writes them itself and reads the run back at every sample to see whether it ended;
    one failed read, a server restarting, stops it for good.) MLflow's own switch turns
    it off: `MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING=false`.

    Args:
        run_logger: the run's `tracking.RunLogger`.

    Returns:
        The monitor (call `finish()` when the run ends), or None when switched off.
    """
    from mlflow.environment_variables import MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING

    if (
        MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING.defined
        and not MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING.get()
    ):
        return None
    monitor = _system_metrics_monitor(run_logger)
    monitor.start()
    return monitor


def _system_metrics_monitor(run_logger):
    from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

    class KeptSamples:
        """Where MLflow's monitor puts its samples (its `BatchMetricsLogger`'s place)."""

        data = ()  # what the monitor's `finish` counts: nothing is held here

        def record_metrics(self, metrics, step):
            run_logger.keep_metrics(metrics, step)

        def flush(self):
            pass  # the run's logger writes them

    class Monitor(SystemMetricsMonitor):
        """MLflow's sampling and names, samples kept in the run's logger."""

        def monitor(self):
            while not self._shutdown_event.is_set():
                for _ in range(self.samples_before_logging):
                    self.collect_metrics()
                    if self._shutdown_event.wait(self.sampling_interval):
                        return
                self.publish_metrics(self.aggregate_metrics())

    monitor = Monitor(run_logger.run_id, sampling_interval=SYSTEM_METRICS_INTERVAL_S)
    monitor.mlflow_logger = KeptSamples()
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
