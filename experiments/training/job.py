"""A training job, as an executor runs it: `run_job(job)` trains its grid points into
their MLflow runs and returns one outcome per point.

A job holds one grid point, or the seeds of one grid cell trained as a group
(`group_seeds`, with the compiled loop). `run_job` runs in the driver, in a worker
process or on a Ray node. It writes its runs' content (params, metrics, the model; the
traceback of a point that failed) and returns their outcomes; the driver writes the runs'
status (see `experiments.sweep`). A point whose own work raises fails alone; one that
breaks what the group shares fails every point of the job. An interrupt
(KeyboardInterrupt / SIGTERM) is not caught here: the driver marks the runs KILLED,
whatever executor ran them. The errors that stop the whole sweep (`errors.sweep_stopper`)
reach the driver as exceptions.
"""

import dataclasses
import time

from experiments import schema, terminal, tracking
from experiments.errors import StoreUnavailable, sweep_stopper


@dataclasses.dataclass
class PointRun:
    """One grid point of a job and where it trains into: its point, its child run (created
    by the driver), its TensorBoard folder (or None)."""

    point: object
    run_id: str
    tb_dir: str | None


@dataclasses.dataclass
class TrainingJob:
    """Everything a worker needs to train a job's grid points (picklable).

    Attributes:
        experiment: the named experiment.
        tracking_uri: where the child runs live (resolved by the driver).
        points: the `PointRun`s, one per grid point (the seeds of a cell, in a group).
        probes: probe names for `experiments.probes.make_probes`.
        progress_every_s: a line on stdout while the job trains, at most this often
            (epoch, validation metric, time in and left); 0: none.
        outage_window_s: how long a tracking server that does not answer is ridden out
            (`outage_window_s` of `mlflow.yaml`, as the driver read it).
    """

    experiment: str
    tracking_uri: str
    points: list
    probes: list
    progress_every_s: float = 30.0
    outage_window_s: float = tracking.outage.DEFAULT_WINDOW_S

    @property
    def label(self):
        """`vanilla-L100-s0`, or `vanilla-L100-s0,s1,s2` for a group."""
        names = [point_run.point.name for point_run in self.points]
        if len(names) == 1:
            return names[0]
        seeds = ",".join(f"s{point_run.point.seed}" for point_run in self.points[1:])
        return f"{names[0]},{seeds}"


def run_job(job):
    """Trains a job's grid points into their (already created) MLflow child runs.

    Args:
        job: a `TrainingJob`.

    Returns:
        One `schema.GridPointOutcome` per point, in order: FINISHED with the test metric,
        or FAILED with the exception's line (its traceback stored on the run). The runs'
        status is left to the driver, which ends each run with its outcome's.

    Raises:
        StoreUnavailable, DiskFull: the failures that stop the sweep
            (`errors.sweep_stopper`), once what can be stored of them is.
    """
    terminal.import_tensorflow()  # a Ray worker's first job: no start-up notices
    client = tracking.configure_mlflow(job.tracking_uri, job.outage_window_s)
    began = time.perf_counter()
    try:
        outcomes = _train(job, client)
    except Exception as error:  # what the job's points share broke: each of them failed
        outcomes = _all_failed(job, client, error)
    # The worker's time, shared out among the job's points (for the sweep's ETA).
    share = (time.perf_counter() - began) / len(job.points)
    return [dataclasses.replace(outcome, run_time_s=share) for outcome in outcomes]


def _all_failed(job, client, error):
    """Every point FAILED with the job's traceback; an error that stops the sweep is raised
    instead, after the tracebacks where it lets them be stored (a full disk may still let
    the store take the tags; a store gone takes nothing)."""
    stopper = sweep_stopper(error)
    if isinstance(stopper, StoreUnavailable):
        raise error
    outcomes = [tracking.record_failure(client, p.run_id, p.point.name, error) for p in job.points]
    if stopper is not None:
        raise stopper from error
    return outcomes


def _train(job, client):
    """Starts every point, trains those that started, in the job's order."""
    from experiments.training import compiled_loop, keras_fit
    from experiments.training.member import start_member

    started, failures = [], {}
    for point_run in job.points:
        try:
            started.append(start_member(job, point_run, client))
        except Exception as error:
            if sweep_stopper(error) is not None:
                raise  # the job's, not the point's: every point fails
            failures[point_run.point.name] = tracking.record_failure(
                client, point_run.run_id, point_run.point.name, error
            )
    trained = {}
    if started:
        hp = started[0].point.hyperparameters
        loop = keras_fit if hp.training_loop == "keras_fit" else compiled_loop
        for member in started:
            member.logger.set_tags({schema.GROUP_SIZE: len(started)}, wait=False)
        try:
            outcomes = loop.train(job, started, {})
        finally:  # also on an interrupt (the driver then marks the runs KILLED)
            for member in started:
                member.stop_monitor()  # its last samples, while the run is still RUNNING
        trained = {outcome.run_name: outcome for outcome in outcomes}
    return [failures.get(p.point.name) or trained[p.point.name] for p in job.points]
