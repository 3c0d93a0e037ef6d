"""The learning-rate protocol of the report: each (curve, length) cell takes the rate its
runs did best with on validation, never on test; the horizon comes from the chosen cells;
the horizon at every rate is shown; a choice at the grid's edge is flagged."""

import math

import pandas as pd

from experiments import schema
from experiments.report import budget, rates
from experiments.report.horizon import memory_horizon, summarize
from experiments.report.results import results_table

INFO = schema.SweepInfo(metric="mse", chance=1 / 6, solved_threshold=0.01, task="adding")


def _rows(cells):
    """cells: (model, length, lr) -> [(val, test), ...] one pair per seed."""
    return [
        {"model": m, "length": n, "seed": s, "lr": lr, "val_metric": val, "test_metric": test}
        for (m, n, lr), seeds in cells.items()
        for s, (val, test) in enumerate(seeds)
    ]


SOLVED, FAILED = (0.004, 0.004), (0.1, 0.1)


def test_the_rate_is_chosen_on_validation_even_where_test_would_choose_another():
    df = results_table(
        _rows(
            {
                # lr 0.001 looks best on validation, lr 0.01 would look best on test.
                ("vanilla", 10, 0.001): [(0.005, 0.02)] * 3,
                ("vanilla", 10, 0.01): [(0.02, 0.004)] * 3,
            }
        ),
        INFO,
    )
    chosen, choice = rates.choose_rates(df, INFO)
    assert chosen["lr"].tolist() == [0.001] * 3
    assert chosen["test_metric"].tolist() == [0.02] * 3  # the chosen rate's test result
    assert not chosen[schema.SOLVED].any()
    (row,) = choice.choices.to_dict("records")
    assert row["lr"] == 0.001 and row["val_solved"] == 3 and row["edge"] == "smallest"
    assert memory_horizon(summarize(chosen))["horizon"].tolist() == [0]


def test_seeds_solved_on_validation_come_before_the_median():
    df = results_table(
        _rows(
            {
                # Two of three seeds solved (median 0.009), against none (but median 0.011).
                ("lstm", 20, 0.001): [(0.002, 0.002), (0.009, 0.009), (0.5, 0.5)],
                ("lstm", 20, 0.003): [(0.011, 0.011)] * 3,
                ("lstm", 20, 0.01): [(0.012, 0.012)] * 3,
            }
        ),
        INFO,
    )
    _, choice = rates.choose_rates(df, INFO)
    assert choice.choices["lr"].tolist() == [0.001]
    assert choice.choices["val_solved"].tolist() == [2]


def test_each_length_chooses_its_own_rate_and_the_horizon_comes_from_the_choices():
    cells = {
        ("vanilla", 10, 0.001): [SOLVED] * 3,
        ("vanilla", 10, 0.003): [SOLVED] * 3,
        ("vanilla", 10, 0.01): [FAILED] * 3,
        ("vanilla", 20, 0.001): [FAILED] * 3,
        ("vanilla", 20, 0.003): [SOLVED] * 3,
        ("vanilla", 20, 0.01): [FAILED] * 3,
        ("vanilla", 50, 0.001): [FAILED] * 3,
        ("vanilla", 50, 0.003): [FAILED] * 3,
        ("vanilla", 50, 0.01): [FAILED] * 3,
    }
    df = results_table(_rows(cells), INFO)
    assert df["curve"].unique().tolist() == ["vanilla"]  # the rate is no curve of its own
    chosen, choice = rates.choose_rates(df, INFO)
    by_length = dict(zip(choice.choices["length"], choice.choices["lr"]))
    assert by_length == {10: 0.001, 20: 0.003, 50: 0.001}  # a tie: the smaller rate
    horizons = memory_horizon(summarize(chosen))
    assert horizons["horizon"].tolist() == [20]
    alone = dict(zip(choice.sensitivity["lr"], choice.sensitivity["label"]))
    assert alone == {0.001: "10", 0.003: "20", 0.01: "< 10"}
    edges = dict(zip(choice.choices["length"], choice.choices["edge"]))
    assert edges == {10: "smallest", 20: "", 50: "smallest"}
    text = rates.choices_markdown(choice)
    assert "0.001* (3/3)" in text and "0.003 (3/3)" in text
    assert "vanilla: the best rate at L = 10, 50 is the grid's smallest (0.001)" in text
    assert "widen the grid" in rates.terminal_lines(choice)


def test_a_horizon_another_rate_moves_is_not_called_architecture_limited():
    budget_table = pd.DataFrame(
        [
            {"curve": "vanilla", "fraction": f, "updates": 1000 * f, "horizon": 10}
            | {"censored": False, "label": "10"}
            for f in (0.5, 1.0)
        ]
    )
    plain = budget.budget_verdicts(budget_table)["vanilla"]
    assert "architecture-limited" in plain and "rate" not in plain  # one rate: not named
    alone = budget.budget_verdicts(budget_table, {})["vanilla"]
    assert alone.endswith("(nor did another rate of the grid).")
    moved = budget.budget_verdicts(budget_table, {"vanilla": [0.001]})["vanilla"]
    assert "not architecture-limited" in moved and "0.001" in moved


def test_the_rate_moves_the_verdict_only_where_one_rate_alone_beats_the_choice():
    cells = {
        # Validation picks 0.01 at L=20 (its median is better), whose test fails; 0.001
        # alone solves L=20 on test.
        ("gru", 10, 0.001): [SOLVED] * 3,
        ("gru", 10, 0.01): [SOLVED] * 3,
        ("gru", 20, 0.001): [(0.011, 0.005)] * 3,
        ("gru", 20, 0.01): [(0.0105, 0.05)] * 3,
    }
    df = results_table(_rows(cells), INFO)
    chosen, choice = rates.choose_rates(df, INFO)
    horizons = memory_horizon(summarize(chosen))
    assert horizons["horizon"].tolist() == [10]
    assert rates.other_rate_moves_horizon(choice, horizons) == {"gru": [0.001]}


def test_one_rate_is_no_choice():
    df = results_table(_rows({("vanilla", 10, 0.003): [SOLVED] * 2}), INFO)
    chosen, choice = rates.choose_rates(df, INFO)
    assert choice is None and chosen is df


def test_a_diverged_rate_is_never_chosen_over_one_that_trained():
    cells = {
        ("vanilla", 10, 0.001): [(0.05, 0.05)] * 2,
        ("vanilla", 10, 0.1): [(math.nan, math.nan)] * 2,
    }
    df = results_table(_rows(cells), INFO)
    _, choice = rates.choose_rates(df, INFO)
    assert choice.choices["lr"].tolist() == [0.001]
