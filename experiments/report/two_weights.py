"""The `two_weights` report: u and w of the two-weight network during training.

The `weights` probe logs u and w every epoch (metrics) and at initialization (params
`u_init`, `w_init`); on the EWMA task their targets are alpha and 1 - alpha.
"""

import math

import pandas as pd

from experiments import schema
from experiments.plots.two_weights import plot_two_weights
from experiments.report import breakdown
from experiments.report.text import df_to_markdown, fmt


def ewma_alpha(df, info):
    """The EWMA task's alpha: the logged `task_params.alpha`, else the task's default."""
    column = schema.TASK_PARAM_PREFIX + "alpha"
    if column in df and df[column].notna().any():
        return float(df[column].dropna().iloc[0])
    try:
        import datasets

        task = datasets.make(info.task, length=int(df["length"].iloc[0]))
        return float(task.params["alpha"])
    except (ValueError, KeyError, TypeError):
        return None


def two_weights_table(df, histories, alpha):
    """Final u and w of each run beside alpha and 1 - alpha (pure).

    Args:
        df: results table of the two_weights sweep.
        histories: run_id -> {"u": [(step, value)], "w": [...]}.
        alpha: the ewma task's alpha (or None).

    Returns:
        A DataFrame: curve, length, seed, u, w, u - alpha, w - (1 - alpha), test metric,
        solved.
    """
    rows = []
    for _, run in df.iterrows():
        history = histories.get(run["run_id"], {})
        u = history.get("u", [])
        w = history.get("w", [])
        known = alpha is not None
        rows.append(
            {
                "curve": run["curve"],
                "length": run["length"],
                "seed": run["seed"],
                "u": u[-1][1] if u else math.nan,
                "w": w[-1][1] if w else math.nan,
                "u_minus_alpha": (u[-1][1] - alpha) if (u and known) else math.nan,
                "w_minus_1_minus_alpha": (w[-1][1] - (1 - alpha)) if (w and known) else math.nan,
                "test_metric": run["test_metric"],
                "solved": run["solved"],
            }
        )
    return pd.DataFrame(rows)


def add_to_report(report):
    """The breakdown, the table `two_weights` and the figure `weights`."""
    breakdown.add_to_report(report)
    df = report.results
    alpha = ewma_alpha(df, report.info)
    histories = {}
    for _, run in df.iterrows():
        histories[run["run_id"]] = history = {}
        for key, name in (("u", schema.WEIGHT_U), ("w", schema.WEIGHT_W)):
            history[key] = report.metric_history(run["run_id"], name)
            # The probe logs the weights at initialization as params: drawn at epoch -1.
            initial = run.get(schema.probe_metric_name(name, schema.PROBE_INIT))
            if isinstance(initial, (int, float)) and math.isfinite(initial):
                history[key].insert(0, (-1, float(initial)))
    table = two_weights_table(df, histories, alpha)
    report.tables["two_weights"] = table
    report.sections.append(f"### Final weights (alpha = {fmt(alpha)})\n\n" + df_to_markdown(table))
    report.figures["weights"] = plot_two_weights(
        df, histories, alpha, title=f"{report.title}: u and w during training"
    )
