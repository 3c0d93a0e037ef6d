"""Gradient norm against distance: how fast the loss gradient fades through the state."""

import numpy as np

from experiments.plots import color, pyplot


def plot_gradient_norms(curves, *, title="", ylabel="|d loss / d h_t| (mean over examples)"):
    """Draws gradient norms against distance (log y), one line per curve.

    Args:
        curves: a list of `(label, distances, norms, style)`; `style` is a dict of
            `color_index` (lines of one index share a colour) and `linestyle`.
            Zero norms (float32 underflow) are left out.
        title: the figure title.
        ylabel: the y-axis label.

    Returns:
        A matplotlib `Figure`.
    """
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(7.0, 4.6))
    for index, (label, distances, norms, style) in enumerate(curves):
        norms = np.asarray(norms, dtype=np.float64)
        axes.plot(
            distances,
            np.where(norms > 0, norms, np.nan),
            style.get("linestyle", "-"),
            color=color(style.get("color_index", index)),
            label=label,
        )
    axes.set_yscale("log")
    axes.set_xlabel("distance T - t between the state and the loss step")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    return figure
