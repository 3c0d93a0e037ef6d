"""Hands a sweep's grid points to the executor and records how each ended.

With `skip_decided_lengths`, a point is handed over only once the skipping rule has
decided it (`sweep.skipping`); a point it skips gets a FINISHED child run tagged
`not_run` and no training.
"""

import concurrent.futures
import time
import traceback

from experiments import schema, tracking
from experiments.errors import one_line
from experiments.sweep import runs, skipping
from experiments.training import GridPointJob


class PointScheduler:
    """Runs the points to train through an executor, as many at once as it takes.

    Args:
        sweep: the driver's `Sweep` (its client, config, executor, parent run, and the
            runs in flight, which it marks when interrupted).
        skipper: the sweep's `skipping.LengthSkipper`.
        progress: the sweep's `progress.Progress`.
        result: the `SweepResult` to fill.
    """

    def __init__(self, sweep, skipper, progress, result):
        self.client = sweep.client
        self.executor = sweep.pool
        self.config = sweep.config
        self.tracking_config = sweep.inputs.tracking_config
        self.experiment_id = sweep.experiment_id
        self.parent_id = sweep.parent_id
        self.in_flight = sweep.in_flight  # run id -> (point, start time)
        self.skipper = skipper
        self.progress = progress
        self.result = result
        self.futures = {}

    def run(self, todo, earlier):
        """Runs `todo` (`earlier`: run name -> its earlier attempts, soft-deleted on start)."""
        queue = list(todo)
        while queue or self.futures:
            self._submit_decided(queue, earlier)
            if not self.futures:
                # What still waits, waits on a failed run: the next invocation retries it.
                self.result.held_back.extend(point.name for point in queue)
                return
            done, _ = concurrent.futures.wait(
                list(self.futures), return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in done:
                run_id = self.futures.pop(future)
                point, began = self.in_flight.pop(run_id)
                outcome = self._outcome(future, run_id, point)
                self._record(point, outcome)
                self.progress.ended(point, outcome, time.monotonic() - began)

    def _submit_decided(self, queue, earlier):
        """Hands over (or marks not run) every queued point the rule has decided, up to the
        executor's limit."""
        while queue and len(self.in_flight) < self.executor.max_in_flight:
            ready = self._next_decided(queue)
            if ready is None:
                return  # the rest wait for runs in flight
            point, decision = ready
            queue.remove(point)
            run_id = runs.create_child(
                self.client,
                self.config,
                self.experiment_id,
                self.parent_id,
                point,
                earlier.get(point.name, []),
            )
            if decision == skipping.SKIP:
                runs.mark_not_run(self.client, run_id, skipping.NOT_RUN_REASON)
                self.skipper.record(point, skipping.NOT_RUN)
                self.result.not_run.append(point.name)
                self.progress.not_run(point, skipping.NOT_RUN_REASON)
                continue
            self.progress.started(point)
            self.in_flight[run_id] = (point, time.monotonic())
            self.futures[self.executor.submit(self._job(point, run_id))] = run_id

    def _record(self, point, outcome):
        (self.result.finished if outcome.finished else self.result.failed).append(point.name)
        if not outcome.finished:
            self.skipper.record(point, skipping.FAILED)
        else:
            solved = outcome.solved and not outcome.diverged
            self.skipper.record(point, skipping.SOLVED if solved else skipping.NOT_SOLVED)

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
            point=point,
            probes=list(self.config.settings.probes),
            tb_dir=self.tracking_config.tb_run_dir(self.config.name, point.name),
        )

    def _outcome(self, future, run_id, point):
        try:
            return future.result()
        except Exception as error:  # the worker itself died (or the executor failed)
            text = "".join(traceback.format_exception(error))
            tracking.log_traceback(self.client, run_id, text, one_line(error))
            tracking.end_run(self.client, run_id, schema.STATUS_FAILED)
            return schema.GridPointOutcome(
                point.name,
                schema.STATUS_FAILED,
                error=f"worker failed: {type(error).__name__}: {error}",
            )
