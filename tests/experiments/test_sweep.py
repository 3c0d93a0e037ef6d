"""End to end: the smoke profile of `long_dependency` into a temporary SQLite store and
TensorBoard root, read back through MLflow's and TensorBoard's own readers."""

import math
import os

import numpy as np
import pytest

from experiments import config, grid, sweep, tracking

EXPERIMENT = "long_dependency"


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, tracking_environment):
    """Runs the smoke sweep once for the module; yields (settings, result, progress lines)."""
    with tracking_environment(tmp_path_factory.mktemp("smoke")) as settings:
        lines = []
        result = sweep.run_sweep(EXPERIMENT, "smoke", out=lines.append)
        yield settings, result, lines


def search(settings, **kwargs):
    import mlflow

    mlflow.set_tracking_uri(settings.tracking_uri)
    return mlflow.search_runs(experiment_names=[settings.experiment_name(EXPERIMENT)], **kwargs)


def expected_points():
    return grid.expand_grid(config.load_config(EXPERIMENT, "smoke"))


def test_parent_and_every_child_finished(smoke):
    settings, result, _ = smoke
    runs = search(settings)
    parent = runs[runs["tags.mlflow.parentRunId"].isna()]
    children = runs[runs["tags.mlflow.parentRunId"] == result.parent_run_id]
    assert len(parent) == 1 and parent.iloc[0]["run_id"] == result.parent_run_id
    assert parent.iloc[0]["status"] == "FINISHED"
    names = [p.name for p in expected_points()]
    assert len(names) == 8 and "vanilla-L5-s0" in names and "gru-L10-s0" in names
    assert sorted(children["tags.mlflow.runName"]) == sorted(names)
    assert set(children["status"]) == {"FINISHED"}
    assert result.ok and sorted(result.finished) == sorted(names) and result.skipped == []

    row = parent.iloc[0]
    assert row["tags.mlflow.runName"].startswith("long_dependency-smoke-")
    assert row["tags.sweep.config_hash"] == config.load_config(EXPERIMENT, "smoke").config_hash
    assert row["tags.sweep.profile"] == "smoke"
    assert (
        row["tags.task"] == "adding"
        and row["tags.metric"] == "mse"
        and row["tags.higher_is_better"] == "False"
    )
    assert (
        math.isclose(float(row["tags.chance"]), 1 / 6)
        and float(row["params.solved_threshold"]) == 0.01
    )
    assert row["metrics.n_finished"] == 8 and row["metrics.n_failed"] == 0


def test_child_params_tags_and_final_metrics(smoke):
    settings, result, _ = smoke
    runs = search(settings, filter_string=f"tags.`mlflow.parentRunId` = '{result.parent_run_id}'")
    points = {p.name: p for p in expected_points()}
    for _, row in runs.iterrows():
        point = points[row["tags.mlflow.runName"]]
        for key in (
            "model",
            "length",
            "seed",
            "task",
            "units",
            "lr",
            "clipnorm",
            "epochs",
            "kind",
            "batch_size",
        ):
            assert row[f"params.{key}"] == str(point.hparams[key]), key
        for axis in ("model", "length", "seed"):
            assert row[f"tags.{axis}"] == str(point.axes[axis])
        assert row["tags.grid_point"] == point.name and row["tags.config_hash"] == point.config_hash
        assert row["tags.device"] == tracking.device_name()  # "CPU" here, the GPU's name on a GPU
        assert (
            row["tags.version.keras"]
            and row["tags.version.tensorflow"]
            and row["tags.version.mlflow"]
        )
        assert row["metrics.solved"] in (0, 1) and row["metrics.diverged"] == 0
        assert row["metrics.train_time_s"] > 0 and np.isfinite(row["metrics.test_mse"])
        assert np.isfinite(row["metrics.test_loss"]) and row["metrics.epochs_trained"] == 2


def test_per_epoch_metrics_have_explicit_steps(smoke):
    import mlflow

    settings, result, _ = smoke
    client = mlflow.MlflowClient(settings.tracking_uri)
    runs = search(settings, filter_string=f"tags.`mlflow.parentRunId` = '{result.parent_run_id}'")
    for run_id in runs["run_id"]:
        for key in ("loss", "val_loss", "mse", "val_mse"):
            history = client.get_metric_history(run_id, key)
            assert sorted(m.step for m in history) == [0, 1], key


def test_time_to_solve_agrees_with_the_validation_history(smoke):
    import mlflow

    settings, result, _ = smoke
    client = mlflow.MlflowClient(settings.tracking_uri)
    runs = search(settings, filter_string=f"tags.`mlflow.parentRunId` = '{result.parent_run_id}'")
    steps, batch = (
        config.load_config(EXPERIMENT, "smoke")[k] for k in ("steps_per_epoch", "batch_size")
    )
    for _, row in runs.iterrows():
        history = sorted(client.get_metric_history(row["run_id"], "val_mse"), key=lambda m: m.step)
        solved_epochs = [m.step for m in history if m.value <= 0.01]
        censored = not solved_epochs
        epochs = len(history) if censored else solved_epochs[0] + 1
        assert row["metrics.solve_censored"] == int(censored)
        assert row["metrics.updates_to_solve"] == epochs * steps
        assert row["metrics.sequences_to_solve"] == epochs * steps * batch
        if row["metrics.solved"] == 1:
            assert not censored


