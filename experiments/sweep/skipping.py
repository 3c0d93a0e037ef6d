"""Skipping lengths that are already decided (the config key `skip_decided_lengths`).

Once every seed of a curve has failed a length at every learning rate, a longer length
of the same task will fail too: the sweep trains one longer length, so the plateau shows
in the plot, and records the rest as not run. A curve is a model variant with every
other grid axis but the length, the seed and the rate (the same grouping as the report's
curves).

The rule, per curve, with its lengths in ascending order L_0 < L_1 < ...:

- the breakdown k* is the first index whose every seed finished and none solved, at
  every rate;
- points at indices above k* + 1 are not run;
- a point at index k is skipped as soon as some length at index k - 2 or below failed on
  every seed (k* can then only be that index or earlier), and runs once every point of
  its curve at indices up to k - 2 has finished with no such length. A point
  that waits on a FAILED run waits for the run that retries it (the next invocation of
  the same command), so a failure never changes what is skipped.

The decision depends only on outcomes, never on timing, so a resumed sweep, one with
more workers, and one that never broke skip the same points. With the key off every
point is decided at once.
"""

import collections
import json

from experiments import schema

NOT_RUN_REASON = "a shorter length failed"

RUN, SKIP, WAIT = "run", "skip", "wait"

# What is known of a grid point.
SOLVED, NOT_SOLVED, FAILED, NOT_RUN = "solved", "not solved", "failed", "not run"


# Not a curve's axes: what a curve runs over (the length) and what each of its cells
# chooses among or pools (the learning rate, chosen on validation; the seeds).
NOT_CURVE_AXES = (schema.LENGTH, schema.SEED, schema.LEARNING_RATE)


def curve_key(point):
    """The point's curve: every grid axis but the length, the seed and the learning rate."""
    return tuple(
        (axis, json.dumps(value, sort_keys=True))
        for axis, value in sorted(point.axes.items())
        if axis not in NOT_CURVE_AXES
    )


class LengthSkipper:
    """Decides which grid points to train, skip or hold back, from the outcomes so far.

    Args:
        points: the sweep's grid points.
        enabled: the config's `skip_decided_lengths`; when False every point runs.

    Example:

    >>> skipper = LengthSkipper(points, enabled=True)
    >>> skipper.record(point, SOLVED)    # or NOT_SOLVED, FAILED, NOT_RUN
    >>> skipper.decide(other_point)      # "run", "skip" or "wait"
    """

    def __init__(self, points, enabled=True):
        self.enabled = enabled
        self.outcomes = {}
        self._curve = {}
        self._index = {}
        by_curve = collections.defaultdict(list)
        for point in points:
            key = curve_key(point)
            self._curve[point.name] = key
            by_curve[key].append(point)
        # curve -> [names of the points at each length index]
        self._levels = {}
        for key, members in by_curve.items():
            lengths = sorted({point.axes[schema.LENGTH] for point in members})
            levels = [[] for _ in lengths]
            for point in members:
                index = lengths.index(point.axes[schema.LENGTH])
                self._index[point.name] = index
                levels[index].append(point.name)
            self._levels[key] = levels

    def record(self, point, outcome):
        """Records what is known of a point: `SOLVED`, `NOT_SOLVED`, `FAILED` or `NOT_RUN`."""
        if outcome not in (SOLVED, NOT_SOLVED, FAILED, NOT_RUN):
            raise ValueError(f"unknown outcome {outcome!r}")
        self.outcomes[point.name] = outcome

    def _breakdown(self, levels, below):
        """The first index < `below` whose every seed is known to have failed, or None."""
        for index, names in enumerate(levels[:below]):
            if all(self.outcomes.get(name) == NOT_SOLVED for name in names):
                return index
        return None

    def decide(self, point):
        """`RUN`, `SKIP` (a shorter length failed) or `WAIT` (not decided yet, or waiting
        on a failed run)."""
        if not self.enabled or point.name not in self._index:
            return RUN  # an extra seed (`sweep.seeds`) runs once its cell asked for it
        index = self._index[point.name]
        levels = self._levels[self._curve[point.name]]
        if index < 2:
            return RUN
        # A length at index k - 2 or below that every seed failed decides a skip, whatever
        # the other lengths give (the breakdown can only move earlier).
        if self._breakdown(levels, index - 1) is not None:
            return SKIP
        needed = [name for names in levels[: index - 1] for name in names]
        if any(self.outcomes.get(name, FAILED) == FAILED for name in needed):
            return WAIT
        return RUN


def outcome_of_run(run):
    """What a FINISHED child run says of its grid point (for a resumed sweep)."""
    if run.data.tags.get(schema.NOT_RUN):
        return NOT_RUN
    solved = run.data.metrics.get(schema.SOLVED)
    return SOLVED if solved is not None and solved > 0.5 else NOT_SOLVED
