"""The `horizon_levers` report's analysis, on hand-made results tables: the horizon a
gradient's decay predicts (against synthetic decays with known answers), the seed bands,
the verdicts, and Hochreiter & Schmidhuber's criterion beside MSE <= 0.01."""

import math

import numpy as np
import pytest

from experiments import config, schema
from experiments.probes.measure import fit_decay_factor
from experiments.report import decay_prediction, hs_criterion
from experiments.report.decay_prediction import (
    AGREES,
    LONGER,
    SHORTER,
    UNKNOWN,
    gradient_threshold,
    on_grid,
    predicted_horizon,
    prediction_table,
    seed_horizons,
)
from experiments.report.horizon import memory_horizon, summarize
from experiments.report.results import results_table

INFO = schema.SweepInfo(metric="mse", chance=1 / 6, solved_threshold=0.01, task="adding")
LENGTHS = [10, 20, 50, 100]


def table(levers):
    """Rows from {lever: ({length: [mse per seed]}, decay init, decay trained)}."""
    rows = []
    for lever, (by_length, init, trained) in levers.items():
        for length, values in by_length.items():
            for seed, value in enumerate(values):
                rows.append(
                    {
                        "run_id": f"{lever}-{length}-{seed}",
                        "model": lever,
                        "length": length,
                        "seed": seed,
                        "test_metric": value,
                        "grad_decay_init": init,
                        "grad_decay_trained": trained,
                    }
                )
    return results_table(rows, INFO)


def test_the_predicted_horizon_of_a_synthetic_decay_is_the_known_length():
    # Norms c * rho^d, fitted as the probe fits them: rho comes back exactly.
    distances = np.arange(60)
    fast = fit_decay_factor(distances, 2.0 * 0.8**distances)
    slow = fit_decay_factor(distances, 3.0 * 0.8 ** (distances / 2))  # half the rate
    assert fast == pytest.approx(0.8) and slow == pytest.approx(math.sqrt(0.8))
    # The fast lever solved 20 steps: the threshold is what 20 steps of 0.8 leave, 0.8^20
    # (the slow lever, predicted, is left out of its own threshold).
    log_threshold, reference = gradient_threshold(
        {"fast": 20, "slow": 20}, {"fast": fast, "slow": slow}, excluding="slow"
    )
    assert reference == "fast" and log_threshold == pytest.approx(20 * math.log(0.8))
    # Decaying at half the rate, the same gradient is reached twice as far back: 40 steps.
    assert predicted_horizon(slow, log_threshold) == pytest.approx(40.0)
    assert predicted_horizon(fast, log_threshold) == pytest.approx(20.0)
    assert predicted_horizon(0.5, 10 * math.log(0.5)) == pytest.approx(10.0)
    assert predicted_horizon(1.0, log_threshold) == math.inf  # no vanishing
    assert predicted_horizon(1.3, log_threshold) == math.inf
    assert math.isnan(predicted_horizon(math.nan, log_threshold))
    assert math.isnan(predicted_horizon(0.9, math.nan))
    assert on_grid(40.0, LENGTHS) == "20" and on_grid(math.inf, LENGTHS) == ">= 100"
    assert on_grid(7.0, LENGTHS) == "< 10" and on_grid(math.nan, LENGTHS) == "-"


def test_the_threshold_is_the_weakest_gradient_any_lever_solved_with():
    # a: 0.9^20 = e^-2.1; b: 0.5^10 = e^-6.9 (the weakest); c solved nothing; d does not decay.
    horizons = {"a": 20, "b": 10, "c": 0, "d": 50}
    decays = {"a": 0.9, "b": 0.5, "c": 0.1, "d": 1.05}
    log_threshold, reference = gradient_threshold(horizons, decays)
    assert reference == "b" and log_threshold == pytest.approx(10 * math.log(0.5))
    nothing, reference = gradient_threshold({"a": 0, "d": 50}, {"a": 0.9, "d": 1.05})
    assert math.isnan(nothing) and reference is None


def test_verdicts_on_the_tested_lengths():
    judge = decay_prediction.judge
    # Measured horizon 20, next length 50: a prediction in [20, 50) agrees.
    assert judge(20.0, 20, False, 50.0, LENGTHS) == AGREES
    assert judge(49.9, 20, False, 50.0, LENGTHS) == AGREES
    assert judge(50.0, 20, False, 50.0, LENGTHS) == LONGER
    assert judge(math.inf, 20, False, 50.0, LENGTHS) == LONGER
    assert judge(19.0, 20, False, 50.0, LENGTHS) == SHORTER
    # Nothing solved (next length = the shortest), everything solved (a lower bound).
    assert judge(8.0, 0, False, 10.0, LENGTHS) == AGREES
    assert judge(12.0, 0, False, 10.0, LENGTHS) == LONGER
    assert judge(math.inf, 100, True, math.nan, LENGTHS) == AGREES
    assert judge(60.0, 100, True, math.nan, LENGTHS) == SHORTER
    assert judge(math.nan, 20, False, 50.0, LENGTHS) == UNKNOWN


