"""The horizon a gradient's decay predicts, beside the horizon measured.

The vanishing-gradient account of the breakdown: back-propagated through d steps, the
gradient of the loss shrinks like rho^d, where rho is the per-step decay factor the
`gradient_flow` probe fits (`grad_decay_init`, `grad_decay_trained`). If a length is
learnable only while the gradient reaching back across it stays above some level g*,
then every lever's horizon H satisfies rho^H >= g* and the next length does not.

This module calibrates g* on the runs themselves: it is what the longest solved length
received, the weakest rho^H with which a lever solved its longest length. Each lever is
predicted from the other levers (leave one out: a lever's own horizon never sets its own
threshold, so no prediction agrees by construction): with log_threshold = min over the
other levers that solved a length and whose gradient decays of H ln rho, its predicted
horizon is the length at which its gradient falls below that,

    L* = log_threshold / ln(rho)   (rho < 1; rho >= 1 does not vanish: L* = inf),

and the prediction agrees with the measurement when it falls on the same tested length:
at least the measured horizon and short of the next length tested. Pure functions on
results tables (`experiments.report.results`) that carry the probe's decay columns.
"""

import math

import numpy as np
import pandas as pd

from experiments import schema
from experiments.report.horizon import memory_horizon, summarize

WHEN = schema.PROBE_WHEN
# A prediction that lands on a tested length up to floating-point rounding (a log and a
# division) counts as that length.
_ROUNDING = 1e-9
AGREES, LONGER, SHORTER, UNKNOWN = "agrees", "predicts longer", "predicts shorter", "unknown"


def decay_column(when):
    """The probe's metric of the fitted per-step decay: `grad_decay_init` / `_trained`."""
    return schema.probe_metric_name(schema.GRAD_DECAY, when)


def seed_horizons(df):
    """Each seed's own horizon, per curve: the longest length it solved with every shorter
    one solved (the curve's horizon asks this of half of the seeds).

    Returns:
        A DataFrame, one row per curve and seed: `curve`, `seed`, `horizon`, `censored`.
    """
    rows = []
    for (curve, seed), runs in df.groupby(["curve", "seed"], sort=True):
        row = memory_horizon(summarize(runs), min_fraction=1.0).iloc[0]
        rows.append(
            {"curve": curve, "seed": seed, "horizon": row["horizon"], "censored": row["censored"]}
        )
    return pd.DataFrame(rows, columns=["curve", "seed", "horizon", "censored"])


def lever_decays(df):
    """Per curve: the median over its runs of the fitted decay at init and after training
    (NaN where the probe did not run)."""
    table = pd.DataFrame({"curve": sorted(df["curve"].unique())})
    for when in WHEN:
        column = decay_column(when)
        values = df[column] if column in df else pd.Series(math.nan, index=df.index)
        medians = pd.to_numeric(values, errors="coerce").groupby(df["curve"]).median()
        table[column] = table["curve"].map(medians)
    return table


def gradient_threshold(horizons, decays, *, excluding=None):
    """The log of what the longest solved length received: min over the levers that solved
    a length and whose gradient decays (rho < 1) of horizon x ln(rho).

    Args:
        horizons: `curve -> measured horizon` (0: nothing solved).
        decays: `curve -> rho` (NaN: not measured).
        excluding: a curve left out (the one being predicted).

    Returns:
        `(log_threshold, curve that set it)`, or `(nan, None)` when no lever qualifies.
    """
    candidates = [
        (horizons[curve] * math.log(rho), curve)
        for curve, rho in decays.items()
        if curve != excluding and curve in horizons and horizons[curve] > 0 and 0 < rho < 1
    ]
    if not candidates:
        return math.nan, None
    return min(candidates)


def predicted_horizon(rho, log_threshold):
    """The length at which a gradient decaying by `rho` per step falls below the threshold.

    Example:

    >>> predicted_horizon(0.5, 10 * math.log(0.5))  # halving each step, threshold 2**-10
    10.0
    """
    if not (math.isfinite(rho) and math.isfinite(log_threshold)) or rho <= 0:
        return math.nan
    if rho >= 1:
        return math.inf
    return log_threshold / math.log(rho)


