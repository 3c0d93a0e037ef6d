"""Hands a sweep's grid points to the executor, as jobs, and records how each ended.

A job is one grid point, or, with `group_seeds` and the compiled loop, the seeds and
learning rates of one grid cell (every other axis equal), trained by one program. With
`skip_decided_lengths` a job is handed over only once the skipping rule has decided its
points (the seeds of a cell are decided together); a point it skips gets a FINISHED child
run tagged `not_run` and no training.
"""

import concurrent.futures
import json
import time

from experiments import schema, tracking
from experiments.errors import one_line, sweep_stopper
from experiments.sweep import runs, seeds, skipping
from experiments.training import PointRun, TrainingJob

# How often the driver, waiting for jobs, checks whether the tracking store has been
# unreachable for longer than its outage window (no store round trip: the guard knows).
OUTAGE_CHECK_S = 1.0


def job_units(points, group_seeds):
    """The points to train, as jobs: lists of points in grid order.

    With `group_seeds`, the points of one cell (all axes but the seed and the learning
    rate equal) form one job, in the order its first point comes; without, every point is
    a job of its own.
    """
    if not group_seeds:
        return [[point] for point in points]
    cells = {}
    for point in points:
        axes = {k: v for k, v in point.axes.items() if k not in seeds.MEMBER_AXES}
        cells.setdefault(json.dumps(axes, sort_keys=True), []).append(point)
    return list(cells.values())


class PointScheduler:
    """Runs the jobs to train through an executor, as many at once as it takes.

    Args:
        sweep: the driver's `Sweep` (its client, config, executor, parent run, and the
            runs in flight, which it marks when interrupted).
        skipper: the sweep's `skipping.LengthSkipper`.
        progress: the sweep's `progress.Progress`.
        result: the `SweepResult` to fill.
        decider: the sweep's `seeds.SeedDecider` (extra seeds where a verdict is open), or
            None.
        finished: run name -> the FINISHED child of every point done before (extra seeds
            included), so that a resumed sweep adds the same seeds without training them
            again.
    """

    def __init__(self, sweep, skipper, progress, result, decider=None, finished=None):
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
        self.futures = {}  # future -> the run ids of its job, in its members' order
        self.decider = decider
        self.finished = finished or {}
        self.queue = []

    def run(self, todo, earlier):
        """Runs `todo` (`earlier`: run name -> its earlier attempts, soft-deleted on start)."""
        settings, hp = self.config.settings, self.config.hyperparameters
        grouped = settings.group_seeds and hp.training_loop == "compiled"
        self.queue = queue = job_units(todo, grouped)
        if self.decider is not None:
            self._add_seeds(list(self.decider.cells))  # cells done before, on a resume
        while queue or self.futures:
            self._submit_decided(queue, earlier)
            if not self.futures:
                # What still waits, waits on a failed run: the next invocation retries it.
                self.result.held_back.extend(point.name for unit in queue for point in unit)
                return
            done, _ = concurrent.futures.wait(
                list(self.futures),
                timeout=OUTAGE_CHECK_S,
                return_when=concurrent.futures.FIRST_COMPLETED,
            )
            tracking.guard_of(self.client).check()  # StoreUnavailable: the sweep stops
            for future in done:
                self._ended(future)

    def _submit_decided(self, queue, earlier):
        """Hands over (or marks not run) every queued job the rule has decided, up to the
        executor's limit."""
        while queue and len(self.futures) < self.executor.max_in_flight:
            ready = self._next_decided(queue)
            if ready is None:
                return  # the rest wait for jobs in flight
            unit, decision = ready
            queue.remove(unit)
            run_ids = [self._create_child(point, earlier) for point in unit]
            if decision == skipping.SKIP:
                for point, run_id in zip(unit, run_ids):
                    self._not_run(point, run_id)
                continue
            for point, run_id in zip(unit, run_ids):
                self.progress.started(point)
                self.in_flight[run_id] = (point, time.monotonic())
            self.futures[self.executor.submit(self._job(unit, run_ids))] = run_ids

    def _create_child(self, point, earlier):
        return runs.create_child(
            self.client,
            self.config,
            self.experiment_id,
            self.parent_id,
            point,
            earlier.get(point.name, []),
            extra_seed=point.seed not in self.config.settings.grid[schema.SEED],
        )

    def _not_run(self, point, run_id):
        runs.mark_not_run(self.client, run_id, point, skipping.NOT_RUN_REASON)
        self.skipper.record(point, skipping.NOT_RUN)
        self.result.not_run.append(point.name)
        self.progress.not_run(point, skipping.NOT_RUN_REASON)

    def _ended(self, future):
        run_ids = self.futures.pop(future)
        members = [(run_id, *self.in_flight[run_id]) for run_id in run_ids]
        outcomes = self._outcomes(future, members)  # raises: the runs stay in flight
        for run_id, outcome in zip(run_ids, outcomes):
            self.client.set_terminated(run_id, outcome.status)
            del self.in_flight[run_id]
        for (_, point, began), outcome in zip(members, outcomes):
            self._record(point, outcome)
            self.progress.ended(point, outcome, (time.monotonic() - began) / len(members))
        if self.decider is not None:
            self._add_seeds({self.decider.cell_of(point) for _, point, _ in members})

    def _add_seeds(self, cells):
        """Queues the extra seeds of the cells whose verdict their seeds leave open; those
        a previous invocation trained count at once."""
        for cell in sorted(cells):
            while True:
                new = self.decider.extra_points(cell)
                for point in new:
                    if point.name in self.finished:
                        run = self.finished[point.name]
                        self.decider.record(point, seeds.result_of_run(run, self.decider.info))
                to_train = [point for point in new if point.name not in self.finished]
                if to_train:
                    self.queue.append(to_train)
                    self.progress.add(to_train, seeds.EXTRA_REASON)
                    self.result.extra_seeds.extend(point.name for point in to_train)
                if to_train or not new:
                    break

    def _record(self, point, outcome):
        (self.result.finished if outcome.finished else self.result.failed).append(point.name)
        if self.decider is not None:
            self.decider.record(point, seeds.result_of_outcome(point, outcome))
        if not outcome.finished:
            self.skipper.record(point, skipping.FAILED)
        else:
            solved = outcome.solved and not outcome.diverged
            self.skipper.record(point, skipping.SOLVED if solved else skipping.NOT_SOLVED)

    def _next_decided(self, queue):
        """The first queued job the skipping rule has decided, with its decision (the points
        of a job are one cell: one decision)."""
        for unit in queue:
            decision = self.skipper.decide(unit[0])
            if decision != skipping.WAIT:
                return unit, decision
        return None

    def _job(self, unit, run_ids):
        point_runs = [
            PointRun(
                point=point,
                run_id=run_id,
                tb_dir=self.tracking_config.tb_run_dir(self.config.name, point.name),
            )
            for point, run_id in zip(unit, run_ids)
        ]
        return TrainingJob(
            experiment=self.config.name,
            tracking_uri=self.tracking_config.tracking_uri,
            points=point_runs,
            probes=list(self.config.settings.probes),
            outage_window_s=self.tracking_config.outage_window_s,
        )

    def _outcomes(self, future, members):
        try:
            return future.result()
        except Exception as error:  # the worker itself died (or the executor failed)
            if sweep_stopper(error) is not None:
                raise  # the sweep stops (`Sweep._failed`)
            reason = f"worker failed: {one_line(error)}"
            return [
                tracking.record_failure(self.client, run_id, point.name, error, reason)
                for run_id, point, _ in members
            ]
