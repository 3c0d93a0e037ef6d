"""The budget-axis figures: updates to solve against length, horizon against budget."""

import math

import numpy as np

from experiments.plots import color, pyplot
from experiments.plots.breakdown import length_ticks


def plot_time_to_solve(summary, df, updates, *, title=""):
    """Updates to solve against dependency length, one curve per model (log-log).

    The line is the median over seeds (censored seeds count as slower than any solved
    one; a median that is itself censored is not drawn), the band spans the seeds that
    solved, filled dots are seeds that solved, and open markers on the dashed budget
    line are seeds that did not solve within it (censored: their time to solve is only
    known to be longer).

    Args:
        summary: `budget.time_to_solve_summary(df)`.
        df: the results table, for the per-seed markers.
        updates: per run of `df`, its updates to solve or inf (`budget.updates_to_solve_or_inf`).
        title: figure title.

    Returns:
        A matplotlib `Figure`.
    """
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(7.5, 5.0))
    budgets = (df["epochs"] * df["steps_per_epoch"]).astype(float)
    n_curves = summary["curve"].nunique()
    for index, (curve, group) in enumerate(summary.groupby("curve", sort=True)):
        # Censored markers of different curves share a point: spread them a little.
        shift = 1.0 + 0.04 * (index - (n_curves - 1) / 2)
        runs = df["curve"] == curve
        _draw_curve(axes, str(curve), group.sort_values("length"), color(index))
        _draw_seeds(axes, df, runs, updates, budgets, color(index), shift)
    _draw_budgets(axes, budgets)
    # Room above the budget line, and a range even when no run solved (all at the budget).
    finite = updates[np.isfinite(updates)]
    highest = budgets.max() if len(budgets) else 1.0
    lowest = min(finite.min(), highest) if len(finite) else highest
    axes.set_ylim(lowest / 1.5, highest * 1.5)
    axes.set_xscale("log")
    axes.set_yscale("log")
    length_ticks(axes, sorted(summary["length"].unique().tolist()))
    axes.set_xlabel("dependency length (log scale)")
    axes.set_ylabel("updates to solve (log; line: median, band: seeds that solved)")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    return figure


def _draw_curve(axes, curve, group, curve_color):
    """The median line (where it is known) and the band over the seeds that solved."""
    known = group[~group["median_censored"].astype(bool)]
    axes.plot(known["length"], known["median_updates"], "-o", color=curve_color, label=curve)
    solved = group[group["n_solved_in_time"] > 0]
    axes.fill_between(
        solved["length"],
        solved["min_updates"],
        solved["max_updates"],
        color=curve_color,
        alpha=0.18,
        linewidth=0,
    )


def _draw_seeds(axes, df, runs, updates, budgets, curve_color, shift):
    """A dot per seed that solved; an open marker on the budget line per seed that did not."""
    finite = runs & np.isfinite(updates)
    axes.scatter(df.loc[finite, "length"], updates[finite], color=curve_color, s=10, alpha=0.6)
    censored = runs & ~np.isfinite(updates)
    axes.scatter(
        df.loc[censored, "length"] * shift,
        budgets[censored],
        facecolors="none",
        edgecolors=curve_color,
        marker="^",
        s=40,
    )


def _draw_budgets(axes, budgets):
    for budget in sorted(set(budgets.dropna().tolist())):
        axes.axhline(budget, color="gray", linestyle="--", linewidth=1)
        axes.annotate(
            f"budget {budget:,.0f}",
            (0.01, budget),
            xycoords=("axes fraction", "data"),
            fontsize=7,
            color="gray",
            va="bottom",
        )
    axes.scatter(
        [], [], facecolors="none", edgecolors="gray", marker="^", label="not solved (at budget)"
    )


def plot_budget_horizons(budget_table, lengths, *, title=""):
    """The memory horizon against the training budget, one step line per curve.

    The y axis lists the lengths tested (and "none" below the shortest); an upward
    triangle marks a horizon that is censored (every length tested solved).

    Args:
        budget_table: `budget.budget_horizons(df)`.
        lengths: the lengths tested, ascending.
        title: figure title.
    """
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6.5, 4.2))
    position = {0: 0, **{length: index + 1 for index, length in enumerate(lengths)}}
    curves = sorted(budget_table["curve"].unique().tolist())
    offsets = np.linspace(-0.08, 0.08, len(curves)) if len(curves) > 1 else [0.0]
    for index, curve in enumerate(curves):
        group = budget_table[budget_table["curve"] == curve].sort_values("fraction")
        y = [position.get(h, math.nan) + offsets[index] for h in group["horizon"]]
        axes.plot(group["updates"], y, "-o", color=color(index), label=str(curve))
        censored = group["censored"].astype(bool).to_numpy()
        axes.scatter(
            group["updates"][censored],
            np.asarray(y)[censored],
            marker="^",
            s=70,
            color=color(index),
        )
    if budget_table["censored"].astype(bool).any():
        axes.scatter([], [], marker="^", s=70, color="gray", label="every length solved (>=)")
    axes.set_xscale("log", base=2)
    updates = sorted(budget_table["updates"].unique().tolist())
    if updates:
        axes.set_xticks(updates)
        axes.set_xticklabels([f"{u:,.0f}" for u in updates])
        axes.minorticks_off()
    axes.set_yticks(list(position.values()))
    axes.set_yticklabels(["none", *(f"{length:g}" for length in lengths)])
    axes.set_xlabel("training budget (updates; the same runs, cut at 1/8, 1/4, 1/2, all)")
    axes.set_ylabel("memory horizon (length)")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    return figure
