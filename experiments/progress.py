"""The sweep's progress lines: one when a grid point starts, one when it ends."""

import time


def format_seconds(seconds):
    """`m:ss`, or `h:mm:ss` from an hour on."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def print_now(line):
    """Prints a line at once, also through a pipe (`| tee`)."""
    print(line, flush=True)


class Progress:
    """Counts the grid points of one sweep invocation and writes their progress lines.

    Args:
        total: the sweep's grid points.
        todo: how many of them this invocation trains (the rest were done before).
        parallel: grid points trained at once (for the ETA).
        out: a function that takes each line.
    """

    def __init__(self, total, todo, parallel, out):
        self.total = total
        self.todo = todo
        self.parallel = max(1, parallel)
        self.out = out
        self.started_at = time.monotonic()
        self.durations = []
        self.launched = 0
        self.not_run_count = 0

    def started(self, point):
        """The line of a grid point that starts: `run 3/48: vanilla L=50 seed 0 (...)`."""
        self.launched += 1
        elapsed = format_seconds(time.monotonic() - self.started_at)
        remaining = self.todo - len(self.durations) - self.not_run_count
        if self.durations:
            eta = sum(self.durations) / len(self.durations) * remaining / self.parallel
            eta_text = f"ETA {format_seconds(eta)}"
        else:
            eta_text = "ETA after the first run"
        done_before = self.total - self.todo
        self.out(
            f"run {done_before + self.launched + self.not_run_count}/{self.total}: "
            f"{point.label()}  "
            f"(elapsed {elapsed}, {eta_text})"
        )

    def ended(self, point, outcome, seconds):
        """The line of a grid point that ended, with its test metric or its error."""
        self.durations.append(seconds)
        if outcome.finished:
            self.out(
                f"  {point.name}: test {outcome.metric} {outcome.test_metric:.4g}, "
                f"{outcome.verdict}, {outcome.train_time_s:.1f}s training"
            )
        else:
            self.out(f"  {point.name}: FAILED: {outcome.error or 'unknown error'}")

    def not_run(self, point, reason):
        """The line of a grid point the sweep decided not to train."""
        self.not_run_count += 1
        done = self.total - self.todo + self.launched + self.not_run_count
        self.out(f"run {done}/{self.total}: {point.label()}  not run: {reason}")
