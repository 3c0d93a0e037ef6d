"""More seeds where a verdict is close (the config keys `max_seeds` and `seed_margin`).

A cell (a curve at one length) is judged at its learning rate (the one its runs did best
with on validation, `report.rates`) by its seeds' test metrics: solved when at least half
of them reached the threshold. The grid's seeds decide a cell that is unanimous and
clear; they do not decide one whose seeds split (one seed flips "at least half") or
where a seed sits within `seed_margin` of the threshold (relative: 0.2 is within 20 % of
it). Such a cell gets more seeds, at its chosen rate, until the seeds still allowed
(`max_seeds` in all) could no longer flip its verdict (at `max_seeds` a majority decides,
a tie counting as solved). With `max_seeds` off, an open cell stays *undecided*, and the
report says so (`report.verdicts`).

The extra seeds are the integers after the grid's largest seed, added a few at a time:
as many as the closest verdict needs to be settled. What is added depends only on the
outcomes, never on timing, so a resumed sweep adds the same seeds.
"""

import dataclasses
import math

from experiments import schema
from experiments.config.grid import point_with_seed
from experiments.report.rates import best_rate
from experiments.report.verdicts import MORE, is_marginal, verdict_state

# The axes a cell's members differ in (one job trains them through one program); every other
# axis names the cell.
MEMBER_AXES = (schema.SEED, schema.LEARNING_RATE)


@dataclasses.dataclass
class SeedPlan:
    """The extra seeds a sweep may add (off when `max_seeds` <= the grid's seeds).

    Attributes:
        grid_seeds: the grid's seeds.
        max_seeds: the most seeds a cell may have.
        margin: `seed_margin`.
    """

    grid_seeds: list
    max_seeds: int
    margin: float

    @property
    def enabled(self):
        return self.max_seeds > len(self.grid_seeds)

    def extra_seeds(self):
        """The seeds after the grid's, in the order they are added."""
        start = max(self.grid_seeds) + 1
        return list(range(start, start + max(0, self.max_seeds - len(self.grid_seeds))))

    def next_seeds(self, have, count):
        """The next `count` extra seeds after those in `have`."""
        return [seed for seed in self.extra_seeds() if seed not in have][:count]


@dataclasses.dataclass
class CellResult:
    """What the decider knows of one trained grid point."""

    lr: float
    seed: int
    solved: bool
    test_metric: float
    val_metric: float


class SeedDecider:
    """Adds seeds to the cells whose grid seeds leave their verdict open.

    Args:
        config: the `ExperimentConfig` (to build the extra points).
        points: the sweep's grid points.
        info: the sweep's `schema.SweepInfo` (threshold, direction).

    Example:

    >>> decider = SeedDecider(config, points, info)
    >>> decider.record(point, result)          # as each point ends (or was done before)
    >>> decider.extra_points(decider.cell_of(point))  # [] or the seeds to train next
    """

    def __init__(self, config, points, info):
        settings = config.settings
        grid_seeds = list(settings.grid[schema.SEED])
        self.plan = SeedPlan(grid_seeds, settings.max_seeds, settings.seed_margin)
        self.config, self.info = config, info
        self.cells = {}
        for point in points:
            self.cells.setdefault(self.cell_of(point), []).append(point)
        self.results = {}

    @staticmethod
    def cell_of(point):
        """A cell: every axis but the seed and the learning rate."""
        return tuple(sorted((k, repr(v)) for k, v in point.axes.items() if k not in MEMBER_AXES))

    def record(self, point, result):
        """What a grid point gave (a `CellResult`), or None when it failed or was not run."""
        self.results[point.name] = result

    def potential_points(self):
        """Every extra point any cell could get, at any rate (to find those trained before)."""
        extras = self.plan.extra_seeds()
        return [
            point_with_seed(self.config, point, seed)
            for points in self.cells.values()
            for point in points
            if point.seed == self.plan.grid_seeds[0]
            for seed in extras
        ]

    def state(self, cell):
        """`(state, more, rate, points at the rate)`, or None while a point of the cell has
        no result yet (or failed: its retry decides)."""
        points = self.cells[cell]
        if any(self.results.get(p.name) is None for p in points):
            return None
        results = [self.results[p.name] for p in points]
        rates = sorted({r.lr for r in results})
        grid = [vars(r) for r in results if r.seed in self.plan.grid_seeds]
        rate = rates[0] if len(rates) == 1 else best_rate(grid, self.info)
        at_rate = [p for p, r in zip(points, results) if r.lr == rate]
        chosen = [self.results[p.name] for p in at_rate]
        threshold = self.info.solved_threshold
        marginal = [is_marginal(r.test_metric, threshold, self.plan.margin) for r in chosen]
        state, more = verdict_state([r.solved for r in chosen], marginal, self.plan.max_seeds)
        return state, more, rate, at_rate

    def extra_points(self, cell):
        """The points to add to `cell` now (added to it), or []."""
        known = self.state(cell) if self.plan.enabled else None
        if known is None or known[0] != MORE:
            return []
        _, more, _, at_rate = known
        seeds = self.plan.next_seeds({p.seed for p in at_rate}, more)
        new = [point_with_seed(self.config, at_rate[0], seed) for seed in seeds]
        self.cells[cell].extend(new)
        return new


EXTRA_REASON = "its seeds split, or sit near the threshold, at its chosen rate"


def result_of_outcome(point, outcome):
    """A `CellResult` of a point that ended (None when it failed: its retry decides)."""
    if not outcome.finished:
        return None
    lr = point.hyperparameters.lr
    solved = outcome.solved and not outcome.diverged
    return CellResult(lr, point.seed, solved, outcome.test_metric, outcome.val_metric)


def result_of_run(run, info):
    """A `CellResult` of a FINISHED child run (a resumed sweep), or None (not run)."""
    if run.data.tags.get(schema.NOT_RUN):
        return None
    metrics, params = run.data.metrics, run.data.params
    return CellResult(
        float(params[schema.LEARNING_RATE]),
        int(params[schema.SEED]),
        metrics.get(schema.SOLVED, 0.0) > 0.5,
        metrics.get(schema.test_metric_name(info.metric), math.nan),
        metrics.get(f"val_{info.metric}", math.nan),
    )
