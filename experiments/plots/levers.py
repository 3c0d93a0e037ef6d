"""The `horizon_levers` figure: the horizon per lever, its seed band, and what the
gradient's decay predicts."""

import math

from experiments.plots import color, pyplot
from experiments.plots.breakdown import length_ticks

# Where a horizon of 0 (nothing solved) and an unbounded prediction are drawn, as
# fractions of the shortest and longest length tested (the axis is logarithmic).
_BELOW, _BEYOND = 0.6, 1.6
_MARKERS = {
    "init": ("o", "none", "predicted by the decay at init"),
    "trained": ("x", None, "predicted by the decay after training"),
}


def _on_axis(value, lengths):
    if math.isnan(value):
        return math.nan
    if value <= 0 or value < lengths[0] * _BELOW:
        return lengths[0] * _BELOW
    return min(value, lengths[-1] * _BEYOND)


def plot_lever_horizons(table, seeds, lengths, *, title=""):
    """One row per lever: the measured horizon (bar), each seed's own horizon (dots, the
    band from their min to their max), and the horizons the decay predicts at
    initialization (open circle) and after training (cross).

    Args:
        table: `decay_prediction.prediction_table(...)[0]`.
        seeds: each seed's own horizon (`decay_prediction.seed_horizons`).
        lengths: the lengths tested (ticks of the log axis).
        title: figure title.

    Returns:
        A matplotlib `Figure`.
    """
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(7.5, 0.55 * len(table) + 1.8))
    left = lengths[0] * _BELOW * 0.8  # a log axis has no 0: bars start at its left edge
    for index, (_, row) in enumerate(table.iterrows()):
        y = len(table) - 1 - index
        own = [_on_axis(h, lengths) for h in seeds[seeds["curve"] == row["curve"]]["horizon"]]
        width = _on_axis(row["horizon"], lengths) - left
        axes.barh(y, width, left=left, color=color(index), alpha=0.35)
        if own:
            axes.plot([min(own), max(own)], [y, y], "-", color=color(index), linewidth=2)
            axes.plot(own, [y] * len(own), ".", color=color(index))
        for when, (marker, face, label) in _MARKERS.items():
            predicted = _on_axis(row[f"predicted_{when}"], lengths)
            axes.plot(
                [predicted],
                [y + (0.15 if when == "init" else -0.15)],
                marker,
                color="black",
                markerfacecolor=face,
                label=label if index == 0 else None,
            )
    axes.set_yticks(range(len(table)))
    axes.set_yticklabels(list(table["curve"])[::-1])
    axes.set_xscale("log")
    axes.set_xlim(left, lengths[-1] * _BEYOND * 1.2)
    length_ticks(axes, lengths)
    axes.set_xlabel(
        "length (log); bar: horizon, dots: each seed's, line: their band; "
        f"left edge: none solved, right edge: beyond {lengths[-1]:g}"
    )
    axes.set_title(title)
    axes.grid(True, axis="x", which="both", alpha=0.3)
    axes.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    return figure
