"""Run a named experiment's grid: one MLflow parent run, one child run per grid point.

The driver (this module, in the process that runs the CLI) owns every run's lifecycle;
executors (`experiments.executors`) only run `train.run_job` somewhere:

1. Validate the config and reach the tracking store (fast, before TensorFlow).
2. Open the store (a new SQLite database is created once, under a file lock), the
   experiment, and claim the sweep (`experiments.sweep_claim`): a second driver of the
   same sweep on the same store stops with `SweepBusy` before writing anything. Then
   the parent run: running the same command again reuses the newest parent with the same
   config hash; `--force` starts a new parent.
3. Plan: a grid point with a FINISHED child of the same config under that parent is
   skipped; every other point runs (`experiments.sweep_runs`), unless the config's
   `skip_decided_lengths` rule decides that a shorter length already failed: then its
   child run is FINISHED with the tag `not_run` and nothing is trained
   (`experiments.skipping`).
4. For each point to run, the driver creates the child run (RUNNING, named e.g.
   `vanilla-L100-s0`) and hands a `train.GridPointJob` to the executor; the job ends the
   run FINISHED or FAILED (with `traceback.txt`). A worker that dies is FAILED by the
   driver.
5. Ctrl-C / SIGTERM: the executor stops its work, the driver marks the runs in flight
   and the parent KILLED, and exits (code 130 / 143). Run the same command again to
   resume.
6. At the end, `experiments.report.write_report(parent_run_id)` draws the report, and
   the parent ends FINISHED (FAILED while grid points failed or wait on a failed one).
7. When the store fails under the driver, it stops the runs in flight, marks what the
   store still accepts FAILED and raises `SweepFailed` with one line; the same command
   resumes once the store works.

These rules live in the driver, so every executor behaves the same.
"""

import concurrent.futures
import dataclasses
import os
import signal
import tempfile
import threading
import time
import traceback

from experiments import quiet, schema, skipping, sweep_runs, tracking
from experiments.config import ConfigError, load_config
from experiments.executors import executor_class
from experiments.grid import expand_grid
from experiments.progress import Progress, print_now
from experiments.sweep_claim import SweepBusy, SweepClaim
from experiments.train import GridPointJob

__all__ = ["SweepBusy", "SweepFailed", "SweepInterrupted", "SweepResult", "run_sweep"]


class SweepFailed(RuntimeError):
    """The driver could not go on (its tracking store failed under it): one line to show."""


