"""The `breakdown` report, which every other kind starts from.

The test metric against dependency length per curve (`breakdown.png`), the per-run
results (`results.csv`), the statistics per curve and length (`summary.csv`), each
curve's memory horizon (`horizons.csv`, and the parent-run metric `horizon_<curve>`),
and their Markdown tables; for tasks whose metric is not the loss, the test loss beside
the memoryless baseline loss.
"""

import json

from experiments import schema
from experiments.plots.breakdown import plot_breakdown
from experiments.report.horizon import memory_horizon, summarize
from experiments.report.text import baseline_losses, loss_table, markdown_tables


def add_to_report(report):
    """Adds the breakdown tables, figure, sections and horizon metrics to `report`."""
    info, df = report.info, report.results
    report.summary = summary = summarize(df)
    report.horizons = horizons = memory_horizon(summary)
    report.tables["results"] = df.drop(columns=["curve"]).rename(
        columns={"test_metric": schema.test_metric_name(info.metric)}
    )
    report.tables["summary"] = summary
    report.tables["horizons"] = horizons.assign(
        lengths=horizons["lengths"].map(json.dumps) if len(horizons) else []
    )
    report.sections.append(markdown_tables(summary, horizons, info))
    # Where the main metric is the loss itself (mse) the loss table would repeat it.
    if info.metric != "mse":
        losses = loss_table(summary, baseline_losses(df, info))
        if losses:
            report.sections.append(losses)
    report.figures["breakdown"] = plot_breakdown(summary, df, info, title=report.title)
    for _, row in horizons.iterrows():
        report.metrics[schema.horizon_metric_name(row["curve"])] = float(row["horizon"])
