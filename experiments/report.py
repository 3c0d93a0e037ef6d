"""The breakdown report: read a sweep back from MLflow and show where memory breaks down.

`write_report(parent_run_id)` is called by the runner at the end of every sweep and by
`python -m experiments report NAME`. It reads only what was logged (the FINISHED child
runs of the parent), so any past sweep can be redrawn. The parent's `report` tag picks
the kind:

- `breakdown` (default): test metric against dependency length, one curve per model
  (a "curve" is a model variant plus any other grid axis that varies within it), the
  band over seeds = min..max, the mean as the line, the chance level and the solved
  threshold as horizontal lines; the fraction of seeds that solved each length below it.
  Each curve's memory horizon (see `memory_horizon`) is logged on the parent run as the
  metric `horizon_<curve>`.
- `depth`: the breakdown, plus the horizon against the number of layers.
- `two_weights`: the trajectories of u and w (logged each epoch by the `weights` probe)
  against their target values alpha and 1 - alpha, and the loss surfaces the probe drew.
- `gradient_flow`: the gradient norm against distance at initialization and after
  training, and the fitted per-step decay factor beside sigma_max(W) and the bound
  max|act'| * sigma_max(W) (logged by the `gradient_flow` probe).

Every kind writes `results.csv` (one row per grid point), `summary.md` (Markdown tables)
and PNG figures, logs them as artifacts of the parent run under `report/`, writes the
figures as TensorBoard images and the curves as TensorBoard scalars (step = length) under
`<tensorboard_root>/<experiment>/report/<parent run name>/`, and returns the terminal
summary it prints.

The computations are pure functions on pandas tables (`load_results` builds the table;
`summarize`, `memory_horizon`, `plot_breakdown`, `markdown_tables` consume it) so that the
tests can drive them with hand-made tables.
"""

import json
import math
import os
import pathlib
import re
import shutil
import tempfile

import numpy as np
import pandas as pd

REPORT_KINDS = ("breakdown", "two_weights", "gradient_flow", "depth")

# Child-run params that describe the run but are never curve axes.
_NOT_AXES = {
    "task",
    "length",
    "seed",
    "grid_point",
    "config_hash",
    "attempt",
    "chance",
    "solved_threshold",
}
_RESULT_METRICS = ("test_loss", "solved", "diverged", "train_time_s")


# --------------------------------------------------------------------------------------
# Reading the sweep back
# --------------------------------------------------------------------------------------


def _number(text):
    """A param string as int or float when it is one, else the string itself."""
    if not isinstance(text, str):
        return text
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _parent_value(run, key, default=None):
    return run.data.tags.get(key, run.data.params.get(key, default))


def sweep_info(parent_run):
    """The parent run's description of the sweep as a dict.

    Keys: `metric`, `higher_is_better` (bool), `chance`, `solved_threshold` (floats, NaN
    when not logged), `task`, `report` (kind), `run_name`, `profile`, `grid_axes`.
    """

    def as_float(key):
        value = _parent_value(parent_run, key)
        try:
            return float(value)
        except (TypeError, ValueError):
            return math.nan

    report = _parent_value(parent_run, "report", "breakdown") or "breakdown"
    return {
        "metric": _parent_value(parent_run, "metric", "mse"),
        "higher_is_better": str(_parent_value(parent_run, "higher_is_better", "False")).lower()
        in ("true", "1"),
        "chance": as_float("chance"),
        "solved_threshold": as_float("solved_threshold"),
        "task": _parent_value(parent_run, "task", ""),
        "report": report,
        "run_name": parent_run.info.run_name or parent_run.info.run_id[:8],
        "profile": _parent_value(parent_run, "sweep.profile", ""),
        # The sweep's grid axes (the runner logs the grid as params `grid.<axis>`).
        "grid_axes": sorted(
            key[len("grid.") :] for key in parent_run.data.params if key.startswith("grid.")
        ),
    }


def results_from_runs(runs, info):
    """One row per FINISHED child run (pure: takes MLflow `Run` objects).

    Args:
        runs: MLflow `Run` objects (children of one parent).
        info: `sweep_info(parent)`.

    Returns:
        A DataFrame with columns `run_id`, `run_name`, `model`, `length`, `seed`,
        `test_metric` (the value of `test_<metric>`), `test_loss`, `solved`, `diverged`,
        `train_time_s`, and one column per other param (numbers parsed), sorted by
        model, length, seed. `df.attrs` holds `info` and `axes` (the extra curve axes).
    """
    metric_key = f"test_{info['metric']}"
    rows = []
    for run in runs:
        if run.info.status != "FINISHED":
            continue
        params = {key: _number(value) for key, value in run.data.params.items()}
        metrics = run.data.metrics
        row = {
            "run_id": run.info.run_id,
            "run_name": run.info.run_name,
            **params,
            "test_metric": metrics.get(metric_key, math.nan),
        }
        for key in _RESULT_METRICS:
            row[key] = metrics.get(key, math.nan)
        rows.append(row)
    return results_table(rows, info)


