"""Tests of experiments/report on hand-made results tables and a hand-made MLflow store."""

import dataclasses
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd
import pytest

from experiments import report, schema
from experiments.plots.breakdown import plot_breakdown
from experiments.report.gradient_flow import gradient_flow_table
from experiments.report.horizon import format_horizon, memory_horizon, summarize
from experiments.report.results import results_table
from experiments.report.text import (
    baseline_losses,
    budget_text,
    loss_table,
    markdown_tables,
    terminal_summary,
    verdict_text,
)
from experiments.report.two_weights import two_weights_table

ADDING_INFO = schema.SweepInfo(
    metric="mse",
    higher_is_better=False,
    chance=1 / 6,
    solved_threshold=0.01,
    task="adding",
    report="breakdown",
    run_name="hand-made",
    profile="quick",
)


def table(curves, info=ADDING_INFO):
    """rows from {model: {length: [metric per seed]}}; solved is derived from the threshold."""
    rows = []
    for model, by_length in curves.items():
        for length, values in by_length.items():
            for seed, value in enumerate(values):
                rows.append(
                    {
                        "run_id": f"{model}-{length}-{seed}",
                        "run_name": f"{model}-L{length}-s{seed}",
                        "model": model,
                        "length": length,
                        "seed": seed,
                        "test_metric": value,
                    }
                )
    return results_table(rows, info)


def horizons_of(curves, info=ADDING_INFO):
    return memory_horizon(summarize(table(curves, info))).set_index("curve")


# --------------------------------------------------------------------------------------
# memory_horizon: the rule and its edge cases
# --------------------------------------------------------------------------------------


def test_horizon_is_the_last_length_before_the_first_failure_with_the_next_result():
    h = horizons_of(
        {"vanilla": {10: [0.001, 0.002, 0.003], 50: [0.005, 0.2, 0.004], 100: [0.17, 0.16, 0.17]}}
    )
    row = h.loc["vanilla"]
    assert row["horizon"] == 50 and not row["censored"] and not row["non_monotone"]
    assert row["next_length"] == 100 and row["next_solved"] == "0/3"
    assert row["next_mean"] == pytest.approx(0.5 / 3)
    assert row["horizon_mean"] == pytest.approx((0.005 + 0.2 + 0.004) / 3)


def test_horizon_when_nothing_is_solved():
    row = horizons_of({"vanilla": {10: [0.1, 0.2], 50: [0.17, 0.17]}}).loc["vanilla"]
    assert row["horizon"] == 0 and not row["censored"]
    assert row["next_length"] == 10 and row["next_solved"] == "0/2"
    assert row["longest_solved"] == 0
    assert format_horizon(row) == "< 10"


def test_horizon_when_everything_is_solved_is_censored():
    row = horizons_of({"lstm": {10: [0.001], 50: [0.001], 200: [0.009]}}).loc["lstm"]
    assert row["horizon"] == 200 and row["censored"]
    assert math.isnan(row["next_length"]) and row["next_solved"] == ""
    assert format_horizon(row) == ">= 200"


def test_non_monotone_curve_keeps_the_first_breakdown_and_flags_it():
    row = horizons_of(
        {"gru": {10: [0.001, 0.001], 20: [0.1, 0.2], 40: [0.001, 0.005], 80: [0.17, 0.17]}}
    ).loc["gru"]
    assert row["horizon"] == 10 and row["next_length"] == 20
    assert row["non_monotone"] and row["longest_solved"] == 40


def test_half_of_the_seeds_is_enough_and_less_is_not():
    h = horizons_of(
        {
            "a": {10: [0.001, 0.001, 0.5, 0.5], 20: [0.5] * 4},  # 2/4 solved: counts
            "b": {10: [0.001, 0.5, 0.5], 20: [0.5] * 3},  # 1/3 solved: does not
        }
    )
    assert h.loc["a", "horizon"] == 10
    assert h.loc["b", "horizon"] == 0


