"""The `breakdown` report, which every other kind starts from.

The test metric against dependency length per curve (`breakdown.png`), the per-run
results (`results.csv`), the statistics per curve and length (`summary.csv`), each
curve's memory horizon (`horizons.csv`, and the parent-run metric `horizon_<curve>`),
and their Markdown tables; for tasks whose metric is not the loss, the test loss beside
the memoryless baseline loss; for the adding problem, Hochreiter & Schmidhuber's criterion
beside the MSE threshold (`hs_criterion.csv`, the metric `hs_horizon_<curve>`). Then the
budget axis (`experiments.report.budget`): the
updates to solve per curve and length (`time_to_solve.csv`, `time_to_solve.png`) and
the horizon had training stopped at a fraction of the budget (`budget_horizons.csv`,
`budget_horizons.png`, the parent-run metric `budget_horizon_<curve>` with step =
updates), with one sentence per curve on whether its horizon was still growing. With a
learning-rate grid, the rate chosen per cell on validation and the horizon at every rate
(`experiments.report.rates`).
"""

import json
import math

import pandas as pd

from experiments import schema
from experiments.plots.breakdown import plot_breakdown
from experiments.plots.budget import plot_budget_horizons, plot_time_to_solve
from experiments.report import budget, hs_criterion, rates, verdicts
from experiments.report.horizon import memory_horizon, summarize
from experiments.report.text import baseline_losses, loss_table, markdown_tables, not_run_text


def add_to_report(report):
    """Adds the breakdown tables, figure, sections and horizon metrics to `report`."""
    info, df = report.info, report.results
    not_run = report.not_run if report.not_run is not None else df.iloc[:0]
    report.summary = summary = summarize(df)
    report.horizons = horizons = memory_horizon(summary)
    every_point = df
    if len(not_run):
        every_point = pd.concat([df, not_run]).sort_values(
            ["model", "length", "seed"], kind="stable"
        )
    report.tables["results"] = every_point.drop(columns=["curve"]).rename(
        columns={"test_metric": schema.test_metric_name(info.metric)}
    )
    report.tables["summary"] = summary
    report.tables["horizons"] = horizons.assign(
        lengths=horizons["lengths"].map(json.dumps) if len(horizons) else []
    )
    report.sections.append(markdown_tables(summary, horizons, info, not_run=not_run))
    if len(not_run):
        sentence = not_run_text(not_run)
        report.sections.append(sentence + "\n")
        report.terminal_sections.append(sentence)
    # Where the main metric is the loss itself (mse) the loss table would repeat it.
    if info.metric != "mse":
        losses = loss_table(summary, baseline_losses(df, info))
        if losses:
            report.sections.append(losses)
    report.figures["breakdown"] = plot_breakdown(
        summary, df, info, title=report.title, not_run=not_run
    )
    for _, row in horizons.iterrows():
        report.metrics[schema.horizon_metric_name(row["curve"])] = float(row["horizon"])
        censored = float(bool(row["censored"]))
        report.metrics[schema.horizon_censored_metric_name(row["curve"])] = censored
    add_curve_series(report)
    add_rate_choice(report)
    add_verdicts(report)
    hs_criterion.add_to_report(report)  # adding runs: Hochreiter & Schmidhuber's criterion
    add_budget_axis(report)


def add_verdicts(report):
    """How sure each horizon is: its band over seeds (a bootstrap), and the cells that took
    extra seeds or stay undecided (`verdicts.csv`, `horizon_bands.csv`)."""
    found = verdicts.cell_verdicts(report.results, report.info)
    bands = verdicts.horizon_bands(report.results)
    report.tables["verdicts"] = found
    report.tables["horizon_bands"] = pd.DataFrame(
        [{"curve": c, "low": a, "high": b} for c, (a, b) in sorted(bands.items())]
    )
    report.sections.append(verdicts.verdicts_markdown(found, bands))
    shown = ", ".join(f"{curve} {a:g}-{b:g}" for curve, (a, b) in sorted(bands.items()))
    lines = [f"Horizon bands (bootstrap over seeds, 10th-90th percentile): {shown}"]
    lines += [f"  {sentence}" for sentence in verdicts.open_sentences(found)]
    report.terminal_sections.append("\n".join(lines))