def results_table(rows, info):
    """Builds a results table from rows (dicts or a DataFrame); also for hand-made tables.

    Args:
        rows: records with at least `model`, `length`, `seed`, `test_metric`, and
            optionally `solved`, `diverged`, other params.
        info: a `sweep_info`-like dict (`metric`, `higher_is_better`, `chance`,
            `solved_threshold`, `task`, `report`, `run_name`).

    Returns:
        The table with `solved` filled in from the threshold where missing, a `curve`
        label column, and `attrs` `info` and `axes`.
    """
    df = pd.DataFrame(rows).copy()
    base = ["run_id", "run_name", "model", "length", "seed", "test_metric", *_RESULT_METRICS]
    for column in base:
        if column not in df:
            df[column] = pd.Series(
                dtype=float if column not in ("run_id", "run_name", "model") else object
            )
    if len(df):
        threshold, higher = info["solved_threshold"], info["higher_is_better"]
        # A run without a `solved` metric (older logs) is judged from its test metric.
        missing = df["solved"].isna()
        if missing.any() and not math.isnan(threshold):
            values = df.loc[missing, "test_metric"]
            df.loc[missing, "solved"] = (
                values >= threshold if higher else values <= threshold
            ).astype(float)
        df["solved"] = df["solved"].fillna(0.0)
        df["diverged"] = df["diverged"].fillna(0.0)
        df = df.sort_values(["model", "length", "seed"], kind="stable").reset_index(drop=True)
    df.attrs["info"] = dict(info)
    df.attrs["axes"] = curve_axes(df, info.get("grid_axes") or None)
    df["curve"] = curve_labels(df, df.attrs["axes"])
    return df


def load_results(parent_run_id, client=None):
    """Reads the FINISHED children of a sweep's parent run into a table.

    Args:
        parent_run_id: the parent run's id.
        client: an `mlflow.MlflowClient` (default: one on the current tracking URI).

    Returns:
        The DataFrame of `results_from_runs`, one row per FINISHED child.
    """
    from experiments import tracking

    client = client or _default_client()
    parent = client.get_run(parent_run_id)
    children = tracking.child_runs(client, parent.info.experiment_id, parent_run_id)
    return results_from_runs(children, sweep_info(parent))


def _default_client():
    import mlflow

    return mlflow.MlflowClient()


def curve_axes(df, candidates=None):
    """The params besides model, length and seed that split a model's runs into curves.

    A param is a curve axis when it takes more than one value among the runs of one model
    (e.g. `num_layers` or `activation` swept as grid axes); params fixed per model variant
    (`kind`, a variant's `units`) are not.

    Args:
        df: a results table.
        candidates: the sweep's grid axes when known (from the parent's `grid.*` params):
            only those can be curve axes, so per-run params such as a probe's `u_init` never
            split curves. None: every param is a candidate (hand-made tables).
    """
    if df.empty or "model" not in df:
        return []
    skip = set(_NOT_AXES) | {
        "model",
        "run_id",
        "run_name",
        "test_metric",
        "curve",
        *_RESULT_METRICS,
    }
    axes = []
    for column in df.columns:
        if column in skip or (candidates is not None and column not in candidates):
            continue
        values = df[column].astype(str)
        if (values.groupby(df["model"]).nunique() > 1).any():
            axes.append(column)
    return axes


def curve_labels(df, axes):
    """`model` alone, or `model, key=value, ...` for the curve axes."""
    if df.empty:
        return pd.Series([], dtype=object, index=df.index)
    labels = df["model"].astype(str)
    for axis in axes:
        labels = labels + f", {axis}=" + df[axis].astype(str)
    return labels


# --------------------------------------------------------------------------------------
# The breakdown: summary per (curve, length) and the memory horizon
# --------------------------------------------------------------------------------------


