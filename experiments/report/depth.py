"""The `depth` report: the breakdown, plus the memory horizon against the number of layers."""

import json

from experiments.plots.breakdown import plot_horizon_vs_depth
from experiments.report import breakdown


def depth_of_curves(df):
    """Curve -> number of recurrent layers (vanilla: 1; deep: num_layers or len(units))."""
    depths = {}
    for curve, group in df.groupby("curve"):
        row = group.iloc[0]
        # Runs log `kind` only where it is not the model's name.
        kind = row.get("kind")
        kind = kind if isinstance(kind, str) else row.get("model")
        if kind == "deep":
            units = row.get("units")
            if isinstance(units, str) and units.startswith("["):
                depths[curve] = len(json.loads(units))
            else:
                depths[curve] = int(row.get("num_layers", 2))
        elif kind in ("vanilla", "lstm", "gru"):
            depths[curve] = 1
    return depths


def add_to_report(report):
    """The breakdown, and the figure `horizon_vs_depth`."""
    breakdown.add_to_report(report)
    report.figures["horizon_vs_depth"] = plot_horizon_vs_depth(
        report.horizons,
        depth_of_curves(report.results),
        title=f"{report.title}: horizon vs depth",
    )
