"""The report's text: Markdown tables for `summary.md`, and the terminal summary.

Pure functions on the tables of `experiments.report.horizon`.
"""

import math

import numpy as np

from experiments import schema
from experiments.report.horizon import format_horizon
from experiments.report.results import number


def fmt(value, digits=4):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}g}"


def metric_or_diverged(mean, n_diverged, digits=4):
    """A mean metric, or "diverged" where every seed diverged (no finite metric)."""
    if n_diverged and (mean is None or mean != mean):
        return "diverged"
    return fmt(mean, digits)


def markdown_tables(summary, horizons, info, *, not_run=None):
    """Markdown: the horizon table, then the test metric per curve and length.

    Cells of the second table read `mean ± std (k/n)`: mean and population std of the
    test metric over seeds, and k of n seeds solved; "not run" where the sweep skipped
    the length (`not_run`: the rows of the points it did not train).
    """
    skipped, lengths = _points_not_run(summary, not_run)
    metric = info.metric
    lines = [
        f"### Memory horizon ({info.task}, solved = test {metric} "
        f"{'>=' if info.higher_is_better else '<='} {fmt(info.solved_threshold)} "
        f"by at least half of the seeds; chance = {fmt(info.chance)})",
        "",
        f"| curve | horizon | test {metric} at horizon | next length | solved there "
        f"| test {metric} there | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, row in horizons.iterrows():
        note = []
        if row["censored"]:
            note.append("every length solved")
        if row["horizon"] == 0 and not row["censored"]:
            note.append("no length solved")
        if row["non_monotone"]:
            note.append(f"non-monotone: {row['longest_solved']:g} solved again")
        lines.append(
            f"| {row['curve']} | {format_horizon(row)} | {fmt(row['horizon_mean'])} | "
            f"{fmt(row['next_length'])} | {row['next_solved'] or '-'} | {fmt(row['next_mean'])} "
            f"| {'; '.join(note)} |"
        )

    def cell(curve, length, row):
        return metric_cell(row, not_run=(curve, length) in skipped)

    title = f"### Test {metric} per length (mean ± std over seeds, (solved seeds / seeds))"
    lines += ["", *curve_by_length_table(title, summary, lengths, cell)]
    return "\n".join(lines) + "\n"


def metric_cell(row, *, not_run=False):
    """`mean ± std (k/n)` of one curve at one length (`row`: its row of the summary, or
    None), "diverged (k/n)" where every seed diverged, "not run" or "-"."""
    if row is None:
        return "not run" if not_run else "-"
    solved = f"{int(row['n_solved'])}/{int(row['n_seeds'])}"
    n_diverged = int(row["n_diverged"])
    if n_diverged == int(row["n_seeds"]):
        return f"diverged ({solved})"
    diverged = f", {n_diverged} diverged" if n_diverged else ""
    return f"{fmt(row['mean'], 3)} ± {fmt(row['std'], 2)} ({solved}{diverged})"


def length_header(lengths, leading=("curve",)):
    """The two header lines of a Markdown table with the columns `leading`, then one
    column per length (`L=10`)."""
    names = [*leading, *(f"L={length:g}" for length in lengths)]
    return ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]


def _points_not_run(summary, not_run):
    """The (curve, length) points the sweep skipped (`not_run`: their rows, or None), and
    every length of the tables: those trained and those skipped."""
    skipped = set()
    if not_run is not None and len(not_run):
        skipped = set(zip(not_run["curve"], not_run["length"]))
    lengths = sorted({*summary["length"].tolist(), *(length for _, length in skipped)})
    return skipped, lengths


def curve_by_length_table(title, summary, lengths, cell):
    """Markdown lines: a title, then one row per curve and one column per length.

    `cell(curve, length, row)` gives each cell's text; `row` is the curve's row of
    `summary` at that length, or None.
    """
    lines = [title, "", *length_header(lengths)]
    for curve, group in summary.groupby("curve", sort=True):
        by_length = {row["length"]: row for _, row in group.iterrows()}
        cells = [cell(curve, length, by_length.get(length)) for length in lengths]
        lines.append(f"| {curve} | " + " | ".join(cells) + " |")
    return lines


def not_run_text(not_run):
    """One sentence naming the lengths the sweep decided not to train, per curve."""
    parts = []
    for curve, group in not_run.groupby("curve", sort=True):
        lengths = ", ".join(f"{length:g}" for length in sorted(group["length"].unique()))
        parts.append(f"{curve} L={lengths}")
    reasons = "; ".join(sorted(set(not_run["not_run"])))
    return (
        f"Not run ({reasons}; skip_decided_lengths: once every seed of a model failed a "
        f"length, one longer length runs and the rest are skipped): {'; '.join(parts)} "
        f"({len(not_run)} grid point(s))."
    )


