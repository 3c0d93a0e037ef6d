"""Executors: where the grid points of a sweep train.

The driver (`experiments.sweep`) owns every run's lifecycle: it creates the child runs,
marks them FAILED or KILLED, skips what is done. An executor only runs
`train.run_job(job)` somewhere and hands back its `schema.GridPointOutcome`. Every
executor implements `Executor`; the runner picks one by its `--executor` name in
`EXECUTORS`:

- `local` (`executors/local.py`): in the driver's process (`--workers 1`) or in a pool
  of worker processes on this machine.
- `ray` (`executors/ray_cluster.py`): one Ray task per grid point, on a local Ray
  instance or a cluster.

Adding an executor: a module with an `Executor` subclass, and one entry in `EXECUTORS`.
"""

import abc
import importlib

# `--executor` name -> "module:class". Imported on use: Ray is an optional dependency.
EXECUTORS = {
    "local": "experiments.executors.local:LocalExecutor",
    "ray": "experiments.executors.ray_cluster:RayExecutor",
}


class Executor(abc.ABC):
    """Runs `train.run_job(job)` for the driver; one instance per sweep.

    Args:
        workers: `--workers`, grid points trained at once (a cap, for schedulers).
        config: the sweep's `config.ExperimentConfig` (its `resources`).
        tracking: the driver's `tracking.TrackingConfig`.
        address: `--address` (a cluster), or None.
        out: a function that takes notices for the user (one line each).
    """

    @classmethod
    def preflight(cls, *, workers, config, tracking, address):
        """Input checks that need no cluster, run before any MLflow run exists.

        Raises:
            ValueError: with what is wrong and what to change.
        """
        del workers, config, tracking, address  # nothing to check by default

    @property
    @abc.abstractmethod
    def max_in_flight(self):
        """How many grid points the driver keeps submitted at once."""

    @abc.abstractmethod
    def submit(self, job):
        """Starts one grid point.

        Args:
            job: a `train.GridPointJob` (its child run already created by the driver).

        Returns:
            A `concurrent.futures.Future` of `run_job(job)`'s `GridPointOutcome`; it
            raises when the job could not run at all (its worker died).
        """

    @abc.abstractmethod
    def interrupt(self):
        """Stops the grid points in flight now (Ctrl-C); the driver marks them KILLED."""

    @abc.abstractmethod
    def shutdown(self):
        """Releases the executor's processes or cluster connection."""


def executor_class(name):
    """The `Executor` class of an `--executor` name.

    Raises:
        ValueError: an unknown name (listing the known ones), or an executor whose
            optional dependency is not installed (naming what to install).
    """
    if name not in EXECUTORS:
        raise ValueError(f"Unknown executor {name!r}. Known executors: {', '.join(EXECUTORS)}.")
    module_name, attribute = EXECUTORS[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            raise ValueError(
                f"The {name!r} executor is not available ({module_name} is missing)."
            ) from None
        raise ValueError(
            f"The {name!r} executor needs the package {error.name!r}; install it "
            f"(e.g. `pip install -r requirements-{name}.txt`)."
        ) from None
    return getattr(module, attribute)
