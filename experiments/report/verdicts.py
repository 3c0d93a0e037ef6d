"""How sure each verdict is: the cells whose seeds left it open, the seeds added to decide
them (`sweep.seeds`), and each horizon's band over seeds.

- `verdict_state`: the rule itself, shared with the driver that adds the seeds.
- `cell_verdicts`: per curve and length (at its chosen rate), the seeds, the extra seeds,
  the seeds solved, and whether the verdict is decided or still *undecided* (its seeds
  split or sit within `seed_margin` of the threshold, and no seed could be added:
  `max_seeds` off, or the extra runs failed).
- `horizon_bands`: each curve's horizon recomputed on seeds drawn with replacement within
  every cell (a bootstrap, 200 draws, seeded): the 10th and 90th percentiles. A horizon
  whose band is one value does not hang on which seeds were drawn.

Pure functions on results tables (`experiments.report.results`).
"""

import math

import numpy as np
import pandas as pd

from experiments import schema

DECIDED, MORE, UNDECIDED = "decided", "more", "undecided"


def is_marginal(value, threshold, margin):
    """Whether a test metric sits within `margin` (relative) of the threshold."""
    if margin <= 0 or not math.isfinite(value) or not math.isfinite(threshold):
        return False
    return abs(value - threshold) <= margin * abs(threshold)


def verdict_state(solved, marginal, cap):
    """Whether a cell's seeds decide it, and how many seeds it needs next.

    Args:
        solved: per seed, whether it solved (at the cell's rate).
        marginal: per seed, whether its metric sits within the margin of the threshold.
        cap: the most seeds the cell may have (`max_seeds`; no more than it has: none).

    Returns:
        `(state, more)`: `DECIDED` (unanimous and clear, or no seeds still allowed could
        flip "at least half": at the cap, a majority, a tie counting as solved), or `MORE`
        with the seeds to add. (`UNDECIDED` is the report's word for a cell left open
        because no seed could be added: `max_seeds` off, or its extra runs failed.)
    """
    n, k = len(solved), sum(bool(s) for s in solved)
    if n == 0:
        return MORE, cap
    if not any(marginal) and k in (0, n):
        return DECIDED, 0
    cap = max(cap, n)
    # The verdict over `cap` seeds: solved needs ceil(cap / 2) solved, failed more than
    # half failed. Counted so far, the seeds to come cannot undo either once reached.
    need_solved = math.ceil(cap / 2) - k
    need_failed = cap // 2 + 1 - (n - k)
    if need_solved <= 0 or need_failed <= 0:  # always so once `cap` seeds are in
        return DECIDED, 0
    return MORE, min(need_solved, need_failed, cap - n)


BOOTSTRAP_DRAWS = 200
BAND_PERCENTILES = (10, 90)


def cell_verdicts(df, info):
    """One row per (curve, length): `n_seeds`, `n_extra`, `n_solved`, `state`."""
    rows = []
    for (curve, length), cell in df.groupby(["curve", "length"], sort=True):
        solved = (cell[schema.SOLVED] > 0.5).tolist()
        marginal = [
            is_marginal(float(v), info.solved_threshold, info.seed_margin)
            for v in cell["test_metric"]
        ]
        extra = int((cell[schema.EXTRA_SEED] > 0.5).sum()) if schema.EXTRA_SEED in cell else 0
        state = _final_state(solved, marginal, info.max_seeds, len(cell) - extra)
        rows.append(
            {
                "curve": curve,
                "length": length,
                "n_seeds": len(cell),
                "n_extra": extra,
                "n_solved": sum(solved),
                "state": state,
            }
        )
    columns = ["curve", "length", "n_seeds", "n_extra", "n_solved", "state"]
    return pd.DataFrame(rows, columns=columns)


def _final_state(solved, marginal, max_seeds, grid_seeds):
    """A cell's verdict once the sweep is over: decided, or undecided (open, and no seed
    was allowed to decide it: `max_seeds` off, reached, or its extra runs failed)."""
    if not any(marginal) and sum(solved) in (0, len(solved)):
        return DECIDED
    if max_seeds <= grid_seeds:  # the protocol is off: an open cell stays open
        return UNDECIDED
    state, _ = verdict_state(solved, marginal, max(max_seeds, len(solved)))
    return DECIDED if state == DECIDED else UNDECIDED


def horizon_bands(df, draws=BOOTSTRAP_DRAWS, seed=0, min_fraction=0.5):
    """Curve -> `(low, high)`: the 10th and 90th percentile of its bootstrap horizons.

    A draw resamples each cell's seeds with replacement: its solved count is then a
    binomial draw of its seeds at its solved share; the horizon of a draw is the longest
    length up to which every length passes (as `horizon.memory_horizon` counts it).
    """
    rng = np.random.default_rng(seed)
    low, high = BAND_PERCENTILES
    bands = {}
    for curve, runs in df.groupby("curve", sort=True):
        lengths, passes = [], []
        for length, cell in runs.groupby("length", sort=True):
            solved = (cell[schema.SOLVED] > 0.5).to_numpy()
            drawn = rng.binomial(len(solved), solved.mean(), size=draws) / len(solved)
            lengths.append(float(length))
            passes.append(drawn >= min_fraction)
        passed = np.stack(passes)  # (lengths, draws)
        failed_before = np.cumsum(~passed, axis=0) > 0
        reached = np.where(failed_before, 0.0, np.asarray(lengths)[:, None]).max(axis=0)
        bands[curve] = (float(np.percentile(reached, low)), float(np.percentile(reached, high)))
    return bands


def verdicts_markdown(verdicts, bands):
    """Markdown: each horizon's band, then the cells that took extra seeds or stay open."""
    low, high = BAND_PERCENTILES
    lines = [
        f"### How sure the horizons are (bootstrap over seeds, {BOOTSTRAP_DRAWS} draws: "
        f"{low}th-{high}th percentile)",
        "",
        "| curve | horizon band |",
        "|---|---|",
        *(f"| {curve} | {a:g}-{b:g} |" for curve, (a, b) in sorted(bands.items())),
        "",
    ]
    lines += [f"- {sentence}" for sentence in open_sentences(verdicts)]
    return "\n".join(lines) + "\n"


def open_sentences(verdicts):
    """One sentence per cell that took extra seeds or is still undecided."""
    sentences = []
    for _, row in verdicts.iterrows():
        where = f"{row['curve']} at L={row['length']:g}"
        counts = f"{row['n_solved']}/{row['n_seeds']} seeds solved"
        if row["state"] == UNDECIDED:
            sentences.append(
                f"{where}: undecided ({counts}; the seeds split or sit near the threshold): "
                "more seeds (`max_seeds`) would decide it."
            )
        elif row["n_extra"]:
            sentences.append(f"{where}: decided with {row['n_extra']} extra seed(s) ({counts}).")
    return sentences
