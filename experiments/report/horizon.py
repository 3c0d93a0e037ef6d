"""The breakdown analysis: per curve and length over seeds, and each curve's memory horizon.

Pure functions on results tables (`experiments.report.results`).
"""

import math

import numpy as np
import pandas as pd

SUMMARY_COLUMNS = [
    "curve",
    "length",
    "n_seeds",
    "mean",
    "median",
    "std",
    "min",
    "max",
    "n_solved",
    "solved_fraction",
    "n_diverged",
    "mean_test_loss",
]


def summarize(df):
    """Per curve and length: seeds, mean / median / std / min / max of the test metric, solved
    seeds.

    Args:
        df: a results table (`curve`, `length`, `seed`, `test_metric`, `solved`, `diverged`).

    Returns:
        A DataFrame with columns `curve`, `length`, `n_seeds`, `mean`, `median`, `std` (ddof 0),
        `min`, `max`, `n_solved`, `solved_fraction`, `n_diverged`, `mean_test_loss`.
    """
    if df.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    grouped = df.groupby(["curve", "length"], sort=True)
    summary = grouped.agg(
        n_seeds=("seed", "size"),
        mean=("test_metric", "mean"),
        median=("test_metric", "median"),
        std=(
            "test_metric",
            lambda v: float(np.std(v.dropna(), ddof=0)) if v.notna().any() else math.nan,
        ),
        min=("test_metric", "min"),
        max=("test_metric", "max"),
        n_solved=("solved", lambda v: int(np.sum(v > 0.5))),
        n_diverged=("diverged", lambda v: int(np.sum(v > 0.5))),
        mean_test_loss=("test_loss", "mean"),
    ).reset_index()
    summary["solved_fraction"] = summary["n_solved"] / summary["n_seeds"]
    return summary[SUMMARY_COLUMNS]


def memory_horizon(summary, *, min_fraction=0.5):
    """Each curve's memory horizon, with the result at the next length.

    The rule: a length counts as solved when at least `min_fraction` of its seeds solved it
    (diverged runs count as not solved). The horizon is the longest length L such that
    every tested length up to and including L is solved: the breakdown is the first length
    that fails, and a lucky success beyond it (a non-monotone curve) does not move the
    horizon; it is reported in `longest_solved` and flagged `non_monotone`.

    Edge cases:
    - nothing solved (not even the shortest length): `horizon` = 0 and the "next length"
      is the shortest length tested;
    - everything solved: `horizon` = the longest length tested, `censored` = True (the
      true horizon is at least that), and no next length (NaN).

    Args:
        summary: the output of `summarize`.
        min_fraction: the fraction of seeds that must solve a length.

    Returns:
        A DataFrame, one row per curve: `curve`, `horizon`, `censored`, `next_length`,
        `next_solved` ("k/n"), `next_solved_fraction`, `next_mean`, `horizon_mean` (the
        metric at the horizon), `longest_solved`, `non_monotone`, `lengths` (tested).
    """
    rows = []
    for curve, group in summary.groupby("curve", sort=True):
        group = group.sort_values("length")
        lengths = group["length"].tolist()
        passed = (group["solved_fraction"] >= min_fraction).tolist()
        first_fail = next((i for i, ok in enumerate(passed) if not ok), None)
        solved_lengths = [length for length, ok in zip(lengths, passed) if ok]
        row = {
            "curve": curve,
            "horizon": 0,
            "censored": False,
            "next_length": math.nan,
            "next_solved": "",
            "next_solved_fraction": math.nan,
            "next_mean": math.nan,
            "horizon_mean": math.nan,
            "longest_solved": max(solved_lengths) if solved_lengths else 0,
            "non_monotone": False,
            "lengths": lengths,
        }
        if first_fail is None:
            row["horizon"] = lengths[-1]
            row["censored"] = True
            row["horizon_mean"] = group["mean"].iloc[-1]
        else:
            if first_fail > 0:
                row["horizon"] = lengths[first_fail - 1]
                row["horizon_mean"] = group["mean"].iloc[first_fail - 1]
            following = group.iloc[first_fail]
            row["next_length"] = following["length"]
            row["next_solved"] = f"{int(following['n_solved'])}/{int(following['n_seeds'])}"
            row["next_solved_fraction"] = following["solved_fraction"]
            row["next_mean"] = following["mean"]
            row["non_monotone"] = any(passed[first_fail:])
        rows.append(row)
    return pd.DataFrame(rows)


def format_horizon(row, at_least=">="):
    """`"100"`, `">= 200"` (everything solved) or `"< 10"` (nothing solved).

    `at_least="≥"` gives `"≥ 200"` (the MLflow description and report.html).
    """
    if row["censored"]:
        return f"{at_least} {row['horizon']:g}"
    if row["horizon"] == 0:
        return f"< {row['next_length']:g}"
    return f"{row['horizon']:g}"
