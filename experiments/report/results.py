"""A sweep's results as a table: one row per FINISHED child run, read back from MLflow.

`results_from_runs` takes MLflow `Run` objects; `results_table` takes plain rows, so the
tests (and the analysis functions downstream) can work on hand-made tables.
"""

import math

import numpy as np
import pandas as pd

from experiments import schema
from experiments.report.rates import RATE_AXIS

# Columns every results table has, whatever the runs logged.
BASE_COLUMNS = (
    "run_id",
    "run_name",
    schema.MODEL,
    schema.LENGTH,
    schema.SEED,
    "test_metric",
    "val_metric",
    schema.EXTRA_SEED,
    *schema.RESULT_METRICS,
    schema.NOT_RUN,
)
_TEXT_COLUMNS = ("run_id", "run_name", schema.MODEL, schema.NOT_RUN)


def number(text):
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


def results_from_runs(runs, info):
    """One row per FINISHED child run (pure: takes MLflow `Run` objects).

    Args:
        runs: MLflow `Run` objects (children of one parent), oldest first.
        info: the sweep's `schema.SweepInfo`.

    Returns:
        A DataFrame with columns `run_id`, `run_name`, `model`, `length`, `seed`,
        `test_metric` (the value of `test_<metric>`), `val_metric` (the last epoch's
        `val_<metric>`), `test_loss`, `solved`, `diverged`,
        `train_time_s`, the time to solve, `not_run` (the reason a skipped point was not
        trained, else ""), `test_max_abs_error` where a run logged it, and one column per
        other param (numbers parsed), sorted by
        model, length, seed. `df.attrs` holds `info` and `axes` (the extra curve axes).
    """
    metric_key = schema.test_metric_name(info.metric)
    rows = []
    seen = set()
    for run in runs:
        if run.info.status != schema.STATUS_FINISHED:
            continue
        # One row per grid point: a store written by two drivers at once (before sweeps
        # were claimed) may hold two FINISHED runs of a point; the first one counts.
        point = run.data.tags.get(schema.GRID_POINT, run.info.run_name)
        if point in seen:
            continue
        seen.add(point)
        params = {key: number(value) for key, value in run.data.params.items()}
        metrics = run.data.metrics
        row = {
            "run_id": run.info.run_id,
            "run_name": run.info.run_name,
            **params,
            "test_metric": metrics.get(metric_key, math.nan),
            # The last epoch's validation metric: what the rate protocol chooses on.
            "val_metric": metrics.get(f"val_{info.metric}", math.nan),
            schema.NOT_RUN: run.data.tags.get(schema.NOT_RUN, ""),
            schema.EXTRA_SEED: float(run.data.tags.get(schema.EXTRA_SEED, "0") == "1"),
        }
        for key in schema.RESULT_METRICS:
            row[key] = metrics.get(key, math.nan)
        for key in schema.OPTIONAL_RESULT_METRICS:
            if key in metrics:
                row[key] = metrics[key]
        rows.append(row)
    return results_table(rows, info)


def results_table(rows, info):
    """Builds a results table from rows (dicts or a DataFrame); also for hand-made tables.

    Args:
        rows: records with at least `model`, `length`, `seed`, `test_metric`, and
            optionally `solved`, `diverged`, other params.
        info: the sweep's `schema.SweepInfo`.

    Returns:
        The table with `solved` filled in from the threshold where missing, a `curve`
        label column, and `attrs` `info` and `axes`.
    """
    df = pd.DataFrame(rows).copy()
    for column in BASE_COLUMNS:
        if column not in df:
            df[column] = pd.Series(dtype=object if column in _TEXT_COLUMNS else float)
    if len(df):
        # A run without a `solved` metric (older logs) is judged from its test metric.
        missing = df[schema.SOLVED].isna()
        if missing.any():
            judged = [float(info.is_solved(v)) for v in df.loc[missing, "test_metric"]]
            df.loc[missing, schema.SOLVED] = judged
        df[schema.SOLVED] = df[schema.SOLVED].fillna(0.0)
        df[schema.DIVERGED] = df[schema.DIVERGED].fillna(0.0)
        # A non-finite metric means the run diverged; a diverged run's metrics describe a
        # broken model, not a memory: they are tabled and drawn as "diverged", not averaged.
        # (MLflow stores an infinite metric as the largest double.)
        metric = pd.to_numeric(df["test_metric"], errors="coerce").astype(float)
        infinite = metric.notna() & ~(metric.abs() < np.finfo(float).max)
        df.loc[infinite, schema.DIVERGED] = 1.0
        broken = df[schema.DIVERGED] > 0.5
        df["test_metric"] = metric.where(~broken)
        for column in (schema.TEST_LOSS, *schema.OPTIONAL_RESULT_METRICS):
            if column in df:
                df[column] = pd.to_numeric(df[column], errors="coerce").where(~broken)
        df[schema.NOT_RUN] = df[schema.NOT_RUN].fillna("")
        df[schema.EXTRA_SEED] = df[schema.EXTRA_SEED].fillna(0.0)
        # A point the sweep did not train is never solved (it has no test metric either).
        df.loc[df[schema.NOT_RUN] != "", schema.SOLVED] = 0.0
        df = df.sort_values(["model", "length", "seed"], kind="stable").reset_index(drop=True)
    df.attrs["info"] = info
    df.attrs["axes"] = curve_axes(df, info.grid_axes or None)
    df["curve"] = curve_labels(df, df.attrs["axes"])
    return df


def curve_axes(df, candidates=None):
    """The params besides model, length and seed that split a model's runs into curves.

    A param is a curve axis when it takes more than one value among the runs of one model
    (e.g. `num_layers` or `activation` swept as grid axes); params fixed per model variant
    (`kind`, a variant's `units`) are not, nor is the learning rate, which the rate protocol
    chooses per cell (`report.rates`).

    Args:
        df: a results table.
        candidates: the sweep's grid axes when known (from the parent's `grid.*` params):
            only those can be curve axes, so per-run params such as a probe's `u_init` never
            split curves. None: every param is a candidate (hand-made tables).
    """
    if df.empty or "model" not in df:
        return []
    # The learning rate is chosen per cell (`report.rates`), never a curve of its own.
    skip = {
        *schema.DESCRIPTIVE_PARAMS,
        *BASE_COLUMNS,
        *schema.OPTIONAL_RESULT_METRICS,
        "curve",
        RATE_AXIS,
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


def split_not_run(df):
    """`(trained, not_run)`: the rows of runs that trained, and of points not trained."""
    skipped = df[schema.NOT_RUN].fillna("") != ""
    trained, not_run = df[~skipped].copy(), df[skipped].copy()
    for part in (trained, not_run):
        part.attrs = dict(df.attrs)
    return trained, not_run