def add_rate_choice(report):
    """With a learning-rate grid: the rate chosen per cell, the horizon at every rate, the
    choices at the grid's edge (`rates.csv`, `rate_sensitivity.csv`, the parent-run metric
    `chosen_lr/<curve>` with step = length)."""
    choice = report.rate_choice
    if choice is None:
        return
    report.tables["rates"] = choice.choices
    report.tables["rate_sensitivity"] = choice.sensitivity
    report.sections.append(rates.choices_markdown(choice))
    report.terminal_sections.append(rates.terminal_lines(choice))
    for curve, group in choice.choices.groupby("curve", sort=True):
        points = [(int(n), float(lr)) for n, lr in zip(group["length"], group[rates.RATE_AXIS])]
        report.metric_series[schema.curve_metric_name(schema.CHOSEN_LR, curve)] = points


def add_curve_series(report):
    """Each curve against length, as metrics of the parent run and scalars in TensorBoard.

    MLflow: `test_<metric>/<curve>` (the median over seeds: one seed that failed does
    not drag it as it drags the mean), `test_<metric>_std/<curve>` and
    `solved_fraction/<curve>`, step = length. TensorBoard: `breakdown/test_<metric>` and
    `breakdown/solved_fraction`. Lengths where every seed diverged have no point.
    """
    test = schema.test_metric_name(report.info.metric)
    quantities = {test: "median", test + schema.STD_SUFFIX: "std"}
    quantities[schema.SOLVED_FRACTION] = "solved_fraction"
    for curve, group in report.summary.groupby("curve", sort=True):
        series = {
            quantity: [
                (int(length), float(value))
                for length, value in zip(group["length"], group[column])
                if math.isfinite(value)
            ]
            for quantity, column in quantities.items()
        }
        for quantity, points in series.items():
            report.metric_series[schema.curve_metric_name(quantity, curve)] = points
        report.curve_scalars[curve] = {
            schema.BREAKDOWN_TAG_PREFIX + quantity: series[quantity]
            for quantity in (test, schema.SOLVED_FRACTION)
        }


def add_budget_axis(report):
    """The time to solve and the horizon against the budget (runs that logged them)."""
    df = report.results
    if not budget.has_time_to_solve(df):
        return
    times = budget.time_to_solve_summary(df)
    horizons_by_budget = budget.budget_horizons(df)
    moves = None
    if report.rate_choice is not None:
        moves = rates.other_rate_moves_horizon(report.rate_choice, report.horizons)
    verdicts = budget.budget_verdicts(horizons_by_budget, moves)
    report.tables["time_to_solve"] = times
    report.tables["budget_horizons"] = horizons_by_budget
    report.sections.append(budget.time_to_solve_markdown(times))
    report.sections.append(budget.budget_markdown(horizons_by_budget, verdicts))
    report.terminal_sections.append(
        "Horizon against the budget (the same runs cut at 1/8, 1/4, 1/2, all of it):\n"
        + "\n".join(f"  {sentence}" for sentence in verdicts.values())
    )
    report.figures["time_to_solve"] = plot_time_to_solve(
        times, df, budget.updates_to_solve_or_inf(df), title=f"{report.title}: time to solve"
    )
    lengths = sorted(report.summary["length"].unique().tolist())
    report.figures["budget_horizons"] = plot_budget_horizons(
        horizons_by_budget, lengths, title=f"{report.title}: horizon vs budget"
    )
    for curve, group in horizons_by_budget.groupby("curve", sort=True):
        report.metric_series[schema.budget_horizon_metric_name(curve)] = list(
            zip(group["updates"], group["horizon"])
        )
