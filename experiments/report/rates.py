"""The learning-rate protocol: a horizon is never one learning rate's.

When a sweep's grid has an `lr` axis, the rate is not a curve of its own: each (curve,
length) cell takes the rate whose runs did best on the **validation** set (the most seeds
whose final validation metric reached the solved threshold, then the best median final
validation metric; on a tie, the smaller rate), never on the test set. The cell's test
result and solved seeds are those of its chosen rate, and the horizon is computed from the
chosen cells, as the synthetic-task suites that compare sequence architectures report each
architecture at the best rate of a grid, chosen per setting.

Beside it: each curve's horizon at every single rate of the grid (`sensitivity`), and a
flag where a cell's choice is the grid's smallest or largest rate (the best rate may lie
beyond it: widen the grid).

Pure functions on results tables (`experiments.report.results`).
"""

import dataclasses
import math

import numpy as np
import pandas as pd

from experiments import schema
from experiments.report.horizon import format_horizon, memory_horizon, summarize

RATE_AXIS = schema.LEARNING_RATE
CHOICE_COLUMNS = ["curve", "length", RATE_AXIS, "val_solved", "n_seeds", "val_median", "edge"]


@dataclasses.dataclass
class RateChoice:
    """What the rate protocol chose, and what every rate gave.

    Attributes:
        rates: the grid's rates, ascending.
        every_rate: the results table of every run, at every rate.
        choices: one row per (curve, length): the rate chosen, its seeds solved on
            validation, its median final validation metric, and `edge` ("smallest",
            "largest" or "") where the choice is at the grid's edge.
        sensitivity: one row per (curve, rate): the horizon at that rate alone
            (`horizon`, `censored`, `label`).
    """

    rates: list
    every_rate: pd.DataFrame
    choices: pd.DataFrame
    sensitivity: pd.DataFrame

    def edge_choices(self):
        """The cells whose chosen rate is at the grid's edge."""
        return self.choices[self.choices["edge"] != ""]


def has_rate_grid(df):
    """Whether the runs were trained at more than one learning rate."""
    return RATE_AXIS in df and not df.empty and df[RATE_AXIS].nunique() > 1


def _cell_scores(df, info):
    """Per (curve, length, rate): seeds, seeds solved on validation, median validation;
    from the grid's seeds only (a cell's extra seeds train at its chosen rate alone)."""
    if schema.EXTRA_SEED in df:
        df = df[df[schema.EXTRA_SEED] != 1]
    val = pd.to_numeric(df["val_metric"], errors="coerce")
    scored = df.assign(
        val_solved=[float(info.is_solved(v)) for v in val],
        val_metric=val,
    )
    grouped = scored.groupby(["curve", "length", RATE_AXIS], sort=True)
    return grouped.agg(
        n_seeds=("seed", "size"),
        val_solved=("val_solved", "sum"),
        val_median=("val_metric", "median"),
    ).reset_index()


def _best(cell, higher_is_better):
    """The row of the best rate of one cell (the rows of its rates)."""
    fraction = cell["val_solved"] / cell["n_seeds"]
    median = cell["val_median"].to_numpy(dtype=float)
    worst = -np.inf if higher_is_better else np.inf
    median = np.where(np.isnan(median), worst, median)  # diverged everywhere: last
    quality = median if higher_is_better else -median
    order = np.lexsort((cell[RATE_AXIS].to_numpy(dtype=float), -quality, -fraction.to_numpy()))
    return cell.iloc[order[0]]


def best_rate(rows, info):
    """The rate one cell chooses (the same rule as `choose_rates`), from its runs.

    Args:
        rows: one mapping per run of the cell: `lr`, `seed`, `val_metric`.
        info: the sweep's `schema.SweepInfo`.
    """
    cell = pd.DataFrame(list(rows)).assign(curve="cell", length=0)
    return float(_best(_cell_scores(cell, info), info.higher_is_better)[RATE_AXIS])


def choose_rates(df, info):
    """Each (curve, length) cell's rate, chosen on validation.

    Args:
        df: a results table with `curve`, `length`, `seed`, `lr` and `val_metric` (the
            run's final validation metric).
        info: the sweep's `schema.SweepInfo` (threshold, direction).

    Returns:
        `(chosen, choice)`: the rows of the chosen rates (the table every other part of the
        report reads), and the `RateChoice`; `(df, None)` when the runs have one rate.
    """
    if not has_rate_grid(df):
        return df, None
    rates = sorted(float(r) for r in df[RATE_AXIS].dropna().unique())
    rows = []
    for (curve, length), cell in _cell_scores(df, info).groupby(["curve", "length"]):
        best = _best(cell, info.higher_is_better)
        rate = float(best[RATE_AXIS])
        edge = "smallest" if rate == rates[0] else "largest" if rate == rates[-1] else ""
        rows.append(
            {
                "curve": curve,
                "length": length,
                RATE_AXIS: rate,
                "val_solved": int(best["val_solved"]),
                "n_seeds": int(best["n_seeds"]),
                "val_median": float(best["val_median"]),
                "edge": edge,
            }
        )
    choices = pd.DataFrame(rows, columns=CHOICE_COLUMNS)
    keys = choices[["curve", "length", RATE_AXIS]]
    chosen = df.merge(keys, on=["curve", "length", RATE_AXIS], how="inner")
    chosen = chosen.sort_values(["model", "length", "seed"], kind="stable").reset_index(drop=True)
    chosen.attrs = dict(df.attrs)
    choice = RateChoice(rates, df, choices, sensitivity(df, rates))
    return chosen, choice


