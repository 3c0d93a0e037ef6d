"""The budget axis on hand-made results tables: time to solve and horizon against budget."""

import math

import numpy as np

from experiments import schema
from experiments.report import budget
from experiments.report.results import results_table

INFO = schema.SweepInfo(
    metric="mse", higher_is_better=False, chance=1 / 6, solved_threshold=0.01, task="adding"
)
EPOCHS, STEPS = 10, 100  # a budget of 1,000 updates
BUDGET = EPOCHS * STEPS


def table(curves, *, test_unsolved=()):
    """rows from {model: {length: [updates to solve, or None (censored), per seed]}}.

    `test_unsolved`: (model, length, seed) whose validation solved but test did not.
    """
    rows = []
    for model, by_length in curves.items():
        for length, per_seed in by_length.items():
            for seed, updates in enumerate(per_seed):
                censored = updates is None
                solved = not censored and (model, length, seed) not in test_unsolved
                rows.append(
                    {
                        "run_id": f"{model}-{length}-{seed}",
                        "model": model,
                        "length": length,
                        "seed": seed,
                        "test_metric": 0.001 if solved else 0.16,
                        schema.SOLVED: float(solved),
                        schema.DIVERGED: 0.0,
                        schema.UPDATES_TO_SOLVE: float(BUDGET if censored else updates),
                        schema.SOLVE_CENSORED: float(censored),
                        "epochs": EPOCHS,
                        "steps_per_epoch": STEPS,
                        "batch_size": 32,
                    }
                )
    return results_table(rows, INFO)


def horizons(curves, **kwargs):
    """curve -> {fraction: label}."""
    found = budget.budget_horizons(table(curves, **kwargs))
    return {
        curve: dict(zip(group["fraction"], group["label"]))
        for curve, group in found.groupby("curve")
    }


def test_time_to_solve_summary_median_range_and_censoring():
    summary = budget.time_to_solve_summary(
        table({"lstm": {10: [300, 100, 200], 50: [900, None, None], 100: [None, None, None]}})
    ).set_index("length")
    assert summary.loc[10, "median_updates"] == 200 and not summary.loc[10, "median_censored"]
    assert (summary.loc[10, "min_updates"], summary.loc[10, "max_updates"]) == (100, 300)
    assert summary.loc[10, "n_censored"] == 0 and summary.loc[10, "n_solved_in_time"] == 3
    # Two of three censored: the median is only known to exceed the budget.
    assert summary.loc[50, "median_censored"] and summary.loc[50, "median_updates"] == BUDGET
    assert summary.loc[50, "min_updates"] == summary.loc[50, "max_updates"] == 900
    assert summary.loc[50, "n_censored"] == 2
    assert summary.loc[100, "n_solved_in_time"] == 0 and math.isnan(summary.loc[100, "min_updates"])
    assert summary.loc[100, "median_censored"]


def test_even_number_of_seeds_takes_the_lower_median_with_censored_last():
    summary = budget.time_to_solve_summary(table({"gru": {10: [400, None, 100, None]}}))
    assert summary.iloc[0]["median_updates"] == 400 and not summary.iloc[0]["median_censored"]


def test_validation_success_that_the_test_did_not_confirm_is_not_solved():
    df = table({"vanilla": {10: [100, 100, 100]}}, test_unsolved={("vanilla", 10, 0)})
    updates = budget.updates_to_solve_or_inf(df)
    assert np.isinf(updates.iloc[0]) and list(updates.iloc[1:]) == [100, 100]
    row = budget.time_to_solve_summary(df).iloc[0]
    assert row["n_censored"] == 1 and row["n_solved_in_time"] == 2


def test_nothing_solved_gives_no_horizon_at_any_budget():
    found = horizons({"vanilla": {10: [None] * 3, 20: [None] * 3}})
    assert found == {"vanilla": {0.125: "< 10", 0.25: "< 10", 0.5: "< 10", 1.0: "< 10"}}
    verdict = budget.budget_verdicts(
        budget.budget_horizons(table({"vanilla": {10: [None] * 3, 20: [None] * 3}}))
    )
    assert "no length solved" in verdict["vanilla"]