def test_diverged_runs_count_as_not_solved_and_accuracy_metrics_use_higher_is_better():
    info = dataclasses.replace(
        ADDING_INFO, metric="accuracy", higher_is_better=True, chance=0.125, solved_threshold=0.99
    )
    rows = [
        {
            "model": "vanilla",
            "length": 4,
            "seed": s,
            "test_metric": 1.0,
            "solved": 1.0,
            "diverged": 0.0,
        }
        for s in range(2)
    ] + [
        {
            "model": "vanilla",
            "length": 8,
            "seed": 0,
            "test_metric": 0.995,
            "solved": 0.0,
            "diverged": 1.0,
        },
        {"model": "vanilla", "length": 8, "seed": 1, "test_metric": 0.2},
    ]
    df = results_table(rows, info)
    assert df.loc[df["length"] == 8, "solved"].tolist() == [
        0.0,
        0.0,
    ]  # 0.2 < 0.99 filled in; diverged kept 0
    summary = summarize(df)
    assert summary.loc[summary["length"] == 8, "n_diverged"].item() == 1
    assert memory_horizon(summary).set_index("curve").loc["vanilla", "horizon"] == 4


def test_non_finite_and_diverged_metrics_are_tabled_as_diverged_not_averaged():
    rows = [
        # MLflow stores inf as the largest double; a diverged run may end finite but huge.
        {"model": "vanilla", "length": 5, "seed": 0, "test_metric": np.finfo(float).max},
        {"model": "vanilla", "length": 5, "seed": 1, "test_metric": 3.7e31, "diverged": 1.0},
        {"model": "vanilla", "length": 10, "seed": 0, "test_metric": 0.004},
        {"model": "vanilla", "length": 10, "seed": 1, "test_metric": math.inf},
    ]
    df = results_table(rows, ADDING_INFO)
    assert df["diverged"].tolist() == [1.0, 1.0, 0.0, 1.0]
    assert df["solved"].tolist() == [0.0, 0.0, 1.0, 0.0]
    summary = summarize(df)
    by_length = summary.set_index("length")
    assert math.isnan(by_length.loc[5, "mean"]) and by_length.loc[5, "n_diverged"] == 2
    assert by_length.loc[10, "mean"] == pytest.approx(0.004)  # the diverged seed left out
    assert by_length.loc[10, "std"] == 0.0
    horizons = memory_horizon(summary)
    text = markdown_tables(summary, horizons, ADDING_INFO)
    assert "diverged (0/2)" in text and "(1/2, 1 diverged)" in text
    terminal = terminal_summary(summary, horizons, ADDING_INFO, title="t")
    assert "L5:diverged(0/2)" in terminal and "at L=5: 0/2 solved, mse diverged" in terminal
    figure = plot_breakdown(summary, df, ADDING_INFO, title="t")
    labels = figure.axes[0].get_legend_handles_labels()[1]
    assert any(label.startswith("diverged run") for label in labels)


# --------------------------------------------------------------------------------------
# Tables, labels, figures
# --------------------------------------------------------------------------------------


def test_summarize_statistics_over_seeds():
    summary = summarize(table({"vanilla": {10: [0.1, 0.2, 0.6]}}))
    row = summary.iloc[0]
    assert row["n_seeds"] == 3 and row["n_solved"] == 0
    assert row["mean"] == pytest.approx(0.3)
    assert row["std"] == pytest.approx(np.std([0.1, 0.2, 0.6]))
    assert (row["min"], row["max"]) == (0.1, 0.6)


