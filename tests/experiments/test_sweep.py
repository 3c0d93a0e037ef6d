"""End to end: the smoke profile of `long_dependency` into a temporary SQLite store and
TensorBoard root, read back through MLflow's and TensorBoard's own readers."""

import math
import os

import numpy as np
import pandas as pd
import pytest

from experiments import config, sweep, tracking
from tests.experiments.runner_helpers import keras_predictions, predict_without_the_repository

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
    return config.expand_grid(config.load_config(EXPERIMENT, "smoke"))


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
            "batch_size",
        ):
            assert row[f"params.{key}"] == str(point.params()[key]), key
        # Only what applies, once: `kind` is the model's name, one layer has no count,
        # and there is no patience without early stopping.
        assert pd.isna(row.get("params.kind")) and pd.isna(row.get("params.solved_patience"))
        assert pd.isna(row["params.num_layers"]) == (point.kind != "deep")
        assert int(row["params.trainable_params"]) > 0
        verdict = "solved" if row["metrics.solved"] else "not solved"
        assert row["tags.mlflow.note.content"] == (
            f"{point.label()}: test mse {row['metrics.test_mse']:.4g}, {verdict}."
        )
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
    hyperparameters = config.load_config(EXPERIMENT, "smoke").hyperparameters
    steps, batch = hyperparameters.steps_per_epoch, hyperparameters.batch_size
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


def _test_inputs_and_targets(name):
    import datasets

    hparams = {p.name: p for p in expected_points()}[name].params()
    task = datasets.make("adding", length=hparams["length"], seed=hparams["seed"])
    test_set = task.fixed_set(hparams["test_samples"], seed=task.split_seeds["test"])
    x = np.concatenate([test_set[i][0] for i in range(len(test_set))])
    y = np.concatenate([test_set[i][1] for i in range(len(test_set))])
    assert len(x) == hparams["test_samples"]
    return x, y


def test_logged_model_is_an_mlflow_keras_model_that_reproduces_the_test_metric(smoke):
    import keras
    import mlflow

    import rnn_layers  # registers the layers the saved model needs

    settings, result, _ = smoke
    row = search(settings, filter_string="tags.grid_point = 'vanilla-L10-s0'").iloc[0]
    mlflow.set_tracking_uri(settings.tracking_uri)
    model = mlflow.keras.load_model(f"runs:/{row['run_id']}/vanilla-L10-s0")
    assert any(isinstance(layer, rnn_layers.VanillaRNN) for layer in model.layers)
    parameters = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert row["params.trainable_params"] == str(parameters)

    x, y = _test_inputs_and_targets("vanilla-L10-s0")
    predictions = model.predict(x, verbose=0)
    assert predictions.shape == (len(x), 1)
    mse = float(np.mean((predictions - y) ** 2))
    assert math.isclose(mse, row["metrics.test_mse"], rel_tol=1e-4)

    info = mlflow.models.get_model_info(f"runs:/{row['run_id']}/vanilla-L10-s0")
    assert [str(s) for s in info.signature.inputs.inputs] == ["Tensor('float32', (-1, 10, 2))"]
    assert [str(s) for s in info.signature.outputs.inputs] == ["Tensor('float32', (-1, 1))"]
    assert info.saved_input_example_info is not None
    folder = mlflow.artifacts.download_artifacts(f"runs:/{row['run_id']}/vanilla-L10-s0")
    requirements = open(os.path.join(folder, "requirements.txt")).read()
    assert f"keras=={keras.__version__}" in requirements

    # The run's "Logged models": one, in the sweep's experiment, with this run as its source,
    # named for its grid point.
    [logged] = mlflow.search_logged_models(
        experiment_ids=[row["experiment_id"]],
        filter_string=f"source_run_id = '{row['run_id']}'",
        output_format="list",
    )
    assert logged.name == "vanilla-L10-s0" and logged.source_run_id == row["run_id"]
    run = mlflow.MlflowClient().get_run(row["run_id"])
    assert [output.model_id for output in run.outputs.model_outputs] == [logged.model_id]