def test_everything_solved_early_is_censored_at_every_budget():
    curves = {"gru": {10: [50, 60, 70], 20: [80, 90, 100]}}
    assert horizons(curves) == {"gru": dict.fromkeys(budget.BUDGET_FRACTIONS, ">= 20")}
    verdict = budget.budget_verdicts(budget.budget_horizons(table(curves)))["gru"]
    assert "every length tested solved, already by half" in verdict


def test_horizon_grows_with_the_budget_and_equals_the_main_horizon_at_the_whole_budget():
    from experiments.report.horizon import memory_horizon, summarize

    curves = {
        # L=10 solved by 120 updates, L=20 by 400, L=50 by 900 (2 of 3 seeds), L=100 never.
        "lstm": {10: [100, 120, 110], 20: [300, 400, None], 50: [800, 900, None], 100: [None] * 3},
        # Solved early and no further, however long it trains: stopped growing.
        "vanilla": {10: [60, 80, 100], 20: [None] * 3, 50: [None] * 3, 100: [None] * 3},
    }
    found = horizons(curves)
    assert found["lstm"] == {0.125: "10", 0.25: "10", 0.5: "20", 1.0: "50"}
    assert found["vanilla"] == {0.125: "10", 0.25: "10", 0.5: "10", 1.0: "10"}
    df = table(curves)
    main = memory_horizon(summarize(df)).set_index("curve")["horizon"]
    at_full = budget.budget_horizons(df).query("fraction == 1.0").set_index("curve")["horizon"]
    assert at_full.to_dict() == main.to_dict()
    verdicts = budget.budget_verdicts(budget.budget_horizons(df))
    assert "still growing" in verdicts["lstm"] and "budget-limited" in verdicts["lstm"]
    assert "20 at 500 -> 50 at 1,000 updates" in verdicts["lstm"]
    assert (
        "stopped growing" in verdicts["vanilla"] and "architecture-limited" in verdicts["vanilla"]
    )


def test_non_monotone_curve_keeps_the_first_breakdown_at_every_budget():
    # L=20 fails at every budget; L=50 is solved (late): the horizon stays 10.
    curves = {"gru": {10: [100, 100, 100], 20: [None] * 3, 50: [600, 700, None]}}
    assert horizons(curves) == {"gru": dict.fromkeys(budget.BUDGET_FRACTIONS, "10")}
    updates = budget.budget_horizons(table(curves))["updates"].tolist()
    assert updates == [125, 250, 500, 1000]


def test_runs_without_time_to_solve_give_no_budget_axis():
    df = table({"gru": {10: [100]}})
    old = df.assign(**{schema.UPDATES_TO_SOLVE: math.nan})
    assert not budget.has_time_to_solve(old)
    assert budget.time_to_solve_summary(old).empty and budget.budget_horizons(old).empty


def test_markdown_tables_show_medians_censoring_and_verdicts():
    curves = {"lstm": {10: [100, 120, 110], 20: [300, 400, None], 50: [None] * 3}}
    df = table(curves)
    text = budget.time_to_solve_markdown(budget.time_to_solve_summary(df))
    assert (
        "| lstm | 110 (100-120) | 400 (300-400), 1/3 not solved | > 1,000, 3/3 not solved |" in text
    )
    found = budget.budget_horizons(df)
    markdown = budget.budget_markdown(found, budget.budget_verdicts(found))
    assert (
        "| lstm | 10 (125 updates) | 10 (250 updates) | 20 (500 updates) | 20 (1,000 updates) |"
        in markdown
    )
    assert "- lstm: horizon stopped growing" in markdown