def test_curve_axes_are_params_that_vary_within_a_model():
    rows = []
    for layers in (1, 2):
        for length in (5, 10):
            rows.append(
                {
                    "model": "deep",
                    "kind": "deep",
                    "num_layers": layers,
                    "units": 32,
                    "length": length,
                    "seed": 0,
                    "test_metric": 0.001,
                }
            )
    rows.append(
        {
            "model": "lstm",
            "kind": "lstm",
            "num_layers": 2,
            "units": 16,
            "length": 5,
            "seed": 0,
            "test_metric": 0.001,
        }
    )
    df = results_table(rows, ADDING_INFO)
    assert df.attrs["axes"] == ["num_layers"]
    assert sorted(df["curve"].unique()) == [
        "deep, num_layers=1",
        "deep, num_layers=2",
        "lstm, num_layers=2",
    ]
    assert schema.horizon_metric_name("deep, num_layers=2") == "horizon_deep_num_layers-2"
    assert schema.horizon_metric_name("lstm") == "horizon_lstm"


def test_markdown_and_terminal_summary_show_horizons_and_cells():
    df = table(
        {
            "vanilla": {10: [0.001, 0.002], 100: [0.17, 0.16]},
            "lstm": {10: [0.001, 0.001], 100: [0.002, 0.001]},
        }
    )
    summary = summarize(df)
    horizons = memory_horizon(summary)
    markdown = markdown_tables(summary, horizons, ADDING_INFO)
    assert "| lstm | >= 100 |" in markdown
    assert "| vanilla | 10 |" in markdown
    assert "0.165 ± 0.005 (0/2)" in markdown
    text = terminal_summary(summary, horizons, ADDING_INFO, title="t")
    assert "horizon   >= 100" in text and "at L=100: 0/2 solved" in text


def test_the_verdict_names_the_furthest_and_the_first_to_break_down():
    def verdict(curves):
        return verdict_text(horizons_of(curves).reset_index())

    assert verdict(
        {
            "vanilla": {10: [0.001, 0.002, 0.001], 20: [0.1, 0.2, 0.1]},
            "deep": {10: [0.001, 0.002, 0.001], 20: [0.005, 0.2, 0.1]},
            "gru": {10: [0.001, 0.001, 0.001], 20: [0.002, 0.001, 0.001]},
        }
    ) == (
        "Verdict: gru remembers furthest (horizon ≥ 20); deep and vanilla break down "
        "between L=10 and L=20 (1/3 and 0/3 seeds solved it)."
    )
    assert verdict({"lstm": {10: [0.2]}}) == (
        "Verdict: lstm fails from the shortest length on, L=10 (0/1 seeds solved it)."
    )
    assert verdict({"a": {10: [0.001]}, "b": {10: [0.002]}}) == (
        "Verdict: every curve solves every length tested (horizon ≥ 10)."
    )


def test_plot_breakdown_draws_log_axes_band_and_reference_lines():
    df = table(
        {
            "vanilla": {10: [0.001, 0.002], 100: [0.17, 0.16]},
            "lstm": {10: [0.001, 0.001], 100: [0.002, 0.001]},
        }
    )
    figure = plot_breakdown(summarize(df), df, ADDING_INFO, title="adding")
    top, bottom = figure.axes
    assert top.get_xscale() == "log" and top.get_yscale() == "log"
    horizontal = sorted(
        line.get_ydata()[0]
        for line in top.get_lines()
        if len(set(line.get_xdata())) == 1 or line.get_linestyle() in ("--", ":")
    )
    assert pytest.approx(1 / 6) in horizontal and pytest.approx(0.01) in horizontal
    assert len(top.collections) >= 2  # one band (and scatter) per curve
    assert [t.get_text() for t in bottom.get_xticklabels()] == ["10", "100"]


def test_gradient_flow_and_two_weights_tables_are_pure():
    df = table({"vanilla": {100: [0.2, 0.2]}})
    df["grad_decay_init"] = [0.5, 0.7]
    df["sigma_max_W_init"] = [1.0, 1.0]
    flow = gradient_flow_table(df)
    assert flow.loc[0, "grad_decay_init"] == pytest.approx(0.6) and flow.loc[0, "n_seeds"] == 2
    assert math.isnan(flow.loc[0, "grad_decay_trained"])
    histories = {df["run_id"][0]: {"u": [(0, 0.5), (1, 0.12)], "w": [(0, 0.1), (1, 0.88)]}}
    weights = two_weights_table(df, histories, alpha=0.1)
    assert weights.loc[0, "u_minus_alpha"] == pytest.approx(0.02)
    assert weights.loc[0, "w_minus_1_minus_alpha"] == pytest.approx(-0.02)
    assert math.isnan(weights.loc[1, "u"])


