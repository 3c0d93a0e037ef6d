"""The budget axis: how long each run took to solve, and the horizon at a smaller budget.

A yes/no "solved" depends on the training budget; the time to solve does not. Every run
logs `updates_to_solve` (the updates until its validation metric first reached the solved
threshold, checked once an epoch) and `solve_censored` (1 when it never did, or diverged:
its time to solve is then only known to exceed the updates it trained). From these, with
no extra training:

- `time_to_solve_summary`: per curve and length, the median and range over seeds of the
  updates to solve, and how many seeds were censored;
- `budget_horizons`: the memory horizon each curve would have had if training had
  stopped at 1/8, 1/4, 1/2 and all of its budget. A run counts as solved within a
  fraction f when it solved (the test metric, as for the main horizon) and its time to
  solve is at most f x its budget, so at f = 1 this is the main horizon;
- `budget_verdicts`: whether a horizon was still growing between half and all of the
  budget (budget-limited: more training would likely move it) or had stopped
  (architecture-limited at this budget).

Pure functions on results tables (`experiments.report.results`).
"""

import math

import numpy as np
import pandas as pd

from experiments import schema
from experiments.report.horizon import format_horizon, memory_horizon, summarize
from experiments.report.text import curve_by_length_table

BUDGET_FRACTIONS = (0.125, 0.25, 0.5, 1.0)
FRACTION_LABELS = {0.125: "1/8", 0.25: "1/4", 0.5: "1/2", 1.0: "all"}

TIME_TO_SOLVE_COLUMNS = [
    "curve",
    "length",
    "n_seeds",
    "n_solved_in_time",
    "n_censored",
    "median_updates",
    "median_censored",
    "min_updates",
    "max_updates",
    "budget",
]


def has_time_to_solve(df):
    """Whether the runs logged their time to solve (runs logged before it did not)."""
    return (
        not df.empty
        and schema.UPDATES_TO_SOLVE in df
        and df[schema.UPDATES_TO_SOLVE].notna().all()
        and {"epochs", "steps_per_epoch"} <= set(df.columns)
    )


def run_budgets(df):
    """The updates each run was allowed: `epochs * steps_per_epoch`."""
    return (df["epochs"] * df["steps_per_epoch"]).astype(float)


def updates_to_solve_or_inf(df):
    """Each run's updates to solve, or inf when it did not solve in time.

    Censored and diverged runs, and runs whose final test metric did not count as solved
    (a validation success that did not hold), never count as solved.
    """
    solved = (
        (df[schema.SOLVED] > 0.5)
        & (df[schema.DIVERGED] < 0.5)
        & (df[schema.SOLVE_CENSORED].fillna(1.0) < 0.5)
    )
    return df[schema.UPDATES_TO_SOLVE].astype(float).where(solved, math.inf)


