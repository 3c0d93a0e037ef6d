"""A recurrent layer of the user's own: a model kind `package.module:factory`.

The factories are in `tests/experiments/user_cell.py`. Config syntax and run names are
checked without TensorFlow; every factory that cannot be used stops the sweep in its
input phase with one line and nothing written; a good one trains end to end at smoke
size in both training loops, is tracked like the built-in kinds, and its logged model
predicts in a process that cannot import `tests.experiments.user_cell`.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from experiments import schema, sweep, tracking
from experiments.config import ConfigError, expand_grid, load_config
from tests.experiments.runner_helpers import keras_predictions, predict_without_the_repository

USER = "tests.experiments.user_cell"
GOOD = f"{USER}:make_cell"


# ------------------------------------------------------------ config (no TensorFlow)
def test_a_factory_in_the_grid_is_named_by_its_function_and_keeps_its_spec_as_kind():
    cfg = load_config("long_dependency", "smoke", [f"grid.model=[vanilla, {GOOD}]"])
    points = {p.name: p for p in expand_grid(cfg)}
    point = points["make_cell-L5-s0"]
    assert point.model == "make_cell" and point.kind == GOOD
    assert point.axes["model"] == "make_cell" and point.params()["kind"] == GOOD


def test_a_variant_of_kind_factory_keeps_the_variant_name_and_its_overrides():
    cfg = load_config(
        "long_dependency",
        "smoke",
        [f"models.mine.kind={GOOD}", "models.mine.units=12", "grid.model=[mine]"],
    )
    point = expand_grid(cfg)[0]
    assert point.name == "mine-L5-s0" and point.kind == GOOD
    assert point.hyperparameters.units == 12


def test_adding_a_factory_leaves_the_built_in_points_names_and_hashes_alone():
    before = {p.name: p.config_hash for p in expand_grid(load_config("long_dependency", "smoke"))}
    models = "grid.model=[vanilla, deep, lstm, gru, " + GOOD + "]"
    after = {
        p.name: p.config_hash
        for p in expand_grid(load_config("long_dependency", "smoke", [models]))
    }
    assert {name: after[name] for name in before} == before


@pytest.mark.parametrize(
    "override, message",
    [
        ("grid.model=[vanilla, 'tests.experiments.user_cell:']", "unknown model"),
        ("grid.model=[vanilla, 'tests.experiments.user-cell:make']", "unknown model"),
        ("grid.model=[vanilla, user_cell make]", "unknown model"),
        ("models.mine.kind=not a spec", "package.module:factory"),
        (f"grid.model=[{GOOD}, other.module:make_cell]", "would be named 'make_cell'"),
        ("grid.model=[vanilla, my.module:vanilla]", "would be named 'vanilla'"),
    ],
)
def test_bad_factory_syntax_and_colliding_names_fail_at_load_time(override, message):
    with pytest.raises(ConfigError, match=message) as raised:
        load_config("long_dependency", "smoke", [override])
    assert f"--set {override!r}" in str(raised.value)
    assert "\n" not in str(raised.value)


# ------------------------------------------------ the sweep's input phase (TensorFlow)
@pytest.mark.parametrize(
    "factory, message",
    [
        (
            "tests.experiments.no_such_module:make",
            "cannot import module 'tests.experiments.no_such_module'",
        ),
        (f"{USER}:no_such_name", f"module '{USER}' has no name 'no_such_name'"),
        (f"{USER}:not_callable", "is a int, not a callable"),
        (f"{USER}:wrong_rank", r"output has rank 3 .* expected rank 2"),
        (f"{USER}:wrong_size", r"output has shape \(2, 9\) .* expected \(2, 8\)"),
        (f"{USER}:non_finite", "not finite"),
        (f"{USER}:not_a_layer", "returned str, not a Keras layer"),
        (f"{USER}:raises", "calling it raised KeyError"),
        (f"{USER}:unregistered", "not Keras-serializable"),
    ],
)
def test_a_factory_that_cannot_be_used_stops_the_sweep_before_anything_is_written(
    tracking_dir, factory, message
):
    override = f"grid.model=[vanilla, {factory}]"
    with pytest.raises(ConfigError, match=message) as raised:
        sweep.run_sweep("long_dependency", "smoke", [override], out=lambda *_: None)
    text = str(raised.value)
    assert text.startswith(f"--set {override!r}: `grid.model` {factory!r}: ")
    assert "\n" not in text
    assert sorted(os.listdir(tracking_dir)) == ["mlflow.yaml"]  # no store, no logs


def test_a_variant_s_factory_error_names_its_kind_key_and_the_file(tmp_path):
    from experiments.models.factories import check_factories

    (tmp_path / "mine.yaml").write_text(
        "task: adding\n"
        f"models:\n  mine: {{kind: '{USER}:wrong_size'}}\n"
        "grid: {model: [mine], length: [5], seed: [0]}\n"
        "units: 4\n"
        "profiles: {smoke: {}, quick: {}, full: {}}\n"
    )
    cfg = load_config("mine", "smoke", config_dir=tmp_path)
    import datasets

    with pytest.raises(ConfigError) as raised:
        check_factories(cfg, expand_grid(cfg), {5: datasets.make("adding", length=5)})
    assert str(raised.value).startswith(
        f"{tmp_path / 'mine.yaml'} (profile smoke): `models.mine.kind` '{USER}:wrong_size': "
    )


# ------------------------------------------------------------------ end to end
OVERRIDES = [
    f"models.mine_fit.kind={GOOD}",
    "models.mine_fit.training_loop=keras_fit",
    f"models.broken.kind={USER}:fails_in_training",
    f"grid.model=[vanilla, {GOOD}, mine_fit, broken]",
    "grid.length=[5]",
]


@pytest.fixture(scope="module")
def user_sweep(tmp_path_factory, tracking_environment):
    """The smoke sweep with the test factories; yields (settings, result, runs by name)."""
    with tracking_environment(tmp_path_factory.mktemp("user")) as settings:
        result = sweep.run_sweep("long_dependency", "smoke", OVERRIDES, out=lambda *_: None)
        client = tracking.configure_mlflow(settings.tracking_uri)
        children = tracking.child_runs(client, result.experiment_id, result.parent_run_id)
        yield settings, result, {run.info.run_name: run for run in children}


def test_a_factory_trains_in_both_loops_and_a_failing_one_fails_its_point_alone(user_sweep):
    settings, result, runs = user_sweep
    assert {name: run.info.status for name, run in runs.items()} == {
        "vanilla-L5-s0": "FINISHED",
        "make_cell-L5-s0": "FINISHED",
        "mine_fit-L5-s0": "FINISHED",
        "broken-L5-s0": "FAILED",
    }
    assert result.failed == ["broken-L5-s0"] and not result.ok
    client = tracking.configure_mlflow(settings.tracking_uri)
    assert client.get_run(result.parent_run_id).info.status == "FAILED"
    broken = runs["broken-L5-s0"]
    assert "FailsWhenTraining" in broken.data.tags[schema.ERROR]
    traceback = client.download_artifacts(broken.info.run_id, schema.TRACEBACK_FILE)
    with open(traceback) as file:
        assert "this layer cannot train (on purpose)" in file.read()
    for name in ("make_cell-L5-s0", "mine_fit-L5-s0"):
        metrics = runs[name].data.metrics
        assert np.isfinite(metrics["test_mse"]) and metrics["epochs_trained"] == 2


def test_a_factory_s_runs_are_tracked_like_the_built_ins(user_sweep):
    import hashlib

    import tests.experiments.user_cell as user_cell

    settings, result, runs = user_sweep
    client = tracking.configure_mlflow(settings.tracking_uri)
    run = runs["make_cell-L5-s0"]
    assert run.data.params["kind"] == GOOD and run.data.tags["model"] == "make_cell"
    with open(user_cell.__file__, "rb") as file:
        digest = hashlib.sha256(file.read()).hexdigest()
    assert run.data.tags[schema.MODEL_SOURCE_SHA256] == digest
    sources = [a.path for a in client.list_artifacts(run.info.run_id, schema.MODEL_SOURCE_DIR)]
    assert sources == [f"{schema.MODEL_SOURCE_DIR}/user_cell.py"]
    # Its own curve: a horizon metric on the parent, rows in the report's tables.
    parent = client.get_run(result.parent_run_id)
    assert {"horizon_make_cell", "horizon_mine_fit", "horizon_vanilla"} <= set(parent.data.metrics)
    assert "make_cell" in result.report and "mine_fit" in result.report


def test_a_factory_s_logged_model_predicts_without_its_module_on_the_path(user_sweep, tmp_path):
    """`mlflow.pyfunc.load_model` in an interpreter that can import neither `rnn_layers`
    nor `tests.experiments.user_cell` from the repository: the model brings both."""
    settings, _, runs = user_sweep
    run_id = runs["make_cell-L5-s0"].info.run_id
    model_uri = f"runs:/{run_id}/{schema.model_name('make_cell-L5-s0')}"
    x = np.random.default_rng(0).random((4, 5, 2)).astype("float32")
    predictions, loaded_from = predict_without_the_repository(
        tmp_path, settings.tracking_uri, model_uri, x, absent=["tests", "rnn_layers"], loaded=USER
    )
    assert f"{os.sep}code{os.sep}tests{os.sep}experiments{os.sep}user_cell.py" in loaded_from
    expected = keras_predictions(settings.tracking_uri, model_uri, x)
    np.testing.assert_allclose(predictions, expected, rtol=1e-6)


def test_the_example_module_s_factory_passes_the_checks():
    import datasets
    from experiments.models.factories import check_factories

    cfg = load_config("long_dependency", "smoke", ["grid.model=[examples.min_gru:min_gru]"])
    points = expand_grid(cfg)
    check_factories(
        cfg, points, {p.length: datasets.make("adding", length=p.length) for p in points}
    )
    import examples.min_gru

    assert "examples.min_gru:min_gru" in examples.min_gru.__doc__  # its worked command line


def test_the_loader_imports_a_shipped_module_whose_name_another_package_holds(tmp_path):
    """Hugging Face's `datasets` has no `datasets.metrics`: where an installed package
    holds a shipped module's top-level name, the loader runs the shipped file instead."""
    import json
    import shutil

    from experiments.tracking import mlflow_model

    code = tmp_path / "code"
    (code / "shadowed").mkdir(parents=True)
    (code / "shadowed" / "cells.py").write_text("import sys\nsys.shipped_cells_ran = True\n")
    loader = code / f"{mlflow_model.LOADER_MODULE}.py"
    shutil.copyfile(mlflow_model._LOADER_FILE, loader)
    (code / mlflow_model.USER_MODULES_FILE).write_text(json.dumps(["shadowed.cells"]))
    installed = tmp_path / "site"
    (installed / "shadowed").mkdir(parents=True)
    (installed / "shadowed" / "__init__.py").write_text("")  # a regular package: it wins
    script = f"""
import sys
sys.path[:0] = [{str(installed)!r}, {str(code)!r}]
import {mlflow_model.LOADER_MODULE} as loader
loader._import_user_modules()
assert sys.shipped_cells_ran and "_vanilla_rnn_lab_shipped.shadowed.cells" in sys.modules
"""
    from tests.experiments.runner_helpers import REPO_ROOT

    finished = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},  # rnn_layers, which the loader imports
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert (
        mlflow_model.USER_MODULES_FILE
        == __import__("experiments.tracking.pyfunc_loader", fromlist=["x"]).USER_MODULES_FILE
    )