# --------------------------------------------------------------------------------------
# write_report on a hand-made MLflow store
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory, tracking_environment):
    import mlflow

    root = tmp_path_factory.mktemp("store")
    with tracking_environment(root) as settings:
        client = mlflow.MlflowClient(tracking_uri=settings.tracking_uri)
        experiment_id = client.create_experiment(
            "hand_made", artifact_location=(root / "mlartifacts").as_uri()
        )
        yield root, client, experiment_id


def make_sweep(client, experiment_id, kind, children):
    parent = client.create_run(
        experiment_id,
        run_name=f"hand_made-{kind}",
        tags={
            "report": kind,
            "task": "adding",
            "metric": "mse",
            "higher_is_better": "False",
            "chance": str(1 / 6),
            "solved_threshold": "0.01",
            "sweep.config_hash": kind,
        },
    )
    parent_id = parent.info.run_id
    for child in children:
        run = client.create_run(
            experiment_id,
            run_name=child["name"],
            tags={"mlflow.parentRunId": parent_id, "grid_point": child["name"]},
        )
        for key, value in child["params"].items():
            client.log_param(run.info.run_id, key, value)
        for key, value in child["metrics"].items():
            for step, v in value if isinstance(value, list) else [(0, value)]:
                client.log_metric(run.info.run_id, key, v, step=step)
        client.set_terminated(run.info.run_id, child.get("status", "FINISHED"))
    client.set_terminated(parent_id, "FINISHED")
    return parent_id


def breakdown_children():
    children = []
    results = {
        "vanilla": {10: [0.001, 0.003], 50: [0.17, 0.005], 100: [0.17, 0.16]},
        "lstm": {10: [0.001, 0.001], 50: [0.002, 0.004], 100: [0.003, 0.02]},
    }
    # Updates to solve of the solved runs (budget: 10 epochs x 100 steps).
    updates = {
        "vanilla": {10: [100, 300], 50: [None, 900]},
        "lstm": {10: [100, 100], 50: [200, 400], 100: [600, None]},
    }
    for model, by_length in results.items():
        for length, values in by_length.items():
            for seed, value in enumerate(values):
                solved_at = updates[model].get(length, [None, None])[seed]
                children.append(
                    {
                        "name": f"{model}-L{length}-s{seed}",
                        "params": {
                            "model": model,
                            "kind": model,
                            "length": length,
                            "seed": seed,
                            "task": "adding",
                            "units": 8,
                            "epochs": 10,
                            "steps_per_epoch": 100,
                            "batch_size": 32,
                            "optimizer": "adam",
                            "lr": 0.003,
                        },
                        "metrics": {
                            "test_mse": value,
                            "solved": float(value <= 0.01),
                            "diverged": 0.0,
                            "test_loss": value,
                            "updates_to_solve": float(solved_at or 1000),
                            "solve_censored": float(solved_at is None),
                        },
                    }
                )
    # A failed run must be ignored even though its metric would change the result.
    children.append(
        {
            "name": "lstm-L100-s9",
            "status": "FAILED",
            "params": {
                "model": "lstm",
                "kind": "lstm",
                "length": 100,
                "seed": 9,
                "task": "adding",
                "units": 8,
            },
            "metrics": {"test_mse": 0.5, "solved": 0.0},
        }
    )
    return children