def time_to_solve_summary(df):
    """Per curve and length: the updates to solve over seeds.

    The median counts censored seeds as slower than every solved one; when at least half
    of the seeds are censored it is only known to exceed the budget (`median_censored`,
    and `median_updates` is then the budget). `min_updates` / `max_updates` span the
    seeds that solved (NaN when none did).

    Args:
        df: a results table with `updates_to_solve`, `solve_censored`, `epochs` and
            `steps_per_epoch`.

    Returns:
        A DataFrame with the columns of `TIME_TO_SOLVE_COLUMNS`.
    """
    if not has_time_to_solve(df):
        return pd.DataFrame(columns=TIME_TO_SOLVE_COLUMNS)
    table = df.assign(_updates=updates_to_solve_or_inf(df), _budget=run_budgets(df))
    rows = []
    for (curve, length), group in table.groupby(["curve", "length"], sort=True):
        updates = np.sort(group["_updates"].to_numpy(dtype=float))
        solved = updates[np.isfinite(updates)]
        budget = float(group["_budget"].max())
        # The lower median of the seeds, censored ones sorted last (as inf).
        median = updates[(len(updates) - 1) // 2]
        rows.append(
            {
                "curve": curve,
                "length": length,
                "n_seeds": len(updates),
                "n_solved_in_time": len(solved),
                "n_censored": len(updates) - len(solved),
                "median_updates": budget if math.isinf(median) else median,
                "median_censored": math.isinf(median),
                "min_updates": solved.min() if len(solved) else math.nan,
                "max_updates": solved.max() if len(solved) else math.nan,
                "budget": budget,
            }
        )
    return pd.DataFrame(rows, columns=TIME_TO_SOLVE_COLUMNS)


def budget_horizons(df, fractions=BUDGET_FRACTIONS, *, min_fraction=0.5):
    """The memory horizon of every curve had training stopped at a fraction of the budget.

    Args:
        df: a results table with the time to solve (see `time_to_solve_summary`).
        fractions: budget fractions, ascending.
        min_fraction: the fraction of seeds that must solve a length (as the main horizon).

    Returns:
        A DataFrame, one row per curve and fraction: `curve`, `fraction`, `updates`
        (fraction x the curve's budget), `horizon`, `censored`, `next_length`, `label`
        (as the main horizon prints it, e.g. "50", "< 10", ">= 100").
    """
    columns = ["curve", "fraction", "updates", "horizon", "censored", "next_length", "label"]
    if not has_time_to_solve(df):
        return pd.DataFrame(columns=columns)
    updates, budgets = updates_to_solve_or_inf(df), run_budgets(df)
    curve_budget = budgets.groupby(df["curve"]).max()
    rows = []
    for fraction in fractions:
        within = df.assign(**{schema.SOLVED: (updates <= fraction * budgets).astype(float)})
        horizons = memory_horizon(summarize(within), min_fraction=min_fraction)
        for _, row in horizons.iterrows():
            rows.append(
                {
                    "curve": row["curve"],
                    "fraction": fraction,
                    "updates": fraction * curve_budget[row["curve"]],
                    "horizon": row["horizon"],
                    "censored": row["censored"],
                    "next_length": row["next_length"],
                    "label": format_horizon(row),
                }
            )
    return pd.DataFrame(rows, columns=columns).sort_values(["curve", "fraction"], kind="stable")


def budget_verdicts(budget_table, rate_moves=None):
    """Curve -> one sentence: was its horizon still growing with the budget?

    Compares the horizon at half and at all of the budget (the last two fractions). A
    horizon that stopped growing is called architecture-limited only when no other rate
    of the grid moves it either (`rate_moves`: curve -> the rates whose horizon alone is
    longer, from `rates.other_rate_moves_horizon`; None: the runs had one rate).
    """
    rate_grid = rate_moves is not None
    rate_moves = rate_moves or {}
    verdicts = {}
    for curve, group in budget_table.groupby("curve", sort=True):
        group = group.sort_values("fraction")
        if len(group) < 2:
            continue
        half, full = group.iloc[-2], group.iloc[-1]
        updates = f"{full['updates']:,.0f} updates"
        steps = f"{half['label']} at {half['updates']:,.0f} -> {full['label']} at {updates}"
        if full["censored"]:
            reached = (
                "already by half of the budget"
                if half["censored"]
                else "only with the whole budget"
            )
            verdicts[curve] = (
                f"{curve}: every length tested solved, {reached} ({steps}); the horizon lies "
                "beyond the lengths tested."
            )
        elif full["horizon"] > half["horizon"]:
            verdicts[curve] = (
                f"{curve}: horizon still growing with the budget ({steps}): budget-limited, "
                "more training would likely move it."
            )
        elif full["horizon"] == 0:
            verdicts[curve] = (
                f"{curve}: no length solved at any fraction of {updates}: this budget cannot "
                "tell the architecture's limit from a budget too small."
            )
        elif curve in rate_moves:
            faster = ", ".join(f"{rate:g}" for rate in rate_moves[curve])
            verdicts[curve] = (
                f"{curve}: horizon stopped growing with the budget ({steps}), but lr {faster} "
                "alone reaches further: not architecture-limited; the per-cell choice on "
                "validation missed it, so more seeds or a finer grid would decide."
            )
        else:
            verdicts[curve] = (
                f"{curve}: horizon stopped growing ({steps}): architecture-limited at this "
                "budget, doubling it did not move the breakdown"
                + (" (nor did another rate of the grid)." if rate_grid else ".")
            )
    return verdicts


def _updates_text(value):
    return "-" if value is None or math.isnan(value) else f"{value:,.0f}"


def time_to_solve_markdown(summary):
    """Markdown: median updates to solve (range over solved seeds) per curve and length."""

    def cell(curve, length, row):
        if row is None:
            return "-"
        median = ("> " if row["median_censored"] else "") + _updates_text(row["median_updates"])
        if row["n_solved_in_time"] > 1:
            median += f" ({_updates_text(row['min_updates'])}-{_updates_text(row['max_updates'])})"
        if row["n_censored"]:
            median += f", {int(row['n_censored'])}/{int(row['n_seeds'])} not solved"
        return median

    title = (
        "### Updates to solve (median over seeds; range over the seeds that solved; "
        "'> N': not solved within the budget N)"
    )
    lengths = sorted(summary["length"].unique().tolist())
    return "\n".join(curve_by_length_table(title, summary, lengths, cell)) + "\n"


def budget_markdown(budget_table, verdicts):
    """Markdown: the horizon per curve at each budget fraction, then the verdicts."""
    fractions = sorted(budget_table["fraction"].unique().tolist())
    lines = [
        "### Memory horizon against the training budget (the same runs, cut at a fraction "
        "of their updates)",
        "",
        "| curve | "
        + " | ".join(f"{FRACTION_LABELS.get(f, f'{f:g}')} of the budget" for f in fractions)
        + " |",
        "|---|" + "---|" * len(fractions),
    ]
    for curve, group in budget_table.groupby("curve", sort=True):
        by_fraction = {row["fraction"]: row for _, row in group.iterrows()}
        cells = [
            f"{by_fraction[f]['label']} ({by_fraction[f]['updates']:,.0f} updates)"
            if f in by_fraction
            else "-"
            for f in fractions
        ]
        lines.append(f"| {curve} | " + " | ".join(cells) + " |")
    lines += ["", *(f"- {sentence}" for sentence in verdicts.values())]
    return "\n".join(lines) + "\n"
