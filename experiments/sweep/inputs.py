"""A sweep's first phase: everything that can be wrong with the input, checked before
TensorFlow loads and before anything is written."""

import dataclasses
import os

from experiments import terminal, tracking
from experiments.config import expand_grid, load_config
from experiments.errors import ConfigError, InputError
from experiments.executors import executor_class


@dataclasses.dataclass
class SweepInputs:
    """Everything `check_inputs` checked: what to run, where, and how."""

    config: object
    points: list
    task: object  # the first length's task: the sweep's metric, chance and threshold
    tracking_config: object
    executor_type: type
    workers: int
    address: str | None


def check_inputs(name, profile, overrides, workers, executor, address, tracking_config, out):
    """Phase 1: everything that can be wrong with the input, before anything is written.

    Raises:
        ConfigError, TrackingError, ValueError: naming what to change.
    """
    config = load_config(name, profile, overrides)
    points = expand_grid(config)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"--workers must be an integer >= 1; got {workers!r}.")
    executor_type = executor_class(executor)
    tracking_config = tracking_config or tracking.load_tracking_config()
    tracking.check_tracking_uri(tracking_config.tracking_uri)
    executor_type.preflight(
        workers=workers, config=config, tracking=tracking_config, address=address
    )
    backend = config.settings.backend
    shell_backend = os.environ.get("KERAS_BACKEND")
    if shell_backend and shell_backend != backend:
        out(
            f"Note: KERAS_BACKEND={shell_backend} is set, but grid points train on the sweep's "
            f"backend, {backend}: choose it with --backend (make experiment ... "
            f"BACKEND=...) or `backend:` in the config."
        )
    terminal.import_tensorflow()  # without its start-up notices
    from experiments.models import check_model_settings
    from experiments.models.factories import check_factories

    check_model_settings(config, points)
    tasks = _tasks(config, points)
    check_factories(config, points, tasks)  # layers of the user's own, on a zero batch
    task = tasks[points[0].length]
    return SweepInputs(config, points, task, tracking_config, executor_type, workers, address)


def _tasks(config, points):
    """Length -> the task built at that length (each must be valid)."""
    import datasets

    settings = config.settings
    tasks = {}
    for length in sorted({p.length for p in points}):
        try:
            tasks[length] = datasets.make(
                settings.task, length=length, seed=0, **settings.task_params
            )
        except datasets.TaskParameterError as error:
            key = "length" if error.parameter == "length" else "task_params"
            raise ConfigError(f"{config.source_of(key)}: {error}") from None
    return tasks