def test_write_report_breakdown_logs_artifacts_metrics_and_tensorboard(store, tmp_path, capsys):
    import tensorflow as tf
    from tensorboard.backend.event_processing import event_accumulator

    root, client, experiment_id = store
    parent_id = make_sweep(client, experiment_id, "breakdown", breakdown_children())
    text = report.write_report(parent_id, out_dir=tmp_path / "out", client=client)
    assert "horizon" in text and "lstm" in text and text in capsys.readouterr().out
    metrics = client.get_run(parent_id).data.metrics
    assert metrics["horizon_lstm"] == 100  # L=100: 1/2 solved counts (the FAILED run is ignored)
    assert metrics["horizon_vanilla"] == 50  # L=50: 1/2 solved
    artifacts = {a.path for a in client.list_artifacts(parent_id, "report")}
    assert {
        "report/results.csv",
        "report/summary.md",
        "report/breakdown.png",
        "report/horizons.csv",
        "report/time_to_solve.csv",
        "report/time_to_solve.png",
        "report/budget_horizons.csv",
        "report/budget_horizons.png",
    } <= artifacts
    # The horizon against the budget, with step = updates: both still growing at the end
    # (the LSTM's reaches the longest length tested).
    history = client.get_metric_history(parent_id, "budget_horizon_lstm")
    assert sorted((m.step, m.value) for m in history) == [
        (125, 10),
        (250, 50),
        (500, 50),
        (1000, 100),
    ]
    assert (
        "lstm: every length tested solved, only with the whole budget (50 at 500 -> >= 100" in text
    )
    assert "vanilla: horizon still growing with the budget (10 at 500 -> 50 at 1,000" in text
    summary_md = (tmp_path / "out" / "summary.md").read_text()
    assert (
        "### Updates to solve" in summary_md
        and "### Memory horizon against the training budget" in summary_md
    )
    results = pd.read_csv(tmp_path / "out" / "results.csv")
    assert (
        len(results) == 12
        and "test_mse" in results
        and "lstm-L100-s9" not in set(results["run_name"])
    )
    # TensorBoard: the report's run holds the figures as images and summary.md as Markdown
    # text; each curve is a run of its own with the breakdown as scalars, step = length.
    tb_report = root / "tb_logs" / "hand_made" / "report" / "hand_made-breakdown"
    assert sorted(p.name for p in tb_report.iterdir() if p.is_dir()) == ["lstm", "vanilla"]
    events = event_accumulator.EventAccumulator(
        str(tb_report), size_guidance={"tensors": 0}
    ).Reload()
    tags = events.Tags()["tensors"]  # TF2 writes images and text as tensors
    plugins = {events.SummaryMetadata(tag).plugin_data.plugin_name for tag in tags}
    assert {"report/breakdown", "report/time_to_solve", "report/summary"} <= set(tags)
    assert plugins == {"images", "text"}
    (text_event,) = events.Tensors("report/summary")
    markdown = tf.make_ndarray(text_event.tensor_proto).item().decode()
    assert markdown == summary_md  # the same tables as the parent run's summary.md
    assert "| curve | horizon |" in markdown and "| curve | L=10 | L=50 | L=100 |" in markdown
    scalars = _tensorboard_scalars(tb_report / "vanilla")
    assert sorted(scalars) == ["breakdown/solved_fraction", "breakdown/test_mse"]
    steps, medians = zip(*scalars["breakdown/test_mse"])
    assert steps == (10, 50, 100) and medians == pytest.approx([0.002, 0.0875, 0.165], rel=1e-6)
    assert scalars["breakdown/solved_fraction"] == [(10, 1.0), (50, 0.5), (100, 0.0)]
    # Redrawing does not duplicate the TensorBoard events.
    report.write_report(parent_id, client=client)
    events = event_accumulator.EventAccumulator(
        str(tb_report), size_guidance={"tensors": 0}
    ).Reload()
    assert len(events.Tensors("report/summary")) == len(events.Tensors("report/breakdown")) == 1
    assert len(client.get_metric_history(parent_id, "budget_horizon_lstm")) == 4
    assert _tensorboard_scalars(tb_report / "lstm")["breakdown/solved_fraction"] == [
        (10, 1.0),
        (50, 1.0),
        (100, 0.5),
    ]


