"""One grid point as a job an executor runs: `run_job(job)` trains it into its MLflow run.

`run_job` is what an executor runs (in the driver, in a worker process, or on a Ray
node). It owns the child run's content and ends the run: FINISHED (also when the loss
diverged), or FAILED with `traceback.txt` when anything raises. An interrupt
(KeyboardInterrupt / SIGTERM) is not caught here: the driver marks the run KILLED,
whatever executor ran it.
"""

import dataclasses
import time
import traceback

from experiments import schema, terminal, tracking
from experiments.errors import one_line
from experiments.training.fit import train_grid_point


@dataclasses.dataclass
class GridPointJob:
    """Everything a worker needs to train one grid point (picklable).

    Attributes:
        experiment: the named experiment.
        tracking_uri: where the child run lives (resolved by the driver).
        run_id: the child run, created by the driver (status RUNNING).
        point: the `config.GridPoint` (its name is the run's name and TensorBoard folder).
        probes: probe names for `experiments.probes.make_probes`.
        tb_dir: the run's TensorBoard directory, or None.
        progress_every_s: a line on stdout while the run trains, at most this often
            (epoch, validation metric, time in and left); 0: none.
    """

    experiment: str
    tracking_uri: str
    run_id: str
    point: object
    probes: list
    tb_dir: str | None
    progress_every_s: float = 30.0

    @property
    def run_name(self):
        return self.point.name


def run_job(job):
    """Trains one grid point into its (already created) MLflow child run.

    Args:
        job: a `GridPointJob`.

    Returns:
        A `schema.GridPointOutcome`: FINISHED with the test metric, or FAILED with the
        exception's line.
    """
    terminal.import_tensorflow()  # a Ray worker's first job: no start-up notices
    client = tracking.configure_mlflow(job.tracking_uri)
    logger = tracking.RunLogger(client, job.run_id, job.tb_dir)
    began = time.perf_counter()
    client.update_run(job.run_id, status=schema.STATUS_RUNNING)
    system_metrics = tracking.start_system_metrics(job.run_id)
    try:
        outcome = dataclasses.replace(
            train_grid_point(job, logger), run_time_s=time.perf_counter() - began
        )
    except Exception as error:  # a failing grid point must not stop the sweep
        tracking.log_traceback(client, job.run_id, traceback.format_exc(), one_line(error))
        outcome = schema.GridPointOutcome(job.run_name, schema.STATUS_FAILED, error=one_line(error))
    finally:  # also on an interrupt (the driver then marks the run KILLED)
        if system_metrics is not None:
            system_metrics.finish()  # its last samples, while the run is still RUNNING
    client.set_terminated(job.run_id, outcome.status)
    return outcome
