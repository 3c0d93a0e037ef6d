"""Run a named experiment's grid: one MLflow parent run, one child run per grid point.

The driver (this module and `sweep.scheduler`, in the process that runs the CLI) alone
writes the runs' status: it creates each child run RUNNING, ends it with the status of the
outcome its job returned (FINISHED, or FAILED), and marks KILLED or FAILED the runs no job
ended (a worker that died, an interrupt, a sweep that stops). Executors
(`experiments.executors`) only run `training.run_job` somewhere; a job writes its runs'
content. A sweep goes through these phases, each a function below:

1. `check_inputs` (`sweep.inputs`): the config, the grid, the executor and the tracking
   store, all that can be wrong with the input, before TensorFlow loads and before
   anything is written.
2. `open_store` (in `run_sweep`): the store (a new SQLite database is created once, under
   a file lock), the experiment, and the claim (`sweep.claim`): a second driver of the
   same sweep on the same store stops with `SweepBusy` before writing anything.
3. `Sweep.open_parent`: running the same command again reuses the newest parent with the
   same config hash; `--force` starts a new parent.
4. `Sweep.plan`: a grid point with a FINISHED child of the same config under that parent
   is skipped; every other point runs (`sweep.runs`), unless `skip_decided_lengths`
   decides that a shorter length already failed (`sweep.skipping`).
5. `Sweep.train`: for each point to run, the driver creates the child run (RUNNING) and
   hands a `training.TrainingJob` to the executor (`sweep.scheduler`); the job returns
   each point's outcome (a failed one with `traceback.txt` on its run) and the driver
   ends the run with it. A worker that dies fails its points the same way
   (`tracking.record_failure`).
6. `Sweep.finish`: the report (`experiments.report.write_report`), and the parent ends
   FINISHED (FAILED while grid points failed or wait on a failed one).

Ctrl-C / SIGTERM: the executor stops its work, the driver marks the runs in flight and
the parent KILLED and raises `SweepInterrupted` (exit 130 / 143). When the store fails
under the driver, it stops the runs in flight, marks what the store still accepts FAILED
and raises `SweepFailed` with one line. Either way the same command resumes. These rules
live in the driver, so every executor behaves the same.

A tracking server that stops answering is ridden out for `outage_window_s` (mlflow.yaml;
`tracking.outage`): training goes on, the runs keep what they log, the driver retries its
own writes and says once that the store is gone and once that it is back. Past the
window the sweep stops; the runs in flight are marked FAILED as soon as the store answers
(the driver waits one more window for it), or by the next run of the same command. A full
disk under the artifact or TensorBoard root stops the sweep in one line naming the folder.
"""

import dataclasses
import signal
import threading
import traceback

from experiments import schema, terminal, tracking
from experiments.errors import (
    StoreUnavailable,
    SweepBusy,
    SweepFailed,
    SweepInterrupted,
    find_cause,
    one_line,
    sweep_stopper,
)
from experiments.sweep import runs, seeds, skipping
from experiments.sweep.claim import SweepClaim
from experiments.sweep.inputs import check_inputs
from experiments.sweep.progress import Progress
from experiments.sweep.scheduler import PointScheduler
from experiments.sweep.stops import stop_line
from experiments.terminal import format_seconds


@dataclasses.dataclass
class SweepResult:
    """What a sweep did.

    Attributes:
        parent_run_id: the parent MLflow run.
        experiment_id: the MLflow experiment.
        finished: run names that finished in this invocation.
        failed: run names that failed in this invocation.
        skipped: run names already FINISHED before (resume).
        not_run: run names this invocation decided not to train (`skip_decided_lengths`).
        held_back: run names not decided because a shorter length's run failed; the next
            invocation, which retries that run, decides them.
        extra_seeds: run names of the seeds this invocation added to cells whose verdict
            was open (`max_seeds`).
        report: the report's terminal summary (or None).
        report_error: the report's error line when it raised (or None).
    """

    parent_run_id: str
    experiment_id: str
    finished: list
    failed: list
    skipped: list
    not_run: list = dataclasses.field(default_factory=list)
    held_back: list = dataclasses.field(default_factory=list)
    extra_seeds: list = dataclasses.field(default_factory=list)
    report: str | None = None
    report_error: str | None = None

    @property
    def ok(self):
        return not self.failed and not self.held_back and self.report_error is None