def _tensorboard_scalars(run_dir):
    """`{tag: [(step, value), ...]}` of a TensorBoard run, read by TensorBoard's reader."""
    import tensorflow as tf
    from tensorboard.backend.event_processing import event_accumulator

    events = event_accumulator.EventAccumulator(str(run_dir), size_guidance={"tensors": 0}).Reload()
    return {
        tag: [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag)]
        for tag in events.Tags()["tensors"]
    }


def _history(client, run_id, key):
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def test_the_parent_holds_the_breakdown_against_length_its_verdict_and_one_page(
    store, tmp_path, monkeypatch
):
    """A sweep logged before the report wrote any of this (`make_sweep` logs only what the
    runs did) gets, from one redraw, the per-curve metrics with step = length, the result
    table as its description and `report.html`, in one batch; a second redraw adds none."""
    _, client, experiment_id = store
    parent_id = make_sweep(client, experiment_id, "breakdown", breakdown_children())
    client.log_text(parent_id, "task: adding\nlr: 0.003  # the sweep's\n", "config/resolved.yaml")
    writes = {"log_batch": 0, "log_metric": 0, "set_tag": 0}
    for name in writes:
        method = getattr(client, name)

        def counted(*args, _name=name, _method=method, **kwargs):
            writes[_name] += 1
            return _method(*args, **kwargs)

        monkeypatch.setattr(client, name, counted)
    report.write_report(parent_id, out_dir=tmp_path / "out", client=client)
    assert writes == {"log_batch": 1, "log_metric": 0, "set_tag": 0}  # one write, however many

    assert _history(client, parent_id, "test_mse/vanilla") == [
        (10, pytest.approx(0.002)),
        (50, pytest.approx(0.0875)),  # the median over seeds
        (100, pytest.approx(0.165)),
    ]
    assert _history(client, parent_id, "test_mse_std/vanilla") == [
        (10, pytest.approx(0.001)),
        (50, pytest.approx(0.0825)),
        (100, pytest.approx(0.005)),
    ]
    assert _history(client, parent_id, "solved_fraction/lstm") == [(10, 1), (50, 1), (100, 0.5)]
    metrics = client.get_run(parent_id).data.metrics
    assert metrics["horizon_lstm"] == 100 and metrics["horizon_censored_lstm"] == 1
    assert metrics["horizon_vanilla"] == 50 and metrics["horizon_censored_vanilla"] == 0

    note = client.get_run(parent_id).data.tags[schema.NOTE]
    assert note.startswith("Verdict: lstm remembers furthest (horizon ≥ 100); vanilla breaks")
    assert "between L=50 and L=100 (0/2 seeds solved it)" in note
    assert "| curve | horizon | L=10 | L=50 | L=100 |" in note
    assert (
        "| lstm | ≥ 100 | 0.001 ± 0 (2/2) | 0.003 ± 0.001 (2/2) | 0.0115 ± 0.0085 (1/2) |" in note
    )
    assert "Budget: at most 1,000 " in note

    page = (tmp_path / "out" / "report.html").read_text()
    assert {a.path for a in client.list_artifacts(parent_id, "report")} >= {"report/report.html"}
    assert page.count('src="data:image/png;base64,') == 3  # breakdown, time to solve, budget
    assert 'src="http' not in page and "<script" not in page and "<link" not in page
    assert "<td>lstm</td>" in page and "≥ 100" in page and "Verdict: lstm" in page
    assert "lr: 0.003  # the sweep&#x27;s" in page  # the resolved config, escaped

    for _ in range(2):
        report.write_report(parent_id, client=client)
    assert len(client.get_metric_history(parent_id, "test_mse/vanilla")) == 3
    assert len(client.get_metric_history(parent_id, "horizon_lstm")) == 1


