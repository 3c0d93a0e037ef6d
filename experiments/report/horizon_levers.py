"""The `horizon_levers` report: what moves the vanilla RNN's memory horizon, lever by lever.

Each lever is a model variant, a curve (an activation, a recurrent initialization, a
learning rate, clipping on or off, a gated cell). On top of the breakdown (the horizon
per curve, its budget axis, and for the adding problem Hochreiter & Schmidhuber's
criterion) it adds:

- the horizon per lever with its seed band: each seed's own horizon, min, median and max
  (`lever_horizons.png`);
- each lever's gradient decay per step at initialization and after training (the
  `gradient_flow` probe's `grad_decay_init` / `grad_decay_trained`, median over the
  lever's runs) and the horizon that decay predicts (`decay_prediction`) beside the one
  measured, with the verdict stated per lever and counted over the levers, for the budget
  the runs had (`levers.csv`, the parent-run metrics `predicted_horizon_<when>_<curve>`).
"""

import math

from experiments import schema
from experiments.plots.levers import plot_lever_horizons
from experiments.report import breakdown, decay_prediction
from experiments.report.decay_prediction import (
    WHEN,
    agreement_counts,
    on_grid,
    prediction_table,
    seed_horizons,
)
from experiments.report.horizon import format_horizon
from experiments.report.text import budget_text, fmt

WHAT = {"init": "at initialization", "trained": "after training"}


def _with_decays(report):
    """The results table with the probe's decay metrics as columns."""
    df = report.results.copy()
    for when in WHEN:
        column = decay_prediction.decay_column(when)
        df[column] = [
            report.runs[run_id].data.metrics.get(column, math.nan) if report.runs else math.nan
            for run_id in df["run_id"]
        ]
    return df


def levers_markdown(table, lengths, budget):
    """Markdown: per lever, the measured horizon and seed band, each decay and the horizon
    it predicts (from the other levers' threshold) with the verdict; then the verdicts in
    words."""
    lines = [
        "### Horizon per lever, and the horizon its gradient decay predicts (threshold: the "
        "weakest gradient with which another lever solved its longest length)",
        "",
        "| lever | horizon | seeds (min / median / max) | decay/step at init | predicted "
        "| verdict | decay/step trained | predicted | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for _, row in table.iterrows():
        cells = [str(row["curve"]), format_horizon(row), _seed_band(row)]
        for when in WHEN:
            cells += [
                fmt(row[decay_prediction.decay_column(when)], 4),
                _predicted(row, when, lengths),
                row[f"verdict_{when}"],
            ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *(f"- {sentence}" for sentence in verdict_sentences(table, budget))]
    return "\n".join(lines) + "\n"


def _seed_band(row):
    if math.isnan(row["seed_min"]):
        return "-"
    return f"{row['seed_min']:g} / {row['seed_median']:g} / {row['seed_max']:g}"


def _predicted(row, when, lengths):
    """`10 (12.3, from tanh)`: on the tested lengths, the value, the lever that set it."""
    predicted = row[f"predicted_{when}"]
    if math.isnan(predicted):
        return "-"
    return f"{on_grid(predicted, lengths)} ({fmt(predicted, 3)}, from {row[f'reference_{when}']})"


def verdict_sentences(table, budget):
    """Plain sentences: how many levers each decay predicts, and the misses."""
    sentences = []
    counts = agreement_counts(table)
    for when in WHEN:
        agree, measured = counts[when]
        if not measured:
            sentences.append(
                f"The decay {WHAT[when]} predicts nothing here: no other lever both solved a "
                "length and had a decaying gradient measured (the gradient_flow probe)."
            )
            continue
        misses = table[
            table[f"verdict_{when}"].isin([decay_prediction.LONGER, decay_prediction.SHORTER])
        ]
        missed = ", ".join(
            f"{row['curve']} (predicted {fmt(row[f'predicted_{when}'], 3)}, measured "
            f"{format_horizon(row)})"
            for _, row in misses.iterrows()
        )
        sentences.append(
            f"The gradient decay {WHAT[when]} predicts the measured horizon of {agree} of "
            f"{measured} levers" + (f"; it misses {missed}." if missed else ".")
        )
    if budget:
        sentences.append(f"These verdicts hold for this budget only. {budget}")
    return sentences


def add_to_report(report):
    """The breakdown, then the levers' table, sentences, figure and predicted horizons."""
    breakdown.add_to_report(report)
    df = _with_decays(report)
    if df.empty:
        return
    table = prediction_table(df, report.horizons)
    lengths = sorted(df["length"].unique().tolist())
    section = levers_markdown(table, lengths, budget_text(df))
    report.sections.append(section)
    report.terminal_sections.append(section)
    report.tables["levers"] = table
    report.figures["lever_horizons"] = plot_lever_horizons(
        table, seed_horizons(df), lengths, title=f"{report.title}: horizon per lever"
    )
    for _, row in table.iterrows():
        for when in WHEN:
            predicted = row[f"predicted_{when}"]
            if math.isfinite(predicted):
                name = schema.predicted_horizon_metric_name(when, row["curve"])
                report.metrics[name] = float(predicted)