def test_logged_model_loads_and_reproduces_the_test_metric(smoke):
    import keras
    import mlflow

    import datasets
    import rnn_layers  # registers the layers the saved model needs

    settings, result, _ = smoke
    runs = search(settings, filter_string="tags.grid_point = 'vanilla-L10-s0'")
    row = runs.iloc[0]
    folder = mlflow.artifacts.download_artifacts(
        run_id=row["run_id"], artifact_path="model", tracking_uri=settings.tracking_uri
    )
    requirements = open(os.path.join(folder, "requirements.txt")).read()
    assert f"keras=={keras.__version__}" in requirements
    model = keras.saving.load_model(os.path.join(folder, "model.keras"))
    assert any(isinstance(layer, rnn_layers.VanillaRNN) for layer in model.layers)

    hparams = {p.name: p for p in expected_points()}["vanilla-L10-s0"].hparams
    task = datasets.make("adding", length=10, seed=0)
    test_set = task.fixed_set(hparams["test_samples"], seed=task.split_seeds["test"])
    x = np.concatenate([test_set[i][0] for i in range(len(test_set))])
    y = np.concatenate([test_set[i][1] for i in range(len(test_set))])
    assert len(x) == hparams["test_samples"]
    predictions = model.predict(x, verbose=0)
    assert predictions.shape == (len(x), 1)
    mse = float(np.mean((predictions - y) ** 2))
    assert math.isclose(mse, row["metrics.test_mse"], rel_tol=1e-4)


def test_config_artifacts(smoke):
    import mlflow

    settings, result, _ = smoke
    client = mlflow.MlflowClient(settings.tracking_uri)
    parent_files = [a.path for a in client.list_artifacts(result.parent_run_id, "config")]
    assert "config/long_dependency.yaml" in parent_files and "config/resolved.yaml" in parent_files
    child = search(settings, filter_string="tags.grid_point = 'lstm-L5-s0'").iloc[0]
    assert [a.path for a in client.list_artifacts(child["run_id"], "config")] == [
        "config/resolved.yaml"
    ]


def test_tensorboard_event_files(smoke):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    settings, _, _ = smoke
    root = settings.tb_experiment_dir(EXPERIMENT)

    def tags_and_steps(path, tag=None):
        accumulator = EventAccumulator(path)
        accumulator.Reload()
        tags = accumulator.Tags()["tensors"]
        steps = [e.step for e in accumulator.Tensors(tag)] if tag else None
        return tags, steps

    assert "_hparams_/experiment" in tags_and_steps(root)[0]
    for point in expected_points():
        run_dir = os.path.join(root, point.name)
        for split in ("train", "validation"):
            tags, steps = tags_and_steps(os.path.join(run_dir, split), "epoch_loss")
            assert {"epoch_loss", "epoch_mse"} <= set(tags) and steps == [0, 1]
        tags, _ = tags_and_steps(run_dir)
        assert {"_hparams_/session_start_info", "test_mse", "solved"} <= set(tags)


def test_progress_lines(smoke):
    _, _, lines = smoke
    text = "\n".join(lines)
    assert "run 1/8: vanilla L=5 seed 0" in text and "run 8/8: gru L=10 seed 0" in text
    assert "elapsed" in text and "ETA" in text


def test_running_again_skips_everything(smoke):
    settings, result, _ = smoke
    before = set(search(settings)["run_id"])
    lines = []
    again = sweep.run_sweep(EXPERIMENT, "smoke", out=lines.append)
    assert again.parent_run_id == result.parent_run_id
    assert again.finished == [] and len(again.skipped) == 8
    assert set(search(settings)["run_id"]) == before
    assert any("Skipping 8 grid point(s) already FINISHED" in line for line in lines)


@pytest.mark.parametrize(
    "override, message",
    [
        ("activation=tanhh", r"--set 'activation=tanhh'.*not a Keras activation"),
        ("recurrent_initializer=orthogonall", r"--set .*`recurrent_initializer`.*initializer"),
        ("models.gru.kernel_initializer=nope", r"`kernel_initializer` 'nope' is not a Keras"),
        ("grid.length=[5,1]", r"--set 'grid.length=\[5,1\]'.*length must be >= 2"),
    ],
)
def test_bad_keras_names_and_any_impossible_length_fail_before_any_run(
    tracking_dir, override, message
):
    with pytest.raises(config.ConfigError, match=message):
        sweep.run_sweep(EXPERIMENT, "smoke", [override], out=lambda line: None)
    assert not (tracking_dir / "mlflow.db").exists()  # nothing written