def test_a_curve_whose_seeds_all_diverged_has_no_point_at_that_length(store):
    _, client, experiment_id = store
    children = [
        {
            "name": f"vanilla-L{length}-s0",
            "params": {"model": "vanilla", "length": length, "seed": 0},
            "metrics": {"test_mse": value, "test_loss": value, "solved": 0.0, "diverged": div},
        }
        for length, value, div in ((5, 0.1, 0.0), (10, math.inf, 1.0))
    ]
    parent_id = make_sweep(client, experiment_id, "breakdown", children)
    report.write_report(parent_id, client=client)
    assert _history(client, parent_id, "test_mse/vanilla") == [(5, pytest.approx(0.1))]
    assert _history(client, parent_id, "solved_fraction/vanilla") == [(5, 0), (10, 0)]
    note = client.get_run(parent_id).data.tags[schema.NOTE]
    assert "| vanilla | < 5 | 0.1 ± 0 (0/1) | diverged (0/1) |" in note


def test_write_report_gradient_flow_and_two_weights_kinds(store, tmp_path):
    _, client, experiment_id = store
    flow_children = [
        {
            "name": f"vanilla-L20-s{seed}",
            "params": {"model": "vanilla", "kind": "vanilla", "length": 20, "seed": seed},
            "metrics": {
                "test_mse": 0.17,
                "solved": 0.0,
                "grad_decay_init": 0.8,
                "sigma_max_W_init": 1.0,
                "decay_bound_init": 1.0,
                "grad_decay_trained": 0.9,
                "grad_norm_init": [(d, 0.8**d) for d in range(5)],
                "grad_norm_trained": [(d, 0.9**d) for d in range(5)],
            },
        }
        for seed in range(2)
    ]
    parent_id = make_sweep(client, experiment_id, "gradient_flow", flow_children)
    text = report.write_report(parent_id, out_dir=tmp_path / "flow", client=client)
    assert "grad_decay_init" in text
    table = pd.read_csv(tmp_path / "flow" / "gradient_flow.csv")
    assert table.loc[0, "grad_decay_trained"] == pytest.approx(0.9)
    assert (tmp_path / "flow" / "gradient_flow.png").is_file()

    weight_children = [
        {
            "name": f"vanilla-L20-s0-activation{act}",
            "params": {
                "model": "vanilla",
                "kind": "vanilla",
                "length": 20,
                "seed": 0,
                "activation": act,
                "task_params.alpha": 0.2,
            },
            "metrics": {
                "test_mse": 1e-5,
                "solved": 1.0,
                "u": [(0, 0.5), (1, 0.21)],
                "w": [(0, 0.3), (1, 0.79)],
            },
        }
        for act in ("linear", "tanh")
    ]
    parent_id = make_sweep(client, experiment_id, "two_weights", weight_children)
    report.write_report(parent_id, out_dir=tmp_path / "weights", client=client)
    weights = pd.read_csv(tmp_path / "weights" / "two_weights.csv")
    assert sorted(weights["curve"]) == ["vanilla, activation=linear", "vanilla, activation=tanh"]
    assert weights["u_minus_alpha"].tolist() == pytest.approx([0.01, 0.01])
    assert (tmp_path / "weights" / "weights.png").is_file()


def test_write_report_of_a_sweep_whose_runs_diverged(store, tmp_path):
    # Metrics beyond float32 once crashed the report's TensorBoard scalars.
    root, client, experiment_id = store
    children = [
        {
            "name": f"vanilla-L{length}-s0",
            "params": {"model": "vanilla", "kind": "vanilla", "length": length, "seed": 0},
            "metrics": {"test_mse": value, "test_loss": value, "solved": 0.0, "diverged": 1.0},
        }
        for length, value in ((5, math.inf), (10, 3.7e31))
    ]
    parent_id = make_sweep(client, experiment_id, "breakdown", children)
    text = report.write_report(parent_id, out_dir=tmp_path / "out", client=client)
    assert "L5:diverged(0/1)" in text and "L10:diverged(0/1)" in text
    assert "diverged (0/1)" in (tmp_path / "out" / "summary.md").read_text()