def test_figures_draw_censored_points_at_the_budget():
    curves = {"lstm": {10: [100, 120, 110], 20: [300, None, None]}, "vanilla": {10: [None] * 3}}
    df = table(curves)
    from experiments.plots.budget import plot_budget_horizons, plot_time_to_solve

    figure = plot_time_to_solve(
        budget.time_to_solve_summary(df), df, budget.updates_to_solve_or_inf(df)
    )
    axes = figure.axes[0]
    assert axes.get_xscale() == "log" and axes.get_yscale() == "log"
    open_markers = [
        c for c in axes.collections if len(c.get_offsets()) and not len(c.get_facecolors())
    ]
    censored = np.concatenate([c.get_offsets() for c in open_markers])
    # At the budget, beside their length (curves sharing a point are spread by a few %).
    assert set(censored[:, 1]) == {BUDGET}
    assert sorted(np.round(censored[:, 0], -1).tolist()) == [10] * 3 + [20] * 2
    figure = plot_budget_horizons(budget.budget_horizons(df), [10, 20])
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == ["none", "10", "20"]


def _run_solve_timer(val_mse_per_epoch, *, stop_when_solved, patience):
    """Feeds a validation history to the training's SolveTimer; returns (timer, epochs run)."""
    import types

    import datasets
    from experiments.config import Hyperparameters
    from experiments.training import callbacks

    hp = Hyperparameters(stop_when_solved=stop_when_solved, solved_patience=patience)
    timer = callbacks.solve_timer(datasets.make("adding", length=10), hp)
    model = types.SimpleNamespace(stop_training=False)
    timer.set_model(model)
    for epoch, value in enumerate(val_mse_per_epoch):
        timer.on_epoch_end(epoch, {"val_mse": value})
        if model.stop_training:
            return timer, epoch + 1
    return timer, len(val_mse_per_epoch)


def test_solve_timer_records_the_first_crossing_and_stops_after_the_patience():
    history = [0.1, 0.009, 0.011, 0.008, 0.007, 0.006, 0.005]
    timer, epochs = _run_solve_timer(history, stop_when_solved=True, patience=3)
    # First solved at epoch 1; solved three validations in a row only at epochs 3, 4, 5.
    assert timer.solved_epoch == 1 and timer.stopped_epoch == 5 and epochs == 6
    timer, epochs = _run_solve_timer(history, stop_when_solved=True, patience=1)
    assert timer.solved_epoch == 1 and timer.stopped_epoch == 1 and epochs == 2
    timer, epochs = _run_solve_timer(history, stop_when_solved=False, patience=1)
    assert timer.solved_epoch == 1 and timer.stopped_epoch is None and epochs == len(history)
    timer, _ = _run_solve_timer([0.1, 0.2, float("nan")], stop_when_solved=True, patience=1)
    assert timer.solved_epoch is None and timer.stopped_epoch is None


def test_time_to_solve_counts_updates_to_the_first_crossing_or_censors_at_the_budget():
    from experiments.config import Hyperparameters
    from experiments.training.callbacks import time_to_solve

    hp = Hyperparameters(steps_per_epoch=100, batch_size=32)
    assert time_to_solve(1, 6, hp, diverged=False) == {
        schema.UPDATES_TO_SOLVE: 200,
        schema.SEQUENCES_TO_SOLVE: 6400,
        schema.SOLVE_CENSORED: 0,
    }
    assert time_to_solve(None, 15, hp, diverged=False)[schema.UPDATES_TO_SOLVE] == 1500
    assert time_to_solve(None, 15, hp, diverged=False)[schema.SOLVE_CENSORED] == 1
    assert time_to_solve(2, 4, hp, diverged=True)[schema.SOLVE_CENSORED] == 1


def test_time_to_solve_figure_when_no_run_solved_has_a_range_and_no_warning():
    import warnings

    from experiments.plots.budget import plot_time_to_solve

    df = table({"vanilla": {5: [None], 10: [None]}, "gru": {5: [None], 10: [None]}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figure = plot_time_to_solve(
            budget.time_to_solve_summary(df), df, budget.updates_to_solve_or_inf(df)
        )
        figure.tight_layout()
    low, high = figure.axes[0].get_ylim()
    assert low < BUDGET < high
