"""Hochreiter & Schmidhuber's criterion for the adding problem, beside the MSE threshold.

Hochreiter & Schmidhuber (1997, experiment 4, Table 7) counted the adding problem solved
when the absolute error was below 0.04 on every test sequence. Every adding run logs
`test_max_abs_error`, the largest absolute error over its test set, so a run meets their
criterion when that is below `HS_MAX_ABS_ERROR`. This module tables, per curve and
length, how many seeds met it, and the horizon it gives (the same rule as the main
horizon, with their criterion for "solved").

Pure functions on results tables (`experiments.report.results`).
"""

import math

from datasets.adding import HS_MAX_ABS_ERROR
from experiments import schema
from experiments.report.horizon import format_horizon, memory_horizon, summarize
from experiments.report.text import curve_by_length_table, fmt


def applies(df, info):
    """Whether the runs are adding runs that logged their largest test error."""
    return (
        info.task == "adding"
        and schema.TEST_MAX_ABS_ERROR in df
        and df[schema.TEST_MAX_ABS_ERROR].notna().any()
    )


def meets_criterion(largest_errors, threshold=HS_MAX_ABS_ERROR):
    """Per run: whether every test sequence's absolute error was below `threshold`.

    Args:
        largest_errors: each run's largest absolute test error (NaN: diverged or unknown,
            which never meets it).
        threshold: the criterion, 0.04.

    Returns:
        A boolean array (or Series), one per run.

    Example:

    >>> meets_criterion(pd.Series([0.039, 0.04, 0.2, math.nan])).tolist()
    [True, False, False, False]
    """
    return largest_errors.astype(float) < threshold


def hs_summary(df, threshold=HS_MAX_ABS_ERROR):
    """`(summary, horizons)` under the criterion: `horizon.summarize` and
    `horizon.memory_horizon` of the runs with `solved` = met the criterion, and per curve
    and length the largest error over the seeds (`max`)."""
    judged = df.assign(
        **{
            schema.SOLVED: meets_criterion(df[schema.TEST_MAX_ABS_ERROR], threshold).astype(float),
            "test_metric": df[schema.TEST_MAX_ABS_ERROR].astype(float),
        }
    )
    summary = summarize(judged)
    return summary, memory_horizon(summary)


def hs_markdown(summary, horizons, main_horizons, threshold=HS_MAX_ABS_ERROR):
    """Markdown: seeds meeting the criterion per curve and length, then each curve's
    horizon under it beside its horizon under the MSE threshold (`main_horizons`)."""

    def cell(curve, length, row):
        if row is None:
            return "-"
        largest = "diverged" if math.isnan(row["max"]) else f"max {fmt(row['max'], 2)}"
        return f"{int(row['n_solved'])}/{int(row['n_seeds'])} ({largest})"

    title = (
        f"### Hochreiter & Schmidhuber's criterion: absolute error < {threshold:g} on every "
        "test sequence (seeds that met it / seeds, largest test error over the seeds)"
    )
    lengths = sorted(summary["length"].unique().tolist())
    lines = curve_by_length_table(title, summary, lengths, cell)
    criterion = {row["curve"]: format_horizon(row) for _, row in horizons.iterrows()}
    lines += ["", "| curve | horizon, MSE <= 0.01 | horizon, H&S criterion |", "|---|---|---|"]
    for _, row in main_horizons.iterrows():
        lines.append(
            f"| {row['curve']} | {format_horizon(row)} | {criterion.get(row['curve'], '-')} |"
        )
    lines += [
        "",
        "Their target was 0.5 + (X1 + X2) / 4 with X in [-1, 1] (a range of 1); here the "
        "target is the unscaled sum of two U[0, 1] numbers (a range of 2), so the same "
        f"{threshold:g} is twice as strict relative to the target's range.",
    ]
    return "\n".join(lines) + "\n"


def add_to_report(report):
    """The criterion's table and horizons beside the MSE's (adding runs only)."""
    if not applies(report.results, report.info):
        return
    summary, horizons = hs_summary(report.results)
    report.sections.append(hs_markdown(summary, horizons, report.horizons))
    report.tables["hs_criterion"] = summary
    for _, row in horizons.iterrows():
        report.metrics[schema.hs_horizon_metric_name(row["curve"])] = float(row["horizon"])