def test_logged_model_predicts_through_pyfunc_in_a_process_without_the_repository(smoke, tmp_path):
    """`mlflow.pyfunc.load_model` in a fresh interpreter that cannot import `rnn_layers`
    from the repository: the model brings its own copy (and loads it)."""
    import rnn_layers  # noqa: F401  (the reference below loads the Keras file here)

    settings, result, _ = smoke
    row = search(settings, filter_string="tags.grid_point = 'vanilla-L10-s0'").iloc[0]
    x, _ = _test_inputs_and_targets("vanilla-L10-s0")
    model_uri = f"runs:/{row['run_id']}/vanilla-L10-s0"
    predictions, loaded_from = predict_without_the_repository(
        tmp_path,
        settings.tracking_uri,
        model_uri,
        x[:16],
        absent=["rnn_layers"],
        loaded="rnn_layers",
    )
    assert f"{os.sep}code{os.sep}rnn_layers{os.sep}" in loaded_from
    expected = keras_predictions(settings.tracking_uri, model_uri, x[:16])
    np.testing.assert_allclose(predictions, expected, rtol=1e-6)


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


def _tensorboard_runs(root):
    """TensorBoard's runs under `root`: the folders holding event files, relative to it."""
    return sorted(
        os.path.relpath(folder, root)
        for folder, _, files in os.walk(root)
        if any(name.startswith("events.out.tfevents.") for name in files)
    )


def _events(path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    return EventAccumulator(str(path), size_guidance={"tensors": 0}).Reload()


def _hparams_plugin_data(events, tag):
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = events.SummaryMetadata(tag).plugin_data.content
    return plugin_data_pb2.HParamsPluginData.FromString(content)


def test_tensorboard_has_one_run_per_grid_point_with_train_and_validation_scalars(smoke):
    import mlflow
    import tensorflow as tf

    settings, result, _ = smoke
    root = settings.tb_experiment_dir(EXPERIMENT)
    points = expected_points()
    runs = _tensorboard_runs(root)
    # One run per grid point; the report's run (figures, tables, the HParams definition)
    # and one run per curve; no "." run.
    sweep_name = mlflow.MlflowClient(settings.tracking_uri).get_run(result.parent_run_id)
    report_run = os.path.join("report", sweep_name.info.run_name)
    curves = ["deep", "gru", "lstm", "vanilla"]
    assert sorted(runs) == sorted(
        [*(p.name for p in points), report_run, *(os.path.join(report_run, c) for c in curves)]
    )

    client = mlflow.MlflowClient(settings.tracking_uri)
    children = search(
        settings, filter_string=f"tags.`mlflow.parentRunId` = '{result.parent_run_id}'"
    )
    run_ids = dict(zip(children["tags.mlflow.runName"], children["run_id"]))
    test_mse = dict(zip(children["tags.mlflow.runName"], children["metrics.test_mse"]))
    for point in points:
        events = _events(os.path.join(root, point.name))
        tags = set(events.Tags()["tensors"])
        assert {"loss/train", "loss/validation", "mse/train", "mse/validation"} <= tags
        assert not any("learning_rate" in tag or tag.startswith("epoch_") for tag in tags)
        assert {"_hparams_/session_start_info", "breakdown/test_mse"} <= tags
        assert not {"test_mse", "solved"} & tags  # no single points at step 0
        # step = epoch, as in MLflow, with the same values.
        for tag, key in (("loss/train", "loss"), ("mse/validation", "val_mse")):
            logged = [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag)]
            history = sorted(
                (m.step, m.value) for m in client.get_metric_history(run_ids[point.name], key)
            )
            assert [step for step, _ in logged] == [step for step, _ in history] == [0, 1]
            assert [v for _, v in logged] == pytest.approx([v for _, v in history], rel=1e-5)
        # The final values at step = the run's length.
        [final] = events.Tensors("breakdown/test_mse")
        assert final.step == point.length
        assert float(tf.make_ndarray(final.tensor_proto)) == pytest.approx(test_mse[point.name])
        # The session's hyperparameters have the types of the dashboard's domains.
        start = _hparams_plugin_data(events, "_hparams_/session_start_info").session_start_info
        assert start.hparams["length"].number_value == point.params()["length"]
        assert start.hparams["seed"].WhichOneof("kind") == "number_value"
        assert start.hparams["model"].string_value == point.params()["model"]
        assert start.group_name == point.name

    # The HParams dashboard: the grid axes with numeric domains, nothing constant.
    report_events = _events(os.path.join(root, report_run))
    experiment = _hparams_plugin_data(report_events, "_hparams_/experiment").experiment
    infos = {info.name: info for info in experiment.hparam_infos}
    assert [info.name for info in experiment.hparam_infos] == ["model", "length", "seed"]
    assert [v.number_value for v in infos["length"].domain_discrete.values] == [5, 10]
    assert [v.string_value for v in infos["model"].domain_discrete.values] == [
        "deep",
        "gru",
        "lstm",
        "vanilla",
    ]
    assert infos["length"].differs and infos["model"].differs and not infos["seed"].differs
    metric_tags = [info.name.tag for info in experiment.metric_infos]
    assert metric_tags[0] == "breakdown/test_mse" and "mse/validation" in metric_tags

    # The report: images and one Markdown text in its run; a curve per run, against length.
    plugins = {
        tag: report_events.SummaryMetadata(tag).plugin_data.plugin_name
        for tag in report_events.Tags()["tensors"]
    }
    assert plugins["report/breakdown"] == "images" and plugins["report/summary"] == "text"
    assert set(plugins.values()) == {"images", "text", "hparams"}
    vanilla = _events(os.path.join(root, report_run, "vanilla"))
    assert sorted(vanilla.Tags()["tensors"]) == ["breakdown/solved_fraction", "breakdown/test_mse"]
    assert [e.step for e in vanilla.Tensors("breakdown/test_mse")] == [5, 10]