def test_prediction_table_seed_bands_and_verdicts_on_a_hand_made_sweep():
    solved, failed = 0.001, 0.16
    df = table(
        {
            # Horizon 10 (3 seeds), decay 0.5 at init: 0.5^10 is the weakest gradient solved.
            "tanh": ({10: [solved] * 3, 20: [failed] * 3}, 0.5, 0.6),
            # Horizon 20 (seeds 10 / 20 / 50), decay 0.5^(1/3) at init: from tanh's
            # threshold it predicts 30, within [20, 50): agrees.
            "irnn": (
                {10: [solved] * 3, 20: [solved, solved, failed], 50: [solved, failed, failed]},
                0.5 ** (1 / 3),
                0.6,
            ),
            # Does not decay at init: predicts beyond every length; measured 50 -> longer.
            "lstm": (
                {10: [solved] * 3, 20: [solved] * 3, 50: [solved] * 3, 100: [failed] * 3},
                1.02,
                math.nan,
            ),
        }
    )
    horizons = memory_horizon(summarize(df))
    levers = prediction_table(df, horizons).set_index("curve")
    # Each lever is predicted from the others: tanh from irnn's 0.5^(20/3), irnn from tanh's.
    assert levers.loc["irnn", "reference_init"] == "tanh"
    assert levers.loc["irnn", "threshold_init"] == pytest.approx(10 * math.log(0.5))
    assert levers.loc["irnn", "predicted_init"] == pytest.approx(30.0)
    assert levers.loc["tanh", "reference_init"] == "irnn"
    assert levers.loc["tanh", "predicted_init"] == pytest.approx(20 / 3)
    assert list(levers["verdict_init"]) == [AGREES, LONGER, SHORTER]  # irnn, lstm, tanh
    # After training both decay by 0.6: irnn's 0.6^20 predicts tanh 20 (longer than 10),
    # tanh's 0.6^10 predicts irnn 10 (shorter than 20); the lstm was not measured.
    assert list(levers["verdict_trained"]) == [SHORTER, UNKNOWN, LONGER]
    assert (levers.loc["irnn", ["seed_min", "seed_median", "seed_max"]] == [10, 20, 50]).all()
    assert levers.loc["irnn", "horizon"] == 20
    seeds = seed_horizons(df)
    assert sorted(seeds[seeds["curve"] == "irnn"]["horizon"]) == [10, 20, 50]
    counts = decay_prediction.agreement_counts(levers.reset_index())
    assert counts == {"init": (1, 3), "trained": (0, 2)}


def test_hs_criterion_is_every_test_error_below_0_04_by_hand():
    from experiments.report.hs_criterion import (
        HS_MAX_ABS_ERROR,
        hs_markdown,
        hs_summary,
        meets_criterion,
    )

    assert HS_MAX_ABS_ERROR == 0.04
    import pandas as pd

    assert meets_criterion(pd.Series([0.039, 0.04, 0.2, math.nan])).tolist() == [
        True,
        False,
        False,
        False,
    ]
    rows = []
    # MSE solves both lengths on every seed; the largest errors: L=10 0.01, 0.03, 0.05
    # (2 of 3 meet H&S: solved), L=20 0.035, 0.06, 0.07 (1 of 3: not solved).
    for length, errors in {10: [0.01, 0.03, 0.05], 20: [0.035, 0.06, 0.07]}.items():
        for seed, error in enumerate(errors):
            rows.append(
                {
                    "run_id": f"{length}-{seed}",
                    "model": "lstm",
                    "length": length,
                    "seed": seed,
                    "test_metric": 0.001,
                    schema.TEST_MAX_ABS_ERROR: error,
                }
            )
    df = results_table(rows, INFO)
    assert hs_criterion.applies(df, INFO)
    assert not hs_criterion.applies(df, schema.SweepInfo(task="copy_memory"))
    summary, horizons = hs_summary(df)
    assert summary["n_solved"].tolist() == [2, 1] and summary["max"].tolist() == [0.05, 0.07]
    assert horizons.iloc[0]["horizon"] == 10
    main = memory_horizon(summarize(df))
    assert main.iloc[0]["horizon"] == 20 and bool(main.iloc[0]["censored"])
    text = hs_markdown(summary, horizons, main)
    assert "| lstm | 2/3 (max 0.05) | 1/3 (max 0.07) |" in text
    assert "| lstm | >= 20 | 10 |" in text


def test_the_named_experiment_has_every_lever_under_one_budget():
    cfg = config.load_config("horizon_levers", "quick")
    points = config.expand_grid(cfg)
    levers = {p.model: p for p in points}
    assert set(levers) == {
        "tanh",
        "orthogonal_0_9",
        "orthogonal_1_1",
        "tanh_no_clip",
        "irnn",
        "lstm",
    }
    assert {(p.hyperparameters.epochs, p.hyperparameters.steps_per_epoch) for p in points} == {
        (15, 100)
    }
    tanh, irnn = levers["tanh"].hyperparameters, levers["irnn"].hyperparameters
    assert (tanh.activation, tanh.recurrent_initializer, tanh.clipnorm) == (
        "tanh",
        "orthogonal",
        1.0,
    )
    assert levers["tanh_no_clip"].hyperparameters.clipnorm is None
    assert irnn.activation == "relu" and irnn.recurrent_initializer["class_name"] == "Identity"
    assert irnn.lr < tanh.lr and irnn.clipnorm == 1.0
    gains = {
        name: levers[name].hyperparameters.recurrent_initializer["config"]["gain"]
        for name in ("orthogonal_0_9", "orthogonal_1_1")
    }
    assert gains == {"orthogonal_0_9": 0.9, "orthogonal_1_1": 1.1}
    assert cfg.settings.report == "horizon_levers" and cfg.settings.probes == ["gradient_flow"]