def run_sweep(
    name,
    profile="quick",
    overrides=(),
    *,
    workers=1,
    executor="local",
    address=None,
    force=False,
    tracking_config=None,
    out=None,
):
    """Runs (or resumes) a named experiment's sweep.

    Args:
        name: the named experiment (`experiments/configs/<name>.yaml`).
        profile: a profile of the config (`config.PROFILES`: smoke, quick, long, full).
        overrides: `--set` strings (`"lr=0.01"`).
        workers: grid points trained at the same time.
        executor: a name in `experiments.executors.EXECUTORS`.
        address: the executor's cluster address (Ray), or None.
        force: start a new parent run and train every grid point again.
        tracking_config: a `tracking.TrackingConfig`; default from `mlflow.yaml`.
        out: a function that takes each progress line (default: print, flushed).

    Returns:
        A `SweepResult`.

    Raises:
        ConfigError, TrackingError, ValueError: bad input (before any run starts).
        SweepBusy: another driver runs this sweep on this store (nothing written).
        SweepInterrupted: after Ctrl-C / SIGTERM (in-flight runs marked KILLED).
        SweepFailed: the store failed under the driver (one line).
    """
    out = out or terminal.print_now
    inputs = check_inputs(
        name, profile, overrides, workers, executor, address, tracking_config, out
    )
    client = tracking.open_store(inputs.tracking_config, out=out)
    experiment_id = tracking.ensure_experiment(client, inputs.tracking_config, name)
    claim = SweepClaim(client, inputs.tracking_config, name, inputs.config.config_hash)
    claim.acquire()  # SweepBusy: another driver runs this sweep; nothing written yet
    try:
        pool = inputs.executor_type(
            workers=workers,
            config=inputs.config,
            tracking=inputs.tracking_config,
            address=address,
            out=out,
        )
    except BaseException:
        claim.release()
        raise
    try:
        result = Sweep(inputs, client, experiment_id, claim, pool, out).run(force)
    finally:
        pool.shutdown()
        claim.release()
    _say_what_waits(result, out)
    return result


class _SignalsAsInterrupt:
    """Within the block, SIGTERM raises KeyboardInterrupt like Ctrl-C does."""

    def __init__(self):
        self.signum = None

    def _handler(self, signum, frame):
        if self.signum is not None:
            return  # already stopping: let the clean-up finish
        self.signum = signum
        raise KeyboardInterrupt

    def __enter__(self):
        self._previous = {}
        if threading.current_thread() is threading.main_thread():  # signal.signal needs it
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        return False