def test_the_parent_charts_the_breakdown_and_describes_the_result(smoke):
    import mlflow

    settings, result, _ = smoke
    client = mlflow.MlflowClient(settings.tracking_uri)
    children = search(
        settings, filter_string=f"tags.`mlflow.parentRunId` = '{result.parent_run_id}'"
    )
    for curve in ("vanilla", "deep", "lstm", "gru"):
        history = sorted(
            (m.step, m.value)
            for m in client.get_metric_history(result.parent_run_id, f"test_mse/{curve}")
        )
        runs = children[children["params.model"] == curve].sort_values(
            "params.length", key=lambda c: c.astype(int)
        )
        assert history == [
            (int(length), pytest.approx(value))
            for length, value in zip(runs["params.length"], runs["metrics.test_mse"])
        ]
        steps = [
            m.step
            for m in client.get_metric_history(result.parent_run_id, f"solved_fraction/{curve}")
        ]
        assert sorted(steps) == [5, 10]
    note = client.get_run(result.parent_run_id).data.tags["mlflow.note.content"]
    assert note.startswith("Verdict: ") and "| curve | horizon | L=5 | L=10 |" in note
    assert "Budget: at most 8 adam updates per run" in note
    files = [a.path for a in client.list_artifacts(result.parent_run_id, "report")]
    assert "report/report.html" in files


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


def test_runs_name_their_source_commit_and_datasets(smoke):
    """The runs table's Source and Dataset columns, and the model-training experiment kind."""
    import git
    import mlflow

    from experiments import schema

    settings, result, _ = smoke
    client = mlflow.MlflowClient(settings.tracking_uri)
    repo = git.Repo(tracking.REPO_ROOT)
    runs = search(settings)
    for _, row in runs.iterrows():
        assert row[f"tags.{schema.GIT_COMMIT}"] == repo.head.commit.hexsha
        assert row[f"tags.{schema.GIT_DIRTY}"] == str(repo.is_dirty()).lower()
        assert row["tags.mlflow.source.type"] == "LOCAL" and row["tags.mlflow.user"]

    child = client.get_run(
        search(settings, filter_string="tags.grid_point = 'gru-L10-s0'").iloc[0]["run_id"]
    )
    inputs = {
        next(t.value for t in i.tags if t.key == "mlflow.data.context"): i.dataset
        for i in child.inputs.dataset_inputs
    }
    assert sorted(inputs) == ["test", "validation"]
    assert {d.name for d in inputs.values()} == {"adding-L10-s0"}
    assert inputs["test"].digest != inputs["validation"].digest  # other seeds, other data
    other = client.get_run(
        search(settings, filter_string="tags.grid_point = 'gru-L5-s0'").iloc[0]["run_id"]
    )
    [other_test] = [
        i.dataset for i in other.inputs.dataset_inputs if any(t.value == "test" for t in i.tags)
    ]
    assert other_test.name == "adding-L5-s0" and other_test.digest != inputs["test"].digest

    experiment = client.get_experiment_by_name(settings.experiment_name(EXPERIMENT))
    assert experiment.tags[schema.EXPERIMENT_KIND] == schema.MODEL_TRAINING_KIND