def baseline_losses(df, info):
    """Length -> the task's `baseline_loss` (loss of the best memoryless predictor), or {}.

    Rebuilt from the task's definition (`datasets.make`) with the task's logged params
    (the columns `schema.TASK_PARAM_PREFIX` + key), e.g. 10 ln 8 / (T + 20) for
    copy_memory (Arjovsky et al. 2016).
    """
    import datasets

    prefix = schema.TASK_PARAM_PREFIX
    params = {
        column[len(prefix) :]: number(str(df[column].dropna().iloc[0]))
        for column in df.columns
        if column.startswith(prefix) and df[column].notna().any()
    }
    try:
        return {
            int(length): float(datasets.make(info.task, length=int(length), **params).baseline_loss)
            for length in sorted(df["length"].unique())
        }
    except (ValueError, TypeError):
        # A task this code no longer knows, or whose parameters changed since the runs
        # logged them (`datasets.make` and the tasks check both): the table is optional.
        return {}


def loss_table(summary, baselines):
    """Markdown: mean test loss per curve and length beside the memoryless baseline loss."""
    if not baselines or summary.empty:
        return ""
    lengths = sorted(summary["length"].unique().tolist())
    lines = [
        "### Test loss vs the memoryless baseline loss "
        "(mean over seeds; baseline = best input-independent predictor)",
        "",
        *length_header(lengths),
        "| baseline | "
        + " | ".join(fmt(baselines.get(int(length)), 3) for length in lengths)
        + " |",
    ]
    for curve, group in summary.groupby("curve", sort=True):
        by_length = dict(zip(group["length"], group["mean_test_loss"]))
        lines.append(
            f"| {curve} | " + " | ".join(fmt(by_length.get(length), 3) for length in lengths) + " |"
        )
    return "\n".join(lines) + "\n"


def budget_text(df):
    """One sentence stating the training budget the horizons hold for, from the runs' params.

    A horizon is only meaningful with its budget: the same network, trained longer, may
    solve longer lengths (Le et al. 2015 needed over a million updates for length 150).
    Returns "" when the table lacks the training params (e.g. a hand-made table).
    """
    needed = ("epochs", "steps_per_epoch", "batch_size", "optimizer", "lr")
    if df.empty or any(column not in df.columns for column in needed):
        return ""

    def one_or_range(column, form="{:g}"):
        found = sorted(set(df[column].dropna().tolist()), key=str)
        numbers = [v for v in found if isinstance(v, (int, float))]
        if len(numbers) == len(found) and numbers:
            low, high = min(numbers), max(numbers)
            return form.format(low) if low == high else f"{form.format(low)}-{form.format(high)}"
        return "/".join(str(v) for v in found)

    updates = (df["epochs"] * df["steps_per_epoch"]).dropna()
    if updates.empty:
        return ""
    low, high = int(updates.min()), int(updates.max())
    count = f"{high:,}" if low == high else f"{low:,}-{high:,}"
    text = (
        f"Budget: at most {count} {one_or_range('optimizer', '{}')} updates per run "
        f"({one_or_range('epochs')} epochs x {one_or_range('steps_per_epoch')} batches of "
        f"{one_or_range('batch_size')} fresh sequences, lr {one_or_range('lr')}"
    )
    if "clipnorm" in df.columns and df["clipnorm"].notna().any():
        scope = ""
        if "clipnorm_scope" in df.columns and df["clipnorm_scope"].notna().any():
            scope = f" ({one_or_range('clipnorm_scope').replace('_', ' ')})"
        text += f", gradient-norm clipping {one_or_range('clipnorm')}{scope}"
    text += ")"
    if (
        "stop_when_solved" in df.columns
        and df["stop_when_solved"].astype(str).str.lower().isin(["true", "1"]).any()
    ):
        text += ", stopped early once solved"
        if "solved_patience" in df.columns and df["solved_patience"].notna().any():
            text += f" on {one_or_range('solved_patience')} validations in a row"
    return text + ". The horizons hold for this budget: a longer training can move them."


