"""The sweep's progress lines, and the time it has left.

One line when a grid point starts (with the sweep's elapsed time and ETA), one when it
ends (its test metric or error). Workers add a line now and then while a long run trains
(`training.callbacks.progress_lines`).

The ETA weighs what is left by its work, not by its count: a run costs a fixed start
(building and compiling the model, the first epoch's tracing) plus time proportional to
its sequence steps (`length × updates × batch`) times its cell's relative cost per step.
Both are fitted on the runs that ended (their time in the worker, so a worker's own start
does not count as every run's), and only once runs of two different amounts of work
have ended: before that the split between start and steps is unknown, and a guess from
one short run would put its start-up cost on every run.
"""

import math
import time

from experiments.terminal import format_seconds

# Cost of one sequence step relative to a vanilla cell (measured: one Keras training step,
# B=32, H=32, T=100, TensorFlow + XLA on 2 CPU cores: vanilla 1.96 ms, LSTM 7.42, GRU 7.48).
CELL_COST = {"vanilla": 1.0, "lstm": 3.8, "gru": 3.8}


def work(point):
    """A grid point's training work in vanilla-cell sequence steps (its budget, at most)."""
    hp = point.hyperparameters
    layers = 1
    if point.kind == "deep":
        layers = len(hp.units) if isinstance(hp.units, list) else hp.num_layers
    cell = CELL_COST.get(point.kind, 1.0) * max(int(layers or 1), 1)
    return cell * point.length * hp.epochs * hp.steps_per_epoch * hp.batch_size


def fit_duration(works, seconds):
    """`(start, per_work)`: least squares `seconds ≈ start + per_work × work`, both ≥ 0.

    Needs two different amounts of work (`ValueError` otherwise).
    """
    n = len(works)
    mean_w = sum(works) / n
    mean_s = sum(seconds) / n
    spread = sum((w - mean_w) ** 2 for w in works)
    if spread <= 1e-12 * max(mean_w, 1.0) ** 2:
        raise ValueError("the start and the time per step need two different amounts of work")
    per_work = sum((w - mean_w) * (s - mean_s) for w, s in zip(works, seconds)) / spread
    per_work = max(per_work, 0.0)
    start = mean_s - per_work * mean_w
    if start < 0:  # through the origin
        start = 0.0
        per_work = sum(s * w for w, s in zip(works, seconds)) / sum(w * w for w in works)
    return start, per_work


class Progress:
    """Counts the grid points of one sweep invocation and writes their progress lines.

    Args:
        total: the sweep's grid points.
        todo: the grid points this invocation trains (the rest were done before).
        parallel: grid points trained at once (for the ETA).
        out: a function that takes each line.
    """

    def __init__(self, total, todo, parallel, out):
        self.total = total
        self.todo = len(todo)
        self.waiting = {point.name: work(point) for point in todo}
        self.parallel = max(1, parallel)
        self.out = out
        self.started_at = time.monotonic()
        self.running = {}  # name -> (work, start time)
        self.ended_work = []
        self.ended_seconds = []
        self.launched = 0
        self.not_run_count = 0

    def eta_seconds(self, now=None):
        """Seconds left for the points waiting and running; None until runs of two
        different amounts of work have ended."""
        if len(set(self.ended_work)) < 2:
            return None
        now = time.monotonic() if now is None else now
        start, per_work = fit_duration(self.ended_work, self.ended_seconds)
        waiting = sum(start + per_work * w for w in self.waiting.values())
        running = sum(
            max(start + per_work * w - (now - began), 0.0) for w, began in self.running.values()
        )
        return (waiting + running) / self.parallel

    def started(self, point):
        """The line of a grid point that starts: `run 3/48: vanilla L=50 seed 0 (...)`."""
        self.launched += 1
        now = time.monotonic()
        self.running[point.name] = (self.waiting.pop(point.name, work(point)), now)
        elapsed = format_seconds(now - self.started_at)
        eta = self.eta_seconds(now)
        eta_text = "ETA after the first runs" if eta is None else f"ETA {format_seconds(eta)}"
        done_before = self.total - self.todo
        self.out(
            f"run {done_before + self.launched + self.not_run_count}/{self.total}: "
            f"{point.label()}  "
            f"(elapsed {elapsed}, {eta_text})"
        )

    def ended(self, point, outcome, seconds):
        """The line of a grid point that ended, with its test metric or its error."""
        point_work, _ = self.running.pop(point.name, (work(point), None))
        if outcome.finished:  # a failed run's time says nothing about the others'
            self.ended_work.append(point_work)
            in_worker = outcome.run_time_s
            self.ended_seconds.append(seconds if math.isnan(in_worker) else in_worker)
            self.out(
                f"  {point.name}: test {outcome.metric} {outcome.test_metric:.4g}, "
                f"{outcome.verdict}, {outcome.train_time_s:.1f}s training"
            )
        else:
            self.out(f"  {point.name}: FAILED: {outcome.error or 'unknown error'}")

    def add(self, points, reason):
        """Grid points added while the sweep runs (extra seeds), with the line that says why."""
        self.total += len(points)
        self.todo += len(points)
        self.waiting.update({point.name: work(point) for point in points})
        names = ", ".join(f"s{point.seed}" for point in points)
        first = points[0]
        self.out(f"  more seeds for {first.model} L={first.length} ({names}): {reason}")

    def not_run(self, point, reason):
        """The line of a grid point the sweep decided not to train."""
        self.not_run_count += 1
        self.waiting.pop(point.name, None)
        done = self.total - self.todo + self.launched + self.not_run_count
        self.out(f"run {done}/{self.total}: {point.label()}  not run: {reason}")