def test_write_report_without_finished_children(store):
    _, client, experiment_id = store
    parent_id = make_sweep(
        client,
        experiment_id,
        "breakdown",
        [
            {
                "name": "x",
                "status": "FAILED",
                "params": {"model": "vanilla", "length": 5, "seed": 0},
                "metrics": {},
            }
        ],
    )
    assert "nothing to report" in report.write_report(parent_id, client=client)


def test_loss_table_sets_test_loss_beside_the_copy_memory_baseline():
    info = dataclasses.replace(
        ADDING_INFO,
        task="copy_memory",
        metric="accuracy",
        higher_is_better=True,
        chance=0.125,
        solved_threshold=0.99,
    )
    rows = [
        {
            "model": "vanilla",
            "length": length,
            "seed": 0,
            "test_metric": 0.13,
            "test_loss": 0.5,
            "task_params.alphabet_size": 8,
            "task_params.copy_length": 10,
        }
        for length in (10, 100)
    ]
    df = results_table(rows, info)
    baselines = baseline_losses(df, info)
    assert baselines == {
        10: pytest.approx(10 * math.log(8) / 30),
        100: pytest.approx(10 * math.log(8) / 120),
    }
    text = loss_table(summarize(df), baselines)
    assert "| baseline | 0.693 | 0.173 |" in text and "| vanilla | 0.5 | 0.5 |" in text


def test_baseline_losses_leave_out_a_task_they_cannot_rebuild_and_raise_anything_else(
    monkeypatch,
):
    import datasets

    rows = [{"model": "vanilla", "length": 10, "seed": 0, "test_metric": 0.1, "test_loss": 0.5}]
    df = results_table(rows, ADDING_INFO)
    gone = dataclasses.replace(ADDING_INFO, task="a_task_since_removed")
    assert baseline_losses(df, gone) == {}  # no table, not a failed report
    changed = df.assign(**{schema.TASK_PARAM_PREFIX + "renamed": 3})
    assert baseline_losses(changed, ADDING_INFO) == {}  # the task's params changed

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in a task")

    monkeypatch.setattr(datasets, "make", broken)
    with pytest.raises(RuntimeError, match="a bug in a task"):
        baseline_losses(df, ADDING_INFO)


def test_only_grid_axes_split_curves_when_the_sweep_names_them():
    rows = [
        {
            "model": "vanilla",
            "length": 50,
            "seed": seed,
            "activation": act,
            "u_init": 0.1 * seed + (act == "tanh"),
            "test_metric": 0.001,
        }
        for seed in range(2)
        for act in ("linear", "tanh")
    ]
    info = dataclasses.replace(ADDING_INFO, grid_axes=("activation", "length", "model", "seed"))
    df = results_table(rows, info)
    assert df.attrs["axes"] == ["activation"]
    assert sorted(df["curve"].unique()) == [
        "vanilla, activation=linear",
        "vanilla, activation=tanh",
    ]
    assert results_table(rows, ADDING_INFO).attrs["axes"] == [
        "activation",
        "u_init",
    ]  # no grid known


def test_budget_text_states_the_updates_optimizer_and_early_stopping():
    df = table({"vanilla": {10: [0.001, 0.002]}, "lstm": {10: [0.001, 0.001]}})
    assert budget_text(df) == ""  # a hand-made table without training params
    df = df.assign(
        epochs=15,
        steps_per_epoch=100,
        batch_size=32,
        optimizer="adam",
        lr=0.003,
        clipnorm=1.0,
        stop_when_solved=True,
        solved_patience=3,
    )
    text = budget_text(df)
    assert text.startswith(
        "Budget: at most 1,500 adam updates per run (15 epochs x 100 batches of 32 fresh sequences"
    )
    assert "lr 0.003" in text and "clipping 1" in text
    assert "stopped early once solved on 3 validations in a row" in text
    # Budgets that differ between runs are given as a range.
    df.loc[df["model"] == "lstm", "epochs"] = 30
    assert "at most 1,500-3,000 adam updates" in budget_text(df)
