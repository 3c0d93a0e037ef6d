"""What `skip_decided_lengths` saves on a grid, from the outcomes of a sweep that ran.

    python -m benchmarks.skip_savings RESULTS_CSV NAME PROFILE [PROFILE ...]

RESULTS_CSV is a sweep's `report/results.csv` (the parent run's artifact). For each
profile of the named experiment, the grid is replayed through the skipping rule
(`experiments.sweep.skipping.LengthSkipper`) with each grid point's outcome taken from the
CSV: the same model, length and seed when it is there; a point whose length was not
run (or is beyond the lengths in the CSV) counts as not solved, which is what the rule
assumes of a length after the breakdown. Each point that would run unsolved costs the
profile's whole budget; a solved one costs its `updates_to_solve` from the CSV (the
whole budget when it is not there). Prints, per profile: the grid points, how many the
rule skips, and the updates and sequence steps (updates x length, the compute) with
and without the rule.

This is an estimate for profiles other than the one that ran (their budget and width
differ, so their outcomes may too): it is exact for the profile of the CSV itself.
"""

import argparse
import math

import pandas as pd

from experiments import schema
from experiments.config import expand_grid, load_config
from experiments.sweep import skipping


def outcomes_from_results(results):
    """(model, length, seed) -> (solved, updates to solve or None), from a results table."""
    outcomes = {}
    for _, row in results.iterrows():
        if isinstance(row.get(schema.NOT_RUN), str) and row[schema.NOT_RUN]:
            continue
        solved = bool(row[schema.SOLVED] > 0.5)
        updates = row.get(schema.UPDATES_TO_SOLVE, math.nan)
        key = (str(row[schema.MODEL]), int(row[schema.LENGTH]), int(row[schema.SEED]))
        outcomes[key] = (solved, None if pd.isna(updates) else float(updates))
    return outcomes


def replay(points, outcomes, budget, *, enabled):
    """Runs the skipping rule over `points` with known outcomes; returns the cost.

    Returns:
        `(n_run, n_skipped, updates, sequence_steps)`.
    """
    skipper = skipping.LengthSkipper(points, enabled=enabled)
    pending = list(points)
    n_run = n_skipped = 0
    updates = steps = 0.0
    while pending:
        for point in pending:
            decision = skipper.decide(point)
            if decision != skipping.WAIT:
                break
        else:  # cannot happen: the shortest pending length of a curve is always decided
            raise RuntimeError("no decidable point")
        pending.remove(point)
        if decision == skipping.SKIP:
            skipper.record(point, skipping.NOT_RUN)
            n_skipped += 1
            continue
        key = (point.axes[schema.MODEL], point.axes[schema.LENGTH], point.axes[schema.SEED])
        solved, to_solve = outcomes.get(key, (False, None))
        cost = min(to_solve, budget) if solved and to_solve is not None else budget
        skipper.record(point, skipping.SOLVED if solved else skipping.NOT_SOLVED)
        n_run += 1
        updates += cost
        steps += cost * point.axes[schema.LENGTH]
    return n_run, n_skipped, updates, steps


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.skip_savings")
    parser.add_argument("results_csv")
    parser.add_argument("name")
    parser.add_argument("profiles", nargs="+")
    args = parser.parse_args(argv)
    outcomes = outcomes_from_results(pd.read_csv(args.results_csv))
    print(
        "| profile | grid points | skipped | updates without -> with the rule | "
        "sequence steps without -> with | saved |"
    )
    print("|---|---|---|---|---|---|")
    for profile in args.profiles:
        config = load_config(args.name, profile)
        points = expand_grid(config)
        budget = config.hyperparameters.epochs * config.hyperparameters.steps_per_epoch
        _, _, all_updates, all_steps = replay(points, outcomes, budget, enabled=False)
        _, skipped, updates, steps = replay(points, outcomes, budget, enabled=True)
        print(
            f"| {profile} | {len(points)} | {skipped} | {all_updates:,.0f} -> {updates:,.0f} | "
            f"{all_steps:,.0f} -> {steps:,.0f} | {1 - steps / all_steps:.0%} of the steps |"
        )


if __name__ == "__main__":
    main()