class SweepInterrupted(Exception):
    """Raised by the driver after Ctrl-C / SIGTERM, once the runs are marked KILLED."""

    def __init__(self, signum, message):
        super().__init__(message)
        self.signum = signum


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
    report: str | None = None
    report_error: str | None = None

    @property
    def ok(self):
        return not self.failed and not self.held_back and self.report_error is None


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
        profile: `smoke`, `quick` or `full`.
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
        SweepInterrupted: after Ctrl-C / SIGTERM (in-flight runs marked KILLED).
    """
    out = out or print_now
    # 1. Everything that can be wrong with the input, before TensorFlow loads.
    config = load_config(name, profile, overrides)
    points = expand_grid(config)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"--workers must be an integer >= 1; got {workers!r}.")
    executor_type = executor_class(executor)
    tracking_config = tracking_config or tracking.load_tracking_config()
    tracking.check_tracking_uri(tracking_config.tracking_uri)
    executor_type.preflight(
        workers=workers, config=config, tracking=tracking_config, address=address
    )

    shell_backend = os.environ.get("KERAS_BACKEND")
    if shell_backend and shell_backend != config["backend"]:
        out(
            f"Note: KERAS_BACKEND={shell_backend} is set, but grid points train on the sweep's "
            f"backend, {config['backend']}: choose it with --backend (make experiment ... "
            f"BACKEND=...) or `backend:` in the config."
        )
    quiet.import_tensorflow()  # without its start-up notices
    import datasets  # loads Keras / TensorFlow
    from experiments.models import check_model_settings

    check_model_settings(config, points)
    first_length = points[0].hparams["length"]
    for length in sorted({p.hparams["length"] for p in points}):  # every length, not the first
        try:
            made = datasets.make(config["task"], length=length, seed=0, **config["task_params"])
        except (ValueError, TypeError) as error:
            source = config.source_of("length") if "length" in str(error) else config.path
            raise ConfigError(f"{source}: {error}") from None
        if length == first_length:
            task = made  # the sweep's metric, chance and threshold

    # 2. Database, experiment, parent run: created here, before any worker starts.
    client = tracking.open_store(tracking_config)
    experiment_id = tracking.ensure_experiment(client, tracking_config, name)
    claim = SweepClaim(client, tracking_config, name, config.config_hash)
    claim.acquire()  # SweepBusy: another driver runs this sweep; nothing written yet
    try:
        pool = executor_type(
            workers=workers, config=config, tracking=tracking_config, address=address, out=out
        )
    except BaseException:
        claim.release()
        raise
    in_flight = {}  # run_id -> (point, start time): what an interrupt marks KILLED
    parent_id = None
    try:
        with _SignalsAsInterrupt() as signals:
            try:
                parent = None
                if not force:
                    parent = tracking.latest_parent_run(client, experiment_id, config.config_hash)
                if parent is not None:
                    parent_id = parent.info.run_id
                    claim.hold_parent(parent_id, created=False)
                    client.update_run(parent_id, status="RUNNING")
                    out(f"Resuming sweep {parent.info.run_name} (parent run {parent_id}).")
                else:
                    parent_id, parent_name = sweep_runs.create_parent(
                        client, experiment_id, config, task, points
                    )
                    try:
                        claim.hold_parent(parent_id, created=True)
                    except SweepBusy:
                        parent_id = None  # deleted: the other driver's parent is the sweep
                        raise
                    out(f"New sweep {parent_name} (parent run {parent_id}).")
                out(
                    f"Tracking: {tracking_config.tracking_uri}   "
                    f"TensorBoard: {tracking_config.tb_experiment_dir(name)}"
                )

                # 3. Plan: skip the points already FINISHED with the same config.
                finished, earlier = sweep_runs.existing_children(
                    client, experiment_id, parent_id, points
                )
                todo = [p for p in points if p.name not in finished]
                skipper = skipping.LengthSkipper(points, config["skip_decided_lengths"])
                by_name = {p.name: p for p in points}
                for run_name, run in finished.items():
                    skipper.record(by_name[run_name], skipping.outcome_of_run(run))
                if finished:
                    out(
                        f"Skipping {len(finished)} grid point(s) already FINISHED; "
                        f"{len(todo)} to run (--force reruns all)."
                    )
                tracking.write_hparams_config(
                    tracking_config.tb_experiment_dir(name),
                    [sweep_runs.point_params(p) for p in points],
                    task.metric,
                    axes=list(config["grid"]),
                )

                # 4. Run.
                result = SweepResult(parent_id, experiment_id, [], [], sorted(finished))
                progress = Progress(len(points), todo, pool.max_in_flight, out)
                runner = _PointRunner(client, pool, config, tracking_config, parent_id, skipper)
                runner.run(experiment_id, todo, earlier, result, in_flight, progress)

                # 5. Report and close the parent.
                client.set_tag(parent_id, schema.SWEEP_N_FAILED, str(len(result.failed)))
                n_finished = len(result.skipped) + len(result.finished)
                client.log_metric(parent_id, schema.N_FINISHED, n_finished)
                client.log_metric(parent_id, schema.N_FAILED, len(result.failed))
                n_not_run = sum(o == skipping.NOT_RUN for o in skipper.outcomes.values())
                client.log_metric(parent_id, schema.N_NOT_RUN, n_not_run)
                result.report, result.report_error = _write_report(
                    client, parent_id, out, tracking_config
                )
                # A sweep with grid points still to run is not FINISHED: the same command
                # resumes it.
                complete = not result.failed and not result.held_back
                status = schema.STATUS_FINISHED if complete else schema.STATUS_FAILED
                tracking.end_run(client, parent_id, status)
            except SweepBusy:
                raise  # nothing of this driver's is RUNNING
            except KeyboardInterrupt:
                signum = signals.signum or signal.SIGINT
                pool.interrupt()
                killed, _ = sweep_runs.end_runs(client, in_flight, schema.STATUS_KILLED)
                if parent_id is not None:
                    tracking.end_run(client, parent_id, schema.STATUS_KILLED)
                message = (
                    f"Interrupted ({signal.Signals(signum).name}): {len(killed)} run(s) in "
                    f"flight marked KILLED ({', '.join(killed) or 'none'}); parent run KILLED. "
                    "Run the same command again to resume."
                )
                out(message)
                raise SweepInterrupted(signum, message) from None
            except Exception as error:
                # The driver itself broke (e.g. the tracking server went away, the disk is
                # full): leave nothing RUNNING that the store lets us end, and say in one
                # line what happened and how to resume.
                pool.interrupt()
                names, unmarked = sweep_runs.end_runs(client, in_flight, schema.STATUS_FAILED)
                if parent_id is not None:
                    try:
                        tracking.end_run(client, parent_id, schema.STATUS_FAILED)
                    except Exception:
                        unmarked.append("the parent run")
                raise SweepFailed(_driver_failure(error, names, unmarked)) from error
    finally:
        pool.shutdown()
        claim.release()

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
    return result


class _PointRunner:
    """Hands the grid points to the executor and records how each ended.

    With `skip_decided_lengths`, a point is handed over only once the skipping rule has
    decided it (`experiments.skipping`); a point it skips gets a FINISHED child run
    tagged `not_run` and no training.
    """

    def __init__(self, client, executor, config, tracking_config, parent_id, skipper):
        self.client = client
        self.executor = executor
        self.config = config
        self.tracking_config = tracking_config
        self.parent_id = parent_id
        self.skipper = skipper

    def run(self, experiment_id, todo, earlier, result, in_flight, progress):
        """Runs `todo`; fills `result` and keeps `in_flight` (run id -> point) current."""
        queue = list(todo)
        futures = {}
        while queue or futures:
            while queue and len(in_flight) < self.executor.max_in_flight:
                ready = self._next_decided(queue)
                if ready is None:
                    break  # the rest wait for runs in flight
                point, decision = ready
                queue.remove(point)
                run_id = sweep_runs.create_child(
                    self.client,
                    self.config,
                    experiment_id,
                    self.parent_id,
                    point,
                    earlier.get(point.name, []),
                )
                if decision == skipping.SKIP:
                    sweep_runs.mark_not_run(self.client, run_id, skipping.NOT_RUN_REASON)
                    self.skipper.record(point, skipping.NOT_RUN)
                    result.not_run.append(point.name)
                    progress.not_run(point, skipping.NOT_RUN_REASON)
                    continue
                progress.started(point)
                in_flight[run_id] = (point, time.monotonic())
                futures[self.executor.submit(self._job(point, run_id))] = run_id
            if not futures:
                # What still waits, waits on a failed run: the next invocation retries it.
                result.held_back.extend(point.name for point in queue)
                return
            done, _ = concurrent.futures.wait(
                list(futures), return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in done:
                run_id = futures.pop(future)
                point, began = in_flight.pop(run_id)
                outcome = self._outcome(future, run_id, point)
                (result.finished if outcome.finished else result.failed).append(point.name)
                if not outcome.finished:
                    self.skipper.record(point, skipping.FAILED)
                else:
                    solved = outcome.solved and not outcome.diverged
                    self.skipper.record(point, skipping.SOLVED if solved else skipping.NOT_SOLVED)
                progress.ended(point, outcome, time.monotonic() - began)

    def _next_decided(self, queue):
        """The first queued point the skipping rule has decided, with its decision."""
        for point in queue:
            decision = self.skipper.decide(point)
            if decision != skipping.WAIT:
                return point, decision
        return None

    def _job(self, point, run_id):
        return GridPointJob(
            experiment=self.config.name,
            tracking_uri=self.tracking_config.tracking_uri,
            run_id=run_id,
            run_name=point.name,
            hparams=point.hparams,
            task_params=point.task_params,
            probes=list(self.config["probes"]),
            tb_dir=self.tracking_config.tb_run_dir(self.config.name, point.name),
        )

    def _outcome(self, future, run_id, point):
        try:
            return future.result()
        except Exception as error:  # the worker itself died (or the executor failed)
            text = "".join(traceback.format_exception(error))
            tracking.log_traceback(self.client, run_id, text)
            tracking.end_run(self.client, run_id, schema.STATUS_FAILED)
            return schema.GridPointOutcome(
                point.name,
                schema.STATUS_FAILED,
                error=f"worker failed: {type(error).__name__}: {error}",
            )


def _driver_failure(error, names, unmarked):
    """One line for a driver that cannot go on; the traceback goes to a file."""
    reason = (str(error).strip().splitlines() or [""])[0][:300]
    try:
        with tempfile.NamedTemporaryFile(
            "w", prefix="vrl-sweep-error-", suffix=".txt", delete=False
        ) as file:
            file.write("".join(traceback.format_exception(error)))
        details = f" Traceback: {file.name}."
    except OSError:
        details = ""
    stopped = f" {len(names)} run(s) in flight stopped" if names else ""
    left = (
        f"; {', '.join(unmarked)} could not be marked FAILED and stay RUNNING until the "
        "next run of this command replaces them"
        if unmarked
        else ""
    )
    return (
        f"The sweep stopped: {type(error).__name__}: {reason}.{stopped}{left}. When the "
        "tracking store works again (server running, disk space free), run the same "
        f"command to resume.{details}"
    )


def _write_report(client, parent_id, out, tracking_config):
    """Calls `experiments.report.write_report`; a report error does not lose the runs."""
    from experiments import report

    try:
        summary = report.write_report(parent_id, client=client, tracking_config=tracking_config)
    except Exception as error:
        text = traceback.format_exc()
        line = f"{type(error).__name__}: {error}"
        out(
            f"Report failed ({line}); the runs are logged. "
            "Redraw with `python -m experiments report`."
        )
        out(text)
        client.set_tag(parent_id, schema.REPORT_ERROR, line[:4000])
        return None, line
    return summary, None  # write_report prints the summary itself
