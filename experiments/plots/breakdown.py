"""The breakdown figures: test metric against dependency length, horizon against depth."""

import math

import numpy as np

from experiments.plots import color, pyplot


def plot_breakdown(summary, df, info, *, title="", not_run=None):
    """Test metric against dependency length, one curve per model, band over seeds.

    Top panel: the mean over seeds as a line, the band from the seeds' minimum to their
    maximum, every seed as a dot; the chance level (dashed) and the solved threshold
    (dotted) as horizontal lines; log x-axis (log y too for a lower-is-better metric such
    as MSE, whose solved threshold sits far below chance). Bottom panel: the fraction of
    seeds that solved each length, with the 1/2 line that defines the horizon.

    Args:
        summary: `summarize(df)`.
        df: the results table (for the per-seed dots).
        info: the sweep's `schema.SweepInfo` (metric, chance, threshold, direction).
        title: figure title.
        not_run: rows of the grid points the sweep did not train (drawn as gray crosses
            on the chance line: "not run, a shorter length failed").

    Returns:
        A matplotlib `Figure`.
    """
    plt = pyplot()
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(7.5, 6.8), sharex=True, gridspec_kw={"height_ratios": [3, 1.2]}
    )
    for index, (curve, group) in enumerate(summary.groupby("curve", sort=True)):
        _draw_curve(top, bottom, str(curve), group.sort_values("length"), df, color(index))
    _mark_points_without_metric(top, df, info, not_run)
    _draw_levels(top, info)
    top.set_xscale("log")
    values = df["test_metric"].to_numpy(dtype=float)
    if not info.higher_is_better and values.size and np.all(values[np.isfinite(values)] > 0):
        top.set_yscale("log")
    top.set_ylabel(f"test {info.metric} (line: mean; band: min..max over seeds)")
    top.set_title(title)
    top.grid(True, which="both", alpha=0.3)
    top.legend(fontsize=8)
    bottom.axhline(0.5, color="black", linestyle=":", linewidth=1)
    bottom.set_ylim(-0.05, 1.05)
    bottom.set_ylabel("seeds solved")
    bottom.set_xlabel("dependency length (log scale)")
    bottom.grid(True, which="both", alpha=0.3)
    lengths = sorted(summary["length"].unique().tolist())
    if not_run is not None and len(not_run):
        lengths = sorted({*lengths, *not_run["length"].tolist()})
    length_ticks(bottom, lengths)
    figure.tight_layout()
    return figure


def _draw_curve(top, bottom, curve, group, df, curve_color):
    """One curve: mean line, min..max band, a dot per seed; its solved fraction below."""
    top.plot(group["length"], group["mean"], "-o", color=curve_color, label=curve, markersize=4)
    top.fill_between(
        group["length"], group["min"], group["max"], color=curve_color, alpha=0.18, linewidth=0
    )
    seeds = df[df["curve"] == curve]
    top.scatter(seeds["length"], seeds["test_metric"], color=curve_color, s=8, alpha=0.5)
    bottom.plot(group["length"], group["solved_fraction"], "-o", color=curve_color, markersize=4)


def _mark_points_without_metric(top, df, info, not_run):
    """Points not run and diverged runs, marked on the chance line (they have no metric)."""
    if math.isnan(info.chance):
        return
    marks = []
    if not_run is not None and len(not_run):
        reason = "; ".join(sorted(set(not_run["not_run"])))
        points = not_run.drop_duplicates(["curve", "length"])
        style = {"marker": "x", "color": "black", "s": 60, "linewidths": 2}
        marks.append((points["length"], style, f"not run: {reason}"))
    if "diverged" in df and (df["diverged"] > 0.5).any():
        style = {"marker": "v", "color": "red", "s": 50}
        label = "diverged run (metric not finite; drawn on the chance line)"
        marks.append((df.loc[df["diverged"] > 0.5, "length"], style, label))
    for lengths, style, label in marks:
        # zorder: above the curves that reach the chance line there
        top.scatter(lengths, [info.chance] * len(lengths), zorder=5, label=label, **style)


def _draw_levels(top, info):
    """The chance level (dashed) and the solved threshold (dotted)."""
    if not math.isnan(info.chance):
        top.axhline(info.chance, color="gray", linestyle="--", label=f"chance ({info.chance:.3g})")
    if not math.isnan(info.solved_threshold):
        top.axhline(
            info.solved_threshold,
            color="black",
            linestyle=":",
            label=f"solved ({info.solved_threshold:.3g})",
        )


def length_ticks(axes, lengths):
    """One x tick per length tested, labelled with the length (a log axis shows them all)."""
    if lengths:
        axes.set_xticks(lengths)
        axes.set_xticklabels([f"{length:g}" for length in lengths])
        axes.minorticks_off()


def plot_horizon_vs_depth(horizons, depth_by_curve, *, title=""):
    """Memory horizon against the number of layers (the `depth` report)."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6.0, 4.0))
    points = sorted(
        (depth_by_curve[c], h, c)
        for c, h in zip(horizons["curve"], horizons["horizon"])
        if c in depth_by_curve
    )
    if points:
        axes.plot([p[0] for p in points], [p[1] for p in points], "-o")
        for depth, horizon, curve in points:
            axes.annotate(
                str(curve), (depth, horizon), fontsize=7, textcoords="offset points", xytext=(3, 3)
            )
    axes.set_xlabel("number of recurrent layers")
    axes.set_ylabel("memory horizon (0: nothing solved)")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    return figure
