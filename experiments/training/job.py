"""A training job, as an executor runs it: `run_job(job)` trains its grid points into
their MLflow runs and returns one outcome per point.

A job holds one grid point, or the seeds of one grid cell trained as a group
(`group_seeds`, with the compiled loop). `run_job` runs in the driver, in a worker
process or on a Ray node. It owns its runs' content and ends each one: FINISHED (also
when the loss diverged), or FAILED with `traceback.txt` when anything raises: a point
whose own work raises fails alone, one that breaks what the group shares fails every
point of the job. An interrupt (KeyboardInterrupt / SIGTERM) is not caught here: the
driver marks the runs KILLED, whatever executor ran them.

Two failures end the whole sweep, not only the job, and reach the driver as exceptions:
`StoreUnavailable` (a tracking server that did not answer for the outage window: nothing
can be written, the driver marks the runs when it can) and `DiskFull` (the disk of a
folder the runs write is full; the job's runs are FAILED first, with their traceback
where the disk lets it be written).
"""

import dataclasses
import time
import traceback

from experiments import schema, terminal, tracking
from experiments.errors import (
    DiskFull,
    StoreUnavailable,
    find_cause,
    no_space,
    one_line,
    written_path,
)


@dataclasses.dataclass
class JobMember:
    """One grid point of a job: its point, its child run (created by the driver), its
    TensorBoard folder (or None)."""

    point: object
    run_id: str
    tb_dir: str | None


@dataclasses.dataclass
class TrainingJob:
    """Everything a worker needs to train a job's grid points (picklable).

    Attributes:
        experiment: the named experiment.
        tracking_uri: where the child runs live (resolved by the driver).
        members: the `JobMember`s, one per grid point (the seeds of a cell, in a group).
        probes: probe names for `experiments.probes.make_probes`.
        progress_every_s: a line on stdout while the job trains, at most this often
            (epoch, validation metric, time in and left); 0: none.
        outage_window_s: how long a tracking server that does not answer is ridden out
            (`outage_window_s` of `mlflow.yaml`, as the driver read it).
    """

    experiment: str
    tracking_uri: str
    members: list
    probes: list
    progress_every_s: float = 30.0
    outage_window_s: float = tracking.outage.DEFAULT_WINDOW_S

    @property
    def label(self):
        """`vanilla-L100-s0`, or `vanilla-L100-s0,s1,s2` for a group."""
        names = [member.point.name for member in self.members]
        if len(names) == 1:
            return names[0]
        seeds = ",".join(f"s{member.point.seed}" for member in self.members[1:])
        return f"{names[0]},{seeds}"


def run_job(job):
    """Trains a job's grid points into their (already created) MLflow child runs.

    Args:
        job: a `TrainingJob`.

    Returns:
        One `schema.GridPointOutcome` per member, in order: FINISHED with the test
        metric, or FAILED with the exception's line.

    Raises:
        StoreUnavailable: the tracking server did not answer for the outage window.
        DiskFull: a write found its disk full (the job's runs are FAILED).
    """
    terminal.import_tensorflow()  # a Ray worker's first job: no start-up notices
    client = tracking.configure_mlflow(job.tracking_uri, job.outage_window_s)
    began = time.perf_counter()
    for member in job.members:
        client.update_run(member.run_id, status=schema.STATUS_RUNNING)
    try:
        outcomes = _train(job, client)
    except Exception as error:  # what the job's points share broke: each of them failed
        if find_cause(error, StoreUnavailable) is not None:
            raise  # nothing can be written now: the driver marks the runs once it can
        outcomes = _all_failed(job, client, error)
    # The worker's time, shared out among the job's points (for the sweep's ETA).
    share = (time.perf_counter() - began) / len(job.members)
    for member, outcome in zip(job.members, outcomes):
        client.set_terminated(member.run_id, outcome.status)
    return [dataclasses.replace(outcome, run_time_s=share) for outcome in outcomes]


def _all_failed(job, client, error):
    """Every member FAILED with the job's traceback; raises `DiskFull` (every run ended
    first) when the error was a full disk, which stops the sweep."""
    text = "".join(traceback.format_exception(error))
    for member in job.members:
        tracking.log_traceback(client, member.run_id, text, one_line(error))
    full = no_space(error)
    if full is not None:
        for member in job.members:
            client.set_terminated(member.run_id, schema.STATUS_FAILED)
        if isinstance(full, DiskFull):
            raise full from error
        raise DiskFull(written_path(full) or "a file", one_line(full)) from error
    return [
        schema.GridPointOutcome(m.point.name, schema.STATUS_FAILED, error=one_line(error))
        for m in job.members
    ]


def _train(job, client):
    """Starts every member, trains those that started, in the job's order."""
    from experiments.training import group, keras_fit
    from experiments.training.member import start_member

    started, failures = [], {}
    for job_member in job.members:
        try:
            started.append(start_member(job, job_member, client))
        except Exception as error:
            if isinstance(error, StoreUnavailable) or no_space(error) is not None:
                raise  # the job's, not the member's: every member fails
            text = traceback.format_exc()
            tracking.log_traceback(client, job_member.run_id, text, one_line(error))
            failures[job_member.point.name] = schema.GridPointOutcome(
                job_member.point.name, schema.STATUS_FAILED, error=one_line(error)
            )
    trained = {}
    if started:
        hp = started[0].point.hyperparameters
        loop = keras_fit if hp.training_loop == "keras_fit" else group
        for member in started:
            member.logger.set_tags({schema.GROUP_SIZE: len(started)}, wait=False)
        try:
            outcomes = loop.train(job, started, {})
        finally:  # also on an interrupt (the driver then marks the runs KILLED)
            for member in started:
                member.stop_monitor()  # its last samples, while the run is still RUNNING
        trained = {outcome.run_name: outcome for outcome in outcomes}
    return [failures.get(m.point.name) or trained[m.point.name] for m in job.members]