class Sweep:
    """One invocation of a sweep on an open store, with the claim held (phases 3 to 6)."""

    def __init__(self, inputs, client, experiment_id, claim, pool, out):
        self.inputs = inputs
        self.config = inputs.config
        self.client = client
        self.experiment_id = experiment_id
        self.claim = claim
        self.pool = pool
        self.out = out
        self.parent_id = None
        self.parent_name = None
        self.in_flight = {}  # run_id -> (point, start time): what an interrupt marks KILLED

    def run(self, force):
        """Phases 3 to 6, with the failure rules of the module docstring."""
        with _SignalsAsInterrupt() as signals:
            try:
                self.open_parent(force)
                finished, earlier, skipper, decider = self.plan()
                result = self.train(finished, earlier, skipper, decider)
                self.finish(result, skipper)
                return result
            except SweepBusy:
                raise  # nothing of this driver's is RUNNING
            except KeyboardInterrupt:
                raise self._interrupted(signals.signum or signal.SIGINT) from None
            except Exception as error:
                raise self._failed(error) from error

    def open_parent(self, force):
        """Phase 3: the newest parent run of this config (resume), or a new one."""
        client, config, tracking_config = self.client, self.config, self.inputs.tracking_config
        parent = None
        if not force:
            parent = tracking.latest_parent_run(client, self.experiment_id, config.config_hash)
        if parent is not None:
            self.parent_id, self.parent_name = parent.info.run_id, parent.info.run_name
            self.claim.hold_parent(self.parent_id, created=False)
            client.update_run(self.parent_id, status=schema.STATUS_RUNNING)
            self.out(f"Resuming sweep {parent.info.run_name} (parent run {self.parent_id}).")
        else:
            parent_id, parent_name = runs.create_parent(
                client, self.experiment_id, config, self.inputs.task, self.inputs.points
            )
            # SweepBusy here: the claim deleted our parent, the other driver's is the sweep.
            self.claim.hold_parent(parent_id, created=True)
            self.parent_id, self.parent_name = parent_id, parent_name
            self.out(f"New sweep {parent_name} (parent run {parent_id}).")
        self.out(
            f"Tracking: {tracking_config.tracking_uri}   "
            f"TensorBoard: {tracking_config.tb_experiment_dir(config.name)}"
        )

    def plan(self):
        """Phase 4: what is done, what was tried before, the skipping rule's state, and the
        extra seeds' (`sweep.seeds`)."""
        points = self.inputs.points
        info = runs.sweep_info(self.config, self.inputs.task)
        decider = seeds.SeedDecider(self.config, points, info)
        finished, earlier = runs.existing_children(
            self.client, self.experiment_id, self.parent_id, points + decider.potential_points()
        )
        skipper = skipping.LengthSkipper(points, self.config.settings.skip_decided_lengths)
        for point in points:
            if point.name in finished:
                run = finished[point.name]
                skipper.record(point, skipping.outcome_of_run(run))
                decider.record(point, seeds.result_of_run(run, info))
        done = sum(point.name in finished for point in points)
        if done:
            self.out(
                f"Skipping {done} grid point(s) already FINISHED; "
                f"{len(points) - done} to run (--force reruns all)."
            )
        tracking.write_hparams_config(
            self.inputs.tracking_config.tb_experiment_dir(self.config.name),
            self.parent_name,  # the report's folder (made safe there): its run holds it
            [p.params() for p in points],
            self.inputs.task.metric,
            axes=list(self.config.settings.grid),
        )
        return finished, earlier, skipper, decider

    def train(self, finished, earlier, skipper, decider):
        """Phase 5: every point not done, through the executor; extra seeds where a cell's
        verdict is open."""
        points = self.inputs.points
        todo = [p for p in points if p.name not in finished]
        result = SweepResult(self.parent_id, self.experiment_id, [], [], sorted(finished))
        progress = Progress(len(points), todo, self.pool.max_in_flight, self.out)
        scheduler = PointScheduler(self, skipper, progress, result, decider, finished)
        scheduler.run(todo, earlier)
        return result

    def finish(self, result, skipper):
        """Phase 6: the counts, the report, and the parent's status."""
        client, parent_id = self.client, self.parent_id
        runs.retire_orphans(client, self.experiment_id, parent_id)
        client.set_tag(parent_id, schema.SWEEP_N_FAILED, str(len(result.failed)))
        client.log_metric(parent_id, schema.N_FINISHED, len(result.skipped) + len(result.finished))
        client.log_metric(parent_id, schema.N_FAILED, len(result.failed))
        n_not_run = sum(o == skipping.NOT_RUN for o in skipper.outcomes.values())
        client.log_metric(parent_id, schema.N_NOT_RUN, n_not_run)
        result.report, result.report_error = _write_report(
            client, parent_id, self.out, self.inputs.tracking_config
        )
        # A sweep with grid points still to run is not FINISHED: the same command resumes it.
        complete = not result.failed and not result.held_back
        tracking.end_run(
            client, parent_id, schema.STATUS_FINISHED if complete else schema.STATUS_FAILED
        )

    def _interrupted(self, signum):
        """Ctrl-C / SIGTERM: stop the work, mark the runs in flight and the parent KILLED."""
        self.pool.interrupt()
        tracking.guard_of(self.client).stop_waiting()  # the user wants out: no outage waits
        killed, _ = runs.end_runs(self.client, self.in_flight, schema.STATUS_KILLED)
        if self.parent_id is not None:
            tracking.end_run(self.client, self.parent_id, schema.STATUS_KILLED)
        message = (
            f"Interrupted ({signal.Signals(signum).name}): {len(killed)} run(s) in "
            f"flight marked KILLED ({', '.join(killed) or 'none'}); parent run KILLED. "
            "Run the same command again to resume."
        )
        self.out(message)
        return SweepInterrupted(signum, message)

    def _failed(self, error):
        """The driver itself broke (e.g. the tracking server went away, the disk is full):
        leave nothing RUNNING that the store lets us end, and say in one line what
        happened and how to resume."""
        self.pool.interrupt()
        gone = find_cause(error, StoreUnavailable)
        if gone is not None and not self._wait_to_mark_failed(gone):
            tracking.guard_of(self.client).stop_waiting(down=True)  # the claim's release too
            names = [point.name for point, _ in self.in_flight.values()]
            self.in_flight.clear()
            unmarked = [*names, "the parent run"]
            return SweepFailed(stop_line(error, names, unmarked, self.inputs.tracking_config))
        names, unmarked = runs.end_runs(self.client, self.in_flight, schema.STATUS_FAILED)
        if self.parent_id is not None:
            try:
                tracking.end_run(self.client, self.parent_id, schema.STATUS_FAILED)
            except Exception:
                unmarked.append("the parent run")
        return SweepFailed(stop_line(error, names, unmarked, self.inputs.tracking_config))

    def _wait_to_mark_failed(self, gone):
        """Past the outage window: waits one more window for the store, so that the runs
        in flight and the parent are marked FAILED as soon as it answers, not left
        RUNNING. Whether it answered."""
        guard = tracking.guard_of(self.client)
        wait_s = guard.window_s
        self.out(
            f"Stopping the sweep: {gone}. Its {len(self.in_flight)} run(s) in flight and the "
            f"parent run are marked FAILED as soon as the store answers (waiting up to "
            f"{format_seconds(wait_s)}; Ctrl-C leaves that to the next run of this command)."
        )
        try:
            answered = guard.wait_for_store(timeout=wait_s)
        except KeyboardInterrupt:
            answered = False
        if answered:
            guard.answered()
        return answered


def _say_what_waits(result, out):
    if result.failed:
        out(
            f"{len(result.failed)} grid point(s) FAILED: {', '.join(result.failed)}. Their "
            f"traceback is the run artifact {schema.TRACEBACK_FILE}; run the same command "
            "again to retry them."
        )
    if result.held_back:
        out(
            f"{len(result.held_back)} grid point(s) wait for a failed shorter length "
            f"(skip_decided_lengths): {', '.join(result.held_back)}. The same command runs "
            "or skips them after retrying it."
        )


def _write_report(client, parent_id, out, tracking_config):
    """Calls `experiments.report.write_report`; a report error does not lose the runs."""
    from experiments import report

    try:
        summary = report.write_report(parent_id, client=client, tracking_config=tracking_config)
    except Exception as error:
        if sweep_stopper(error) is not None:
            raise  # the sweep stops in one line; the same command redraws the report
        out(
            f"Report failed ({one_line(error, 4000)}); the runs are logged. "
            "Redraw with `python -m experiments report`."
        )
        out(traceback.format_exc())
        client.set_tag(parent_id, schema.REPORT_ERROR, one_line(error, 4000)[:4000])
        return None, one_line(error, 4000)
    return summary, None  # write_report prints the summary itself