def summarize(df):
    """Per curve and length: seeds, mean / std / min / max of the test metric, solved seeds.

    Args:
        df: a results table (`curve`, `length`, `seed`, `test_metric`, `solved`, `diverged`).

    Returns:
        A DataFrame with columns `curve`, `length`, `n_seeds`, `mean`, `std` (ddof 0),
        `min`, `max`, `n_solved`, `solved_fraction`, `n_diverged`, `mean_test_loss`.
    """
    if df.empty:
        return pd.DataFrame(
            columns=[
                "curve",
                "length",
                "n_seeds",
                "mean",
                "std",
                "min",
                "max",
                "n_solved",
                "solved_fraction",
                "n_diverged",
                "mean_test_loss",
            ]
        )
    grouped = df.groupby(["curve", "length"], sort=True)
    summary = grouped.agg(
        n_seeds=("seed", "size"),
        mean=("test_metric", "mean"),
        std=("test_metric", lambda v: float(np.std(v, ddof=0))),
        min=("test_metric", "min"),
        max=("test_metric", "max"),
        n_solved=("solved", lambda v: int(np.sum(v > 0.5))),
        n_diverged=("diverged", lambda v: int(np.sum(v > 0.5))),
        mean_test_loss=("test_loss", "mean"),
    ).reset_index()
    summary["solved_fraction"] = summary["n_solved"] / summary["n_seeds"]
    columns = [
        "curve",
        "length",
        "n_seeds",
        "mean",
        "std",
        "min",
        "max",
        "n_solved",
        "solved_fraction",
        "n_diverged",
        "mean_test_loss",
    ]
    return summary[columns]


def memory_horizon(summary, *, min_fraction=0.5):
    """Each curve's memory horizon, with the result at the next length.

    The rule: a length counts as solved when at least `min_fraction` of its seeds solved it
    (diverged runs count as not solved). The horizon is the longest length L such that
    every tested length up to and including L is solved: the breakdown is the first length
    that fails, and a lucky success beyond it (a non-monotone curve) does not move the
    horizon; it is reported in `longest_solved` and flagged `non_monotone`.

    Edge cases:
    - nothing solved (not even the shortest length): `horizon` = 0 and the "next length"
      is the shortest length tested;
    - everything solved: `horizon` = the longest length tested, `censored` = True (the
      true horizon is at least that), and no next length (NaN).

    Args:
        summary: the output of `summarize`.
        min_fraction: the fraction of seeds that must solve a length.

    Returns:
        A DataFrame, one row per curve: `curve`, `horizon`, `censored`, `next_length`,
        `next_solved` ("k/n"), `next_solved_fraction`, `next_mean`, `horizon_mean` (the
        metric at the horizon), `longest_solved`, `non_monotone`, `lengths` (tested).
    """
    rows = []
    for curve, group in summary.groupby("curve", sort=True):
        group = group.sort_values("length")
        lengths = group["length"].tolist()
        passed = (group["solved_fraction"] >= min_fraction).tolist()
        first_fail = next((i for i, ok in enumerate(passed) if not ok), None)
        solved_lengths = [length for length, ok in zip(lengths, passed) if ok]
        row = {
            "curve": curve,
            "horizon": 0,
            "censored": False,
            "next_length": math.nan,
            "next_solved": "",
            "next_solved_fraction": math.nan,
            "next_mean": math.nan,
            "horizon_mean": math.nan,
            "longest_solved": max(solved_lengths) if solved_lengths else 0,
            "non_monotone": False,
            "lengths": lengths,
        }
        if first_fail is None:
            row["horizon"] = lengths[-1]
            row["censored"] = True
            row["horizon_mean"] = group["mean"].iloc[-1]
        else:
            if first_fail > 0:
                row["horizon"] = lengths[first_fail - 1]
                row["horizon_mean"] = group["mean"].iloc[first_fail - 1]
            following = group.iloc[first_fail]
            row["next_length"] = following["length"]
            row["next_solved"] = f"{int(following['n_solved'])}/{int(following['n_seeds'])}"
            row["next_solved_fraction"] = following["solved_fraction"]
            row["next_mean"] = following["mean"]
            row["non_monotone"] = any(passed[first_fail:])
        rows.append(row)
    return pd.DataFrame(rows)


def horizon_metric_name(curve):
    """`horizon_<curve>` with characters MLflow accepts (`lstm` -> `horizon_lstm`)."""
    text = re.sub(r",\s*", "_", str(curve))
    text = re.sub(r"[^A-Za-z0-9_.\-/ ]", "-", text).replace(" ", "")
    return f"horizon_{text}"


def format_horizon(row):
    """`"100"`, `">= 200"` (everything solved) or `"< 10"` (nothing solved)."""
    if row["censored"]:
        return f">= {row['horizon']:g}"
    if row["horizon"] == 0:
        return f"< {row['next_length']:g}"
    return f"{row['horizon']:g}"


# --------------------------------------------------------------------------------------
# Tables and text
# --------------------------------------------------------------------------------------


def _fmt(value, digits=4):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}g}"


