"""The `gradient_flow` report: how the loss gradient fades with distance, per curve.

The `gradient_flow` probe logs, on every run, the fitted per-step decay factor of
|d loss / d h_t|, sigma_max(W) and (vanilla) the bound max|act'| * sigma_max(W) at
initialization and after training, and the norms themselves (metrics `grad_norm_init`
and `grad_norm_trained`, step = distance).
"""

import math

import numpy as np

from experiments import schema
from experiments.plots.gradient_flow import plot_gradient_norms
from experiments.report import breakdown
from experiments.report.text import df_to_markdown

WHEN = schema.PROBE_WHEN
PROBE_METRICS = [
    schema.probe_metric_name(name, when)
    for when in WHEN
    for name in (schema.GRAD_DECAY, schema.SIGMA_MAX_W, schema.DECAY_BOUND)
]


def gradient_flow_table(df):
    """Per curve: mean over seeds of the probe's decay factors, sigma_max(W), bounds (pure)."""
    columns = [*PROBE_METRICS, "test_metric"]
    present = [c for c in columns if c in df]
    table = df.groupby("curve", sort=True)[present].mean().reset_index()
    table.insert(1, "n_seeds", df.groupby("curve", sort=True).size().to_numpy())
    for column in columns:
        if column not in table:
            table[column] = math.nan
    return table[["curve", "n_seeds", *columns]]


def _geometric_mean_norms(report, run_ids, when):
    """[(distance, geometric mean over runs of the norm)] at the distances every run logged."""
    name = schema.probe_metric_name(schema.GRAD_NORM, when)
    per_seed = [dict(report.metric_history(run_id, name)) for run_id in run_ids]
    per_seed = [history for history in per_seed if history]
    if not per_seed:
        return []
    distances = sorted(set.intersection(*(set(history) for history in per_seed)))
    return [
        (d, float(np.exp(np.mean(np.log([max(h[d], 1e-300) for h in per_seed])))))
        for d in distances
    ]


def add_to_report(report):
    """The breakdown, the table and section `gradient_flow`, the figure `gradient_flow`."""
    breakdown.add_to_report(report)
    df = report.results.copy()
    for key in PROBE_METRICS:
        df[key] = [report.runs[run_id].data.metrics.get(key, math.nan) for run_id in df["run_id"]]
    table = gradient_flow_table(df)
    report.tables["gradient_flow"] = table
    section = (
        "### Gradient flow (per-step decay factor of |dL/dh_t| fitted over the distance; "
        "bound = max|act'| * sigma_max(W), vanilla only)\n\n" + df_to_markdown(table)
    )
    report.sections.append(section)
    report.terminal_sections.append(section)
    curves = []
    for index, (curve, group) in enumerate(df.groupby("curve", sort=True)):
        for when, linestyle in zip(WHEN, ("--", "-")):
            points = _geometric_mean_norms(report, group["run_id"], when)
            if points:
                distances, norms = zip(*points)
                style = {"color_index": index, "linestyle": linestyle}
                curves.append((f"{curve} ({when})", distances, norms, style))
    report.figures["gradient_flow"] = plot_gradient_norms(
        curves,
        title=f"{report.title}: gradient norm vs distance",
        ylabel="|d loss / d h_t| (geometric mean over seeds)",
    )