def sensitivity(df, rates):
    """Each curve's horizon had the sweep trained at one rate only, for every rate."""
    rows = []
    for rate in rates:
        at_rate = df[np.isclose(df[RATE_AXIS].astype(float), rate)]
        for _, row in memory_horizon(summarize(at_rate)).iterrows():
            rows.append(
                {
                    "curve": row["curve"],
                    RATE_AXIS: rate,
                    "horizon": row["horizon"],
                    "censored": bool(row["censored"]),
                    "label": format_horizon(row),
                }
            )
    return pd.DataFrame(rows, columns=["curve", RATE_AXIS, "horizon", "censored", "label"])


def other_rate_moves_horizon(choice, horizons):
    """Curve -> the rates of the grid whose horizon alone exceeds the chosen horizon."""
    chosen = dict(zip(horizons["curve"], horizons["horizon"]))
    moves = {}
    for _, row in choice.sensitivity.iterrows():
        if row["horizon"] > chosen.get(row["curve"], math.inf):
            moves.setdefault(row["curve"], []).append(row[RATE_AXIS])
    return moves


def rate_text(rate):
    """`0.003`, `0.0025`, `1e-05`: a rate as the tables show it."""
    return f"{float(rate):g}"


def choices_markdown(choice):
    """Markdown: the rate chosen per curve and length, then each curve's horizon per rate."""
    lengths = sorted(choice.choices["length"].unique().tolist())
    lines = [
        "### Learning rate chosen on validation (per curve and length; the seeds solved on "
        "validation at that rate; * the grid's smallest or largest rate)",
        "",
        "| curve | " + " | ".join(f"L={length:g}" for length in lengths) + " |",
        "|---|" + "---|" * len(lengths),
    ]
    for curve, group in choice.choices.groupby("curve", sort=True):
        by_length = {row["length"]: row for _, row in group.iterrows()}
        cells = [
            f"{rate_text(by_length[n][RATE_AXIS])}{'*' if by_length[n]['edge'] else ''} "
            f"({by_length[n]['val_solved']}/{by_length[n]['n_seeds']})"
            if n in by_length
            else "-"
            for n in lengths
        ]
        lines.append(f"| {curve} | " + " | ".join(cells) + " |")
    lines += ["", *_sensitivity_lines(choice), "", *(f"- {s}" for s in edge_sentences(choice))]
    return "\n".join(lines) + "\n"


def _sensitivity_lines(choice):
    lines = [
        "### Memory horizon at each learning rate alone (the sensitivity to the rate)",
        "",
        "| curve | " + " | ".join(f"lr {rate_text(r)}" for r in choice.rates) + " |",
        "|---|" + "---|" * len(choice.rates),
    ]
    for curve, group in choice.sensitivity.groupby("curve", sort=True):
        by_rate = dict(zip(group[RATE_AXIS], group["label"]))
        lines.append(f"| {curve} | " + " | ".join(by_rate.get(r, "-") for r in choice.rates) + " |")
    return lines


def edge_sentences(choice):
    """One sentence per curve whose choice sits at the grid's edge somewhere."""
    sentences = []
    for curve, group in choice.edge_choices().groupby("curve", sort=True):
        for edge, cells in group.groupby("edge", sort=True):
            lengths = ", ".join(f"{n:g}" for n in cells["length"])
            sentences.append(
                f"{curve}: the best rate at L = {lengths} is the grid's {edge} "
                f"({rate_text(cells[RATE_AXIS].iloc[0])}): widen the grid past it."
            )
    return sentences


def terminal_lines(choice):
    """The rate protocol in a few lines for the terminal summary."""
    lines = ["Learning rate chosen on validation per length (horizon at each rate alone):"]
    for curve, group in choice.choices.groupby("curve", sort=True):
        chosen = "  ".join(
            f"L{row['length']:g}:{rate_text(row[RATE_AXIS])}{'*' if row['edge'] else ''}"
            for _, row in group.iterrows()
        )
        alone = choice.sensitivity[choice.sensitivity["curve"] == curve]
        each = ", ".join(
            f"{rate_text(r)}: {label}" for r, label in zip(alone[RATE_AXIS], alone["label"])
        )
        lines.append(f"  {curve}: {chosen}  ({each})")
    lines += [f"  {sentence}" for sentence in edge_sentences(choice)]
    return "\n".join(lines)