def judge(predicted, horizon, censored, next_length, lengths):
    """Whether a predicted horizon falls on the measured one (see the module docstring).

    Args:
        predicted: the predicted horizon (inf: no vanishing; NaN: unknown).
        horizon: the measured horizon (0: nothing solved).
        censored: whether every tested length was solved (the horizon is a lower bound).
        next_length: the first length that failed (NaN when censored).
        lengths: the lengths tested.

    Returns:
        `AGREES`, `LONGER`, `SHORTER` or `UNKNOWN`.
    """
    if math.isnan(predicted):
        return UNKNOWN
    if censored:
        return AGREES if predicted >= horizon else SHORTER
    upper = next_length if math.isfinite(next_length) else min(lengths)
    if predicted < horizon * (1 - _ROUNDING):
        return SHORTER
    return AGREES if predicted < upper * (1 - _ROUNDING) else LONGER


def prediction_table(df, horizons):
    """Per curve: the measured horizon, its seed band, and per `when` the decay, the
    threshold from the other levers, the predicted horizon and the verdict.

    Args:
        df: a results table with the probe's columns `grad_decay_init` / `_trained`.
        horizons: `horizon.memory_horizon(summarize(df))`.

    Returns:
        A DataFrame, one row per curve: `curve`, `horizon`, `censored`, `next_length`,
        `seed_min`, `seed_median`, `seed_max`, and per when `grad_decay_<when>`,
        `threshold_<when>` (the log threshold), `reference_<when>` (the lever that set
        it), `predicted_<when>`, `verdict_<when>`.
    """
    bands = seed_horizons(df).groupby("curve")["horizon"].agg(["min", "median", "max"])
    table = horizons[["curve", "horizon", "censored", "next_length"]].copy()
    table["seed_min"] = table["curve"].map(bands["min"])
    table["seed_median"] = table["curve"].map(bands["median"])
    table["seed_max"] = table["curve"].map(bands["max"])
    decays = lever_decays(df).set_index("curve")
    measured = dict(zip(table["curve"], table["horizon"]))
    lengths = sorted(df["length"].unique().tolist())
    for when in WHEN:
        column = decay_column(when)
        rho = dict(zip(table["curve"], table["curve"].map(decays[column]).astype(float)))
        thresholds = [gradient_threshold(measured, rho, excluding=c) for c in table["curve"]]
        predicted = [predicted_horizon(rho[c], t) for c, (t, _) in zip(table["curve"], thresholds)]
        table[column] = [rho[c] for c in table["curve"]]
        table[f"threshold_{when}"] = [t for t, _ in thresholds]
        table[f"reference_{when}"] = [reference or "" for _, reference in thresholds]
        table[f"predicted_{when}"] = predicted
        table[f"verdict_{when}"] = [
            judge(p, row["horizon"], bool(row["censored"]), float(row["next_length"]), lengths)
            for p, (_, row) in zip(predicted, table.iterrows())
        ]
    return table.reset_index(drop=True)


def on_grid(predicted, lengths):
    """A predicted horizon as the tested lengths read it: the longest length at most it
    (`">= L"` past the longest, `"< L"` before the shortest, `"-"` unknown)."""
    if math.isnan(predicted):
        return "-"
    lengths = sorted(lengths)
    if predicted >= lengths[-1]:
        return f">= {lengths[-1]:g}"
    below = [length for length in lengths if length <= predicted * (1 + _ROUNDING)]
    return f"{below[-1]:g}" if below else f"< {lengths[0]:g}"


def agreement_counts(table):
    """Per when: `(levers that agree, levers measured)`."""
    counts = {}
    for when in WHEN:
        verdicts = np.asarray(table[f"verdict_{when}"])
        measured = verdicts != UNKNOWN
        counts[when] = (int(np.sum(verdicts[measured] == AGREES)), int(np.sum(measured)))
    return counts