def test_register_puts_a_grid_points_model_in_the_model_registry(smoke, capfd, tmp_path):
    import subprocess
    import sys

    import mlflow

    from experiments.__main__ import main

    settings, result, _ = smoke
    code = main(["register", EXPERIMENT, "--grid-point", "gru-L10-s0", "--model-name", "t-gru"])
    out, err = capfd.readouterr()
    assert code == 0, out
    assert "WARNING" not in err, err  # registered from the logged model itself
    assert "Registered gru-L10-s0" in out and "model 't-gru', version 1" in out
    client = mlflow.MlflowClient(settings.tracking_uri)
    version = client.get_model_version("t-gru", "1")
    row = search(settings, filter_string="tags.grid_point = 'gru-L10-s0'").iloc[0]
    assert version.run_id == row["run_id"]
    mlflow.set_tracking_uri(settings.tracking_uri)
    x, _ = _test_inputs_and_targets("gru-L10-s0")
    registered = mlflow.pyfunc.load_model("models:/t-gru/1").predict(x[:8])
    logged = mlflow.pyfunc.load_model(f"runs:/{row['run_id']}/gru-L10-s0").predict(x[:8])
    np.testing.assert_array_equal(registered, logged)

    # The printed load lines work from any folder: they name the store.
    snippet = out[out.index("import mlflow") :]
    assert f"mlflow.set_tracking_uri({settings.tracking_uri!r})" in snippet
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    np.save(elsewhere / "x.npy", x[:8])
    script = "\n".join(line.strip() for line in snippet.strip().splitlines())
    script += "\nimport numpy as np\nnp.save('p.npy', model.predict(np.load('x.npy')))\n"
    environment = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    finished = subprocess.run(
        [sys.executable, "-c", script], cwd=elsewhere, env=environment, capture_output=True
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    np.testing.assert_array_equal(np.load(elsewhere / "p.npy"), registered)
    assert sorted(p.name for p in elsewhere.iterdir()) == ["p.npy", "x.npy"]  # no mlflow.db

    assert main(["register", EXPERIMENT, "--grid-point", "gru-L99-s0"]) == 2
    assert "no finished run 'gru-L99-s0'" in capfd.readouterr().err


def test_the_best_grid_point_is_the_longest_solved_then_the_best_metric():
    from types import SimpleNamespace

    from experiments import schema
    from experiments.tracking import registry as register

    def run(length, mse, solved=1, status="FINISHED", diverged=0):
        return SimpleNamespace(
            info=SimpleNamespace(status=status),
            data=SimpleNamespace(
                params={"length": str(length)},
                metrics={"test_mse": mse, "solved": solved, "diverged": diverged},
            ),
        )

    info = schema.SweepInfo(metric="mse", higher_is_better=False)
    runs = [
        run(10, 0.001),
        run(50, 0.008),
        run(50, 0.004),
        run(100, 0.2, solved=0),
        run(200, 0.001, status="FAILED"),
    ]
    assert register.best_grid_point(runs, info) is runs[2]
    accuracy = schema.SweepInfo(metric="mse", higher_is_better=True)
    assert register.best_grid_point(runs, accuracy) is runs[1]
    assert register.best_grid_point([run(10, 0.3, solved=0)], info) is None