def markdown_tables(summary, horizons, info):
    """Markdown: the horizon table, then the test metric per curve and length.

    Cells of the second table read `mean ± std (k/n)`: mean and population std of the
    test metric over seeds, and k of n seeds solved.
    """
    metric = info["metric"]
    lines = [
        f"### Memory horizon ({info.get('task', '')}, solved = test {metric} "
        f"{'>=' if info['higher_is_better'] else '<='} {_fmt(info['solved_threshold'])} "
        f"by at least half of the seeds; chance = {_fmt(info['chance'])})",
        "",
        f"| curve | horizon | test {metric} at horizon | next length | solved there | test {metric} there | note |",
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
            f"| {row['curve']} | {format_horizon(row)} | {_fmt(row['horizon_mean'])} | "
            f"{_fmt(row['next_length'])} | {row['next_solved'] or '-'} | {_fmt(row['next_mean'])} | {'; '.join(note)} |"
        )
    lengths = sorted(summary["length"].unique().tolist()) if len(summary) else []
    lines += [
        "",
        f"### Test {metric} per length (mean ± std over seeds, (solved seeds / seeds))",
        "",
        "| curve | " + " | ".join(f"L={length:g}" for length in lengths) + " |",
        "|---|" + "---|" * len(lengths),
    ]
    for curve, group in summary.groupby("curve", sort=True):
        by_length = {row["length"]: row for _, row in group.iterrows()}
        cells = []
        for length in lengths:
            row = by_length.get(length)
            cells.append(
                "-"
                if row is None
                else f"{_fmt(row['mean'], 3)} ± {_fmt(row['std'], 2)} ({int(row['n_solved'])}/{int(row['n_seeds'])})"
            )
        lines.append(f"| {curve} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def baseline_losses(df, info):
    """Length -> the task's `baseline_loss` (loss of the best memoryless predictor), or {}.

    Rebuilt from the task's definition (`datasets.make`) with the logged `task_params.*`,
    e.g. 10 ln 8 / (T + 20) for copy_memory (Arjovsky et al. 2016).
    """
    try:
        import datasets

        params = {
            column[len("task_params.") :]: _number(str(df[column].dropna().iloc[0]))
            for column in df.columns
            if column.startswith("task_params.") and df[column].notna().any()
        }
        return {
            int(length): float(
                datasets.make(info["task"], length=int(length), **params).baseline_loss
            )
            for length in sorted(df["length"].unique())
        }
    except Exception:  # an unknown or changed task: the table is optional
        return {}


def loss_table(summary, baselines):
    """Markdown: mean test loss per curve and length beside the memoryless baseline loss."""
    if not baselines or summary.empty:
        return ""
    lengths = sorted(summary["length"].unique().tolist())
    lines = [
        "### Test loss vs the memoryless baseline loss (mean over seeds; baseline = best input-independent predictor)",
        "",
        "| curve | " + " | ".join(f"L={length:g}" for length in lengths) + " |",
        "|---|" + "---|" * len(lengths),
        "| baseline | "
        + " | ".join(_fmt(baselines.get(int(length)), 3) for length in lengths)
        + " |",
    ]
    for curve, group in summary.groupby("curve", sort=True):
        by_length = dict(zip(group["length"], group["mean_test_loss"]))
        lines.append(
            f"| {curve} | "
            + " | ".join(_fmt(by_length.get(length), 3) for length in lengths)
            + " |"
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
        text += f", gradient-norm clipping {one_or_range('clipnorm')}"
    text += ")"
    if (
        "stop_when_solved" in df.columns
        and df["stop_when_solved"].astype(str).str.lower().isin(["true", "1"]).any()
    ):
        text += ", stopped early once solved"
    return text + ". The horizons hold for this budget: a longer training can move them."


def terminal_summary(summary, horizons, info, *, title, where="", budget=""):
    """A short plain-text summary: one line per curve with its horizon and the next length."""
    metric = info["metric"]
    lines = [
        f"== {title} ==",
        f"task {info.get('task', '')}: test {metric}, chance {_fmt(info['chance'])}, solved when "
        f"{'>=' if info['higher_is_better'] else '<='} {_fmt(info['solved_threshold'])} (by >= half of the seeds)",
    ]
    if budget:
        lines.append(budget)
    width = max([len(str(c)) for c in horizons["curve"]] + [5]) if len(horizons) else 5
    for _, row in horizons.iterrows():
        group = summary[summary["curve"] == row["curve"]].sort_values("length")
        curve_text = "  ".join(
            f"L{length:g}:{_fmt(mean, 3)}({int(k)}/{int(n)})"
            for length, mean, k, n in zip(
                group["length"], group["mean"], group["n_solved"], group["n_seeds"]
            )
        )
        following = (
            ""
            if row["censored"]
            else f"; at L={row['next_length']:g}: {row['next_solved']} solved, {metric} {_fmt(row['next_mean'], 3)}"
        )
        flag = " (non-monotone)" if row["non_monotone"] else ""
        lines.append(
            f"  {str(row['curve']):<{width}}  horizon {format_horizon(row):>8}{following}{flag}"
        )
        lines.append(f"  {'':<{width}}  {curve_text}")
    if where:
        lines.append(where)
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_breakdown(summary, df, info, *, title=""):
    """Test metric against dependency length, one curve per model, band over seeds.

    Top panel: the mean over seeds as a line, the band from the seeds' minimum to their
    maximum, every seed as a dot; the chance level (dashed) and the solved threshold
    (dotted) as horizontal lines; log x-axis (log y too for a lower-is-better metric such
    as MSE, whose solved threshold sits far below chance). Bottom panel: the fraction of
    seeds that solved each length, with the 1/2 line that defines the horizon.

    Args:
        summary: `summarize(df)`.
        df: the results table (for the per-seed dots).
        info: `sweep_info` (metric, chance, solved_threshold, higher_is_better).
        title: figure title.

    Returns:
        A matplotlib `Figure`.
    """
    plt = _pyplot()
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(7.5, 6.8), sharex=True, gridspec_kw={"height_ratios": [3, 1.2]}
    )
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (curve, group) in enumerate(summary.groupby("curve", sort=True)):
        color = colors[index % len(colors)]
        group = group.sort_values("length")
        top.plot(group["length"], group["mean"], "-o", color=color, label=str(curve), markersize=4)
        top.fill_between(
            group["length"], group["min"], group["max"], color=color, alpha=0.18, linewidth=0
        )
        seeds = df[df["curve"] == curve]
        top.scatter(seeds["length"], seeds["test_metric"], color=color, s=8, alpha=0.5)
        bottom.plot(group["length"], group["solved_fraction"], "-o", color=color, markersize=4)
    if not math.isnan(info["chance"]):
        top.axhline(
            info["chance"], color="gray", linestyle="--", label=f"chance ({info['chance']:.3g})"
        )
    if not math.isnan(info["solved_threshold"]):
        top.axhline(
            info["solved_threshold"],
            color="black",
            linestyle=":",
            label=f"solved ({info['solved_threshold']:.3g})",
        )
    top.set_xscale("log")
    values = df["test_metric"].to_numpy(dtype=float)
    if not info["higher_is_better"] and values.size and np.all(values[np.isfinite(values)] > 0):
        top.set_yscale("log")
    top.set_ylabel(f"test {info['metric']} (line: mean; band: min..max over seeds)")
    top.set_title(title)
    top.grid(True, which="both", alpha=0.3)
    top.legend(fontsize=8)
    bottom.axhline(0.5, color="black", linestyle=":", linewidth=1)
    bottom.set_ylim(-0.05, 1.05)
    bottom.set_ylabel("seeds solved")
    bottom.set_xlabel("dependency length (log scale)")
    bottom.grid(True, which="both", alpha=0.3)
    lengths = sorted(summary["length"].unique().tolist())
    if lengths:
        bottom.set_xticks(lengths)
        bottom.set_xticklabels([f"{length:g}" for length in lengths])
        bottom.minorticks_off()
    figure.tight_layout()
    return figure


def plot_horizon_vs_depth(horizons, depth_by_curve, *, title=""):
    """Memory horizon against the number of layers (the `depth` report)."""
    plt = _pyplot()
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


# --------------------------------------------------------------------------------------
# TensorBoard
# --------------------------------------------------------------------------------------


def _tensorboard_safe(text):
    return re.sub(r"[^A-Za-z0-9_.=\-]+", "_", str(text)).strip("_") or "curve"


def write_tensorboard(report_dir, figures, summary, horizons, info):
    """Figures as images and the breakdown as scalars under `report_dir`.

    `report_dir` is `<tensorboard_root>/<experiment>/report/<parent run name>`; each curve
    gets its own sub-directory (a TensorBoard "run"), so the scalars `breakdown/test_<metric>`
    and `breakdown/solved_fraction` (step = length) of every curve overlay in one chart.
    Old event files there are removed first, so redrawing a report does not double it.
    """
    import tensorflow as tf

    from experiments.probes import figure_to_png

    report_dir = pathlib.Path(report_dir)
    shutil.rmtree(report_dir, ignore_errors=True)
    report_dir.mkdir(parents=True, exist_ok=True)
    writer = tf.summary.create_file_writer(str(report_dir))
    with writer.as_default():
        for name, figure in figures.items():
            image = tf.image.decode_png(figure_to_png(figure), channels=4)[None]
            tf.summary.image(f"report/{name}", image, step=0)
    writer.close()
    if summary is None or summary.empty:
        return
    horizon_of = dict(zip(horizons["curve"], horizons["horizon"])) if len(horizons) else {}
    for curve, group in summary.groupby("curve", sort=True):
        writer = tf.summary.create_file_writer(str(report_dir / _tensorboard_safe(curve)))
        with writer.as_default():
            for _, row in group.sort_values("length").iterrows():
                step = int(row["length"])
                if math.isfinite(row["mean"]):
                    tf.summary.scalar(
                        f"breakdown/test_{info['metric']}", float(row["mean"]), step=step
                    )
                tf.summary.scalar(
                    "breakdown/solved_fraction", float(row["solved_fraction"]), step=step
                )
            if curve in horizon_of:
                tf.summary.scalar("breakdown/horizon", float(horizon_of[curve]), step=0)
        writer.close()


# --------------------------------------------------------------------------------------
# The report kinds
# --------------------------------------------------------------------------------------


def breakdown_report(df, out_dir, *, title):
    """Writes the breakdown files for a results table; returns (summary, horizons, figures, text)."""
    info = df.attrs["info"]
    out_dir = pathlib.Path(out_dir)
    summary = summarize(df)
    horizons = memory_horizon(summary)
    results = df.drop(columns=["curve"]).rename(columns={"test_metric": f"test_{info['metric']}"})
    results.to_csv(out_dir / "results.csv", index=False)
    summary.to_csv(out_dir / "summary.csv", index=False)
    horizons.assign(lengths=horizons["lengths"].map(json.dumps) if len(horizons) else []).to_csv(
        out_dir / "horizons.csv", index=False
    )
    markdown = markdown_tables(summary, horizons, info)
    # Where the main metric is the loss itself (mse) the loss table would repeat it.
    losses = loss_table(summary, baseline_losses(df, info)) if info["metric"] != "mse" else ""
    if losses:
        markdown += "\n" + losses
    figures = {"breakdown": plot_breakdown(summary, df, info, title=title)}
    return summary, horizons, figures, markdown


def _depth_of(df):
    """Curve -> number of recurrent layers (vanilla: 1; deep: num_layers or len(units))."""
    depths = {}
    for curve, group in df.groupby("curve"):
        row = group.iloc[0]
        kind = row.get("kind", row.get("model"))
        if kind == "deep":
            units = row.get("units")
            if isinstance(units, str) and units.startswith("["):
                depths[curve] = len(json.loads(units))
            else:
                depths[curve] = int(row.get("num_layers", 2))
        elif kind in ("vanilla", "lstm", "gru"):
            depths[curve] = 1
    return depths


def _metric_history(client, run_id, key):
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def _ewma_alpha(df, info):
    # The runner logs task_params as `task_params.<key>`; without one the task's default applies.
    for column in ("task_params.alpha", "task.alpha"):
        if column in df and df[column].notna().any():
            return float(df[column].dropna().iloc[0])
    try:
        import datasets

        return float(datasets.make(info["task"], length=int(df["length"].iloc[0])).params["alpha"])
    except (ValueError, KeyError, TypeError):
        return None


def two_weights_tables(df, histories, alpha):
    """Final u and w of each run beside alpha and 1 - alpha (pure).

    Args:
        df: results table of the two_weights sweep.
        histories: run_id -> {"u": [(step, value)], "w": [...]}.
        alpha: the ewma task's alpha (or None).

    Returns:
        A DataFrame: curve, length, seed, u, w, |u - alpha|, |w - (1 - alpha)|, test metric.
    """
    rows = []
    for _, run in df.iterrows():
        history = histories.get(run["run_id"], {})
        u = history.get("u", [])
        w = history.get("w", [])
        rows.append(
            {
                "curve": run["curve"],
                "length": run["length"],
                "seed": run["seed"],
                "u": u[-1][1] if u else math.nan,
                "w": w[-1][1] if w else math.nan,
                "u_minus_alpha": (u[-1][1] - alpha) if (u and alpha is not None) else math.nan,
                "w_minus_1_minus_alpha": (w[-1][1] - (1 - alpha))
                if (w and alpha is not None)
                else math.nan,
                "test_metric": run["test_metric"],
                "solved": run["solved"],
            }
        )
    return pd.DataFrame(rows)


def plot_two_weights(df, histories, alpha, *, title=""):
    """u and w against epoch for every run, coloured by curve, with alpha and 1 - alpha."""
    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(10.0, 4.0), sharex=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (curve, group) in enumerate(df.groupby("curve", sort=True)):
        color = colors[index % len(colors)]
        for n, (_, run) in enumerate(group.iterrows()):
            history = histories.get(run["run_id"], {})
            for axes, key in ((left, "u"), (right, "w")):
                points = history.get(key, [])
                if points:
                    axes.plot(
                        [p[0] for p in points],
                        [p[1] for p in points],
                        color=color,
                        alpha=0.8,
                        label=str(curve) if n == 0 else None,
                    )
    if alpha is not None:
        left.axhline(alpha, color="black", linestyle=":", label=f"alpha = {alpha:g}")
        right.axhline(1 - alpha, color="black", linestyle=":", label=f"1 - alpha = {1 - alpha:g}")
    for axes, name in ((left, "u (input weight)"), (right, "w (recurrent weight)")):
        axes.set_xlabel("epoch (-1: initialization)")
        axes.set_ylabel(name)
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def gradient_flow_table(df):
    """Per curve: mean over seeds of the probe's decay factors, sigma_max(W) and bounds (pure)."""
    columns = [
        "grad_decay_init",
        "sigma_max_W_init",
        "decay_bound_init",
        "grad_decay_trained",
        "sigma_max_W_trained",
        "decay_bound_trained",
        "test_metric",
    ]
    present = [c for c in columns if c in df]
    table = df.groupby("curve", sort=True)[present].mean().reset_index()
    table.insert(1, "n_seeds", df.groupby("curve", sort=True).size().to_numpy())
    for column in columns:
        if column not in table:
            table[column] = math.nan
    return table[["curve", "n_seeds", *columns]]


def plot_gradient_flow_curves(curves, *, title=""):
    """Norm of dL/dh_t against distance: curve -> {"init": [(d, norm)], "trained": [...]}."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7.5, 4.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (curve, by_when) in enumerate(sorted(curves.items())):
        color = colors[index % len(colors)]
        for when, style in (("init", "--"), ("trained", "-")):
            points = by_when.get(when, [])
            if points:
                distances, norms = zip(*points)
                norms = np.asarray(norms, dtype=float)
                axes.plot(
                    distances,
                    np.where(norms > 0, norms, np.nan),
                    style,
                    color=color,
                    label=f"{curve} ({when})",
                )
    axes.set_yscale("log")
    axes.set_xlabel("distance T - t between the state and the loss step")
    axes.set_ylabel("|d loss / d h_t| (geometric mean over seeds)")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    return figure


def _gradient_flow_curves(client, df):
    curves = {}
    for curve, group in df.groupby("curve", sort=True):
        by_when = {}
        for when in ("init", "trained"):
            per_seed = [
                dict(_metric_history(client, run_id, f"grad_norm_{when}"))
                for run_id in group["run_id"]
            ]
            per_seed = [h for h in per_seed if h]
            if not per_seed:
                continue
            distances = sorted(set.intersection(*(set(h) for h in per_seed)))
            with np.errstate(divide="ignore"):
                by_when[when] = [
                    (d, float(np.exp(np.mean(np.log([max(h[d], 1e-300) for h in per_seed])))))
                    for d in distances
                ]
        curves[curve] = by_when
    return curves


def _df_to_markdown(table, digits=4):
    header = "| " + " | ".join(map(str, table.columns)) + " |"
    lines = [header, "|" + "---|" * len(table.columns)]
    for _, row in table.iterrows():
        cells = [
            (_fmt(v, digits) if isinstance(v, (float, np.floating)) else str(v))
            for v in row.tolist()
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _attach_final_metrics(client, df, keys):
    # The probes' final metrics (grad_decay_init, ...) are on the runs; add them as columns.
    for key in keys:
        df[key] = [
            client.get_run(run_id).data.metrics.get(key, math.nan) for run_id in df["run_id"]
        ]
    return df


# --------------------------------------------------------------------------------------
# The entry point
# --------------------------------------------------------------------------------------


def _experiment_name(client, parent, tracking_config):
    name = parent.data.tags.get("sweep.experiment") or parent.data.tags.get("experiment")
    if name:
        return name
    name = client.get_experiment(parent.info.experiment_id).name
    prefix = getattr(tracking_config, "experiment_prefix", "") if tracking_config else ""
    return name[len(prefix) :] if prefix and name.startswith(prefix) else name


def write_report(parent_run_id, *, out_dir=None, client=None, tracking_config=None):
    """Builds the report of one sweep, logs it on the parent run, returns the summary text.

    Args:
        parent_run_id: the sweep's parent run id.
        out_dir: where the files are written (kept); default: a temporary folder removed
            after the files are logged to MLflow (they stay there as `report/*`).
        client: an `mlflow.MlflowClient`; default: one on the current tracking URI.
        tracking_config: a `tracking.TrackingConfig` for the TensorBoard root; default
            `tracking.load_tracking_config()` (mlflow.yaml). Without a usable one the
            TensorBoard part is skipped.

    Returns:
        The terminal summary (also printed).

    Example:

    >>> text = write_report(parent.info.run_id, out_dir="reports/long_dependency")
    """
    from experiments import tracking

    client = client or _default_client()
    parent = client.get_run(parent_run_id)
    info = sweep_info(parent)
    kind = info["report"]
    if kind not in REPORT_KINDS:
        raise ValueError(
            f"Parent run {parent_run_id} asks for report kind {kind!r}; known kinds: {', '.join(REPORT_KINDS)}."
        )
    if tracking_config is None:
        try:
            tracking_config = tracking.load_tracking_config()
        except tracking.TrackingError:
            tracking_config = None
    experiment = _experiment_name(client, parent, tracking_config)
    df = results_from_runs(
        tracking.child_runs(client, parent.info.experiment_id, parent_run_id), info
    )
    title = f"{experiment} ({info['run_name']}): {info['task']}"

    temporary = out_dir is None
    out_dir = pathlib.Path(tempfile.mkdtemp(prefix="report-") if temporary else out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        if df.empty:
            text = f"== {title} ==\nNo FINISHED child runs under parent {parent_run_id}: nothing to report."
            (out_dir / "summary.md").write_text(text + "\n")
            client.log_artifact(parent_run_id, str(out_dir / "summary.md"), "report")
            print(text)
            return text
        summary, horizons, figures, markdown = breakdown_report(df, out_dir, title=title)
        extra_text = ""
        if kind == "depth":
            depths = _depth_of(df)
            figures["horizon_vs_depth"] = plot_horizon_vs_depth(
                horizons, depths, title=f"{title}: horizon vs depth"
            )
        elif kind == "two_weights":
            alpha = _ewma_alpha(df, info)
            histories = {
                run_id: {key: _metric_history(client, run_id, key) for key in ("u", "w")}
                for run_id in df["run_id"]
            }
            # The probe logs the weights at initialization as params: draw them at epoch -1.
            for _, run in df.iterrows():
                for key in ("u", "w"):
                    initial = run.get(f"{key}_init")
                    if isinstance(initial, (int, float)) and math.isfinite(initial):
                        histories[run["run_id"]][key].insert(0, (-1, float(initial)))
            table = two_weights_tables(df, histories, alpha)
            table.to_csv(out_dir / "two_weights.csv", index=False)
            extra_text = "### Final weights (alpha = %s)\n\n" % _fmt(alpha) + _df_to_markdown(table)
            figures["weights"] = plot_two_weights(
                df, histories, alpha, title=f"{title}: u and w during training"
            )
        elif kind == "gradient_flow":
            keys = [
                f"{name}_{when}"
                for name in ("grad_decay", "sigma_max_W", "decay_bound")
                for when in ("init", "trained")
            ]
            df = _attach_final_metrics(client, df, keys)
            table = gradient_flow_table(df)
            table.to_csv(out_dir / "gradient_flow.csv", index=False)
            extra_text = (
                "### Gradient flow (per-step decay factor of |dL/dh_t| fitted over the distance; "
                "bound = max|act'| * sigma_max(W), vanilla only)\n\n" + _df_to_markdown(table)
            )
            figures["gradient_flow"] = plot_gradient_flow_curves(
                _gradient_flow_curves(client, df), title=f"{title}: gradient norm vs distance"
            )
        budget = budget_text(df)
        markdown = f"## {title}\n\n" + (f"{budget}\n\n" if budget else "") + markdown
        if extra_text:
            markdown += "\n" + extra_text
        (out_dir / "summary.md").write_text(markdown)
        for name, figure in figures.items():
            figure.savefig(out_dir / f"{name}.png", dpi=110, bbox_inches="tight")

        # Metrics on the parent: the horizon per curve, so MLflow compares sweeps at a glance.
        for _, row in horizons.iterrows():
            client.log_metric(
                parent_run_id, horizon_metric_name(row["curve"]), float(row["horizon"])
            )
        client.log_artifacts(parent_run_id, str(out_dir), "report")

        where = f"report files: MLflow run {parent_run_id} artifacts report/"
        if not temporary:
            where += f" and {out_dir}"
        if tracking_config is not None:
            tb_dir = os.path.join(
                tracking_config.tb_experiment_dir(experiment),
                "report",
                _tensorboard_safe(info["run_name"]),
            )
            write_tensorboard(tb_dir, figures, summary, horizons, info)
            where += f"; TensorBoard: {tb_dir}"
        text = terminal_summary(summary, horizons, info, title=title, where=where, budget=budget)
        if extra_text and kind == "gradient_flow":
            text += "\n" + extra_text
        print(text)
        return text
    finally:
        import matplotlib.pyplot as plt

        plt.close("all")
        if temporary:
            shutil.rmtree(out_dir, ignore_errors=True)