def terminal_summary(summary, horizons, info, *, title, where="", budget=""):
    """A short plain-text summary: one line per curve with its horizon and the next length."""
    metric = info.metric
    lines = [
        f"== {title} ==",
        f"task {info.task}: test {metric}, chance {fmt(info.chance)}, solved when "
        f"{'>=' if info.higher_is_better else '<='} {fmt(info.solved_threshold)} "
        "(by >= half of the seeds)",
    ]
    if budget:
        lines.append(budget)
    width = max([len(str(c)) for c in horizons["curve"]] + [5]) if len(horizons) else 5
    for _, row in horizons.iterrows():
        group = summary[summary["curve"] == row["curve"]].sort_values("length")
        next_diverged = dict(zip(group["length"], group["n_diverged"])).get(row["next_length"], 0)

        curve_text = "  ".join(
            f"L{length:g}:{metric_or_diverged(mean, k_diverged, 3)}({int(k)}/{int(n)})"
            for length, mean, k, n, k_diverged in zip(
                group["length"],
                group["mean"],
                group["n_solved"],
                group["n_seeds"],
                group["n_diverged"],
            )
        )
        following = (
            ""
            if row["censored"]
            else f"; at L={row['next_length']:g}: {row['next_solved']} solved, "
            f"{metric} {metric_or_diverged(row['next_mean'], next_diverged, 3)}"
        )
        flag = " (non-monotone)" if row["non_monotone"] else ""
        lines.append(
            f"  {str(row['curve']):<{width}}  horizon {format_horizon(row):>8}{following}{flag}"
        )
        lines.append(f"  {'':<{width}}  {curve_text}")
    if where:
        lines.append(where)
    return "\n".join(lines)


def df_to_markdown(table, digits=4):
    header = "| " + " | ".join(map(str, table.columns)) + " |"
    lines = [header, "|" + "---|" * len(table.columns)]
    for _, row in table.iterrows():
        cells = [
            (fmt(v, digits) if isinstance(v, (float, np.floating)) else str(v))
            for v in row.tolist()
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def verdict_text(horizons):
    """One sentence: which curves remember furthest, which break down first, and where."""
    rows = sorted(horizons.to_dict("records"), key=_reach)
    if not rows:
        return ""
    worst, best = rows[0], rows[-1]
    first = [row for row in rows if _reach(row) == _reach(worst)]
    if _reach(worst) == _reach(best):
        who = "every curve" if len(rows) > 1 else str(worst["curve"])
        return f"Verdict: {who} {_breakdown_phrase(first, plural=False)}."
    furthest = [str(r["curve"]) for r in rows if _reach(r) == _reach(best)]
    remember = "remembers" if len(furthest) == 1 else "remember"
    return (
        f"Verdict: {' and '.join(furthest)} {remember} furthest (horizon "
        f"{format_horizon(best, '≥')}); {' and '.join(str(r['curve']) for r in first)} "
        f"{_breakdown_phrase(first, plural=len(first) > 1)}."
    )


def _reach(row):
    return (float(row["horizon"]), bool(row["censored"]))


def _breakdown_phrase(rows, plural):
    """`breaks down between L=10 and L=20 (0/3 seeds solved it)`, for curves of one reach."""
    row, s = rows[0], "" if plural else "s"
    if row["censored"]:
        return f"solve{s} every length tested (horizon ≥ {row['horizon']:g})"
    solved = list(dict.fromkeys(str(r["next_solved"]) for r in rows))  # in order, once
    where = f"L={row['next_length']:g} ({' and '.join(solved)} seeds solved it)"
    if row["horizon"] == 0:
        return f"fail{s} from the shortest length on, {where}"
    return f"break{s} down between L={row['horizon']:g} and {where}"


def description_markdown(summary, horizons, info, budget, *, not_run=None):
    """The parent run's description in MLflow: the verdict, the result table, the budget.

    One row per curve: its horizon ("≥ 100" where every length was solved: a lower
    bound), then `mean ± std (solved seeds / seeds)` of the test metric at each length,
    or "not run" where the sweep skipped it (`not_run`: the rows of those points).
    """
    metric = info.metric
    skipped, lengths = _points_not_run(summary, not_run)
    lines = [verdict_text(horizons), "", *length_header(lengths, ("curve", "horizon"))]
    for _, horizon in horizons.iterrows():
        group = summary[summary["curve"] == horizon["curve"]]
        by_length = {row["length"]: row for _, row in group.iterrows()}
        curve = horizon["curve"]
        cells = [
            metric_cell(by_length.get(length), not_run=(curve, length) in skipped)
            for length in lengths
        ]
        lines.append(
            f"| {horizon['curve']} | {format_horizon(horizon, '≥')} | " + " | ".join(cells) + " |"
        )
    rule = f"{'≥' if info.higher_is_better else '≤'} {fmt(info.solved_threshold)}"
    lines += [
        "",
        f"Cells: test {metric}, mean ± std over seeds (seeds solved / seeds). Solved: test "
        f"{metric} {rule}; horizon: the longest length that at least half of the seeds "
        f"solved, no shorter one failed; chance {fmt(info.chance)}.",
    ]
    if budget:
        lines += ["", budget]
    return "\n".join(lines) + "\n"
