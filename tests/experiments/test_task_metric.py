"""Readers take the task's metric from what the sweep recorded, never by guessing it from
the `test_*` columns a store happens to hold (adding logs `test_max_abs_error` beside
`test_mse`)."""

import math

import mlflow
import pytest

from experiments import schema
from experiments.tracking.tensorboard_hparams import final_value_tag

ADDING = schema.SweepInfo(task="adding", metric="mse", solved_threshold=0.01, chance=1 / 6)


@pytest.fixture()
def adding_store(tmp_path):
    """A parent run described as an adding sweep and two children whose other test
    metrics sort, and are logged, before the task's."""
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_id = client.create_experiment("adding", artifact_location=str(tmp_path / "art"))
    parent = client.create_run(experiment_id, tags=ADDING.to_tags(), run_name="sweep")
    mse = {"vanilla-L10-s0": 0.004, "vanilla-L100-s0": 0.16}
    for name, value in mse.items():
        child = client.create_run(
            experiment_id, tags={schema.PARENT_RUN_ID: parent.info.run_id}, run_name=name
        )
        run_id = child.info.run_id
        client.log_metric(run_id, schema.TEST_MAX_ABS_ERROR, 0.5)
        client.log_metric(run_id, "test_accuracy_like", 0.9)
        client.log_metric(run_id, schema.TEST_LOSS, value)
        client.log_metric(run_id, schema.test_metric_name("mse"), value)
        client.set_terminated(run_id)
    return client, experiment_id, parent.info.run_id, mse


def test_the_task_metric_column_is_read_from_the_parent_run(adding_store):
    client, experiment_id, parent_id, mse = adding_store
    info = schema.SweepInfo.from_run(client.get_run(parent_id))
    mlflow.set_tracking_uri(client.tracking_uri)
    runs = mlflow.search_runs(
        experiment_ids=[experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'"
    )
    other_test_columns = [
        c for c in runs.columns if c.startswith("metrics.test_") and c != info.test_metric_column
    ]
    assert len(other_test_columns) >= 3  # what a guess could have picked
    assert info.metric == "mse" and info.test_metric_column == "metrics.test_mse"
    read = dict(zip(runs["tags.mlflow.runName"], runs[info.test_metric_column]))
    assert all(math.isclose(read[name], value) for name, value in mse.items())


def test_only_the_task_metric_is_a_breakdown_card_in_tensorboard():
    assert final_value_tag("test_mse", "mse") == "breakdown/test_mse"
    assert final_value_tag(schema.TEST_MAX_ABS_ERROR, "mse") == "outcome/test_max_abs_error"
    assert final_value_tag("test_accuracy", "accuracy") == "breakdown/test_accuracy"
    assert final_value_tag(schema.SOLVED, "mse") == "breakdown/solved_fraction"
    assert final_value_tag(schema.TEST_LOSS, "mse") == "outcome/test_loss"
