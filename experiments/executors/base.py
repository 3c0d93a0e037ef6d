"""The interface every executor implements (`executors.EXECUTORS` names them)."""

import abc


class Executor(abc.ABC):
    """Runs `training.run_job(job)` for the driver; one instance per sweep.

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
        """How many jobs the driver keeps submitted at once."""

    @abc.abstractmethod
    def submit(self, job):
        """Starts one grid point.

        Args:
            job: a `training.TrainingJob` (its child runs already created by the driver).

        Returns:
            A `concurrent.futures.Future` of `run_job(job)`'s outcomes (one per member);
            it raises when the job could not run at all (its worker died).
        """

    @abc.abstractmethod
    def interrupt(self):
        """Stops the grid points in flight now (Ctrl-C); the driver marks them KILLED."""

    @abc.abstractmethod
    def shutdown(self):
        """Releases the executor's processes or cluster connection."""
