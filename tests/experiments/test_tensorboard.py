"""TensorBoard logs without a sweep: the epoch callback, the HParams definition and a run's
values, and what `python -m experiments tensorboard` serves and prints.

The end-to-end layout of a sweep (one TensorBoard run per grid point, the report's run) is
checked on the smoke sweep in `test_sweep.py`.
"""

import os
import re
import urllib.parse

import numpy as np
import pytest

from experiments import tracking
from experiments.tracking.tensorboard_hparams import (
    hparam_domain,
    sweep_hparams,
    tensorboard_hparam_value,
)
from experiments.tracking.tensorboard_logs import epoch_scalar_tag


def _events(path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    return EventAccumulator(str(path), size_guidance={"tensors": 0}).Reload()


def _values(events, tag):
    import tensorflow as tf

    return [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag)]


def _plugin_data(events, tag):
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = events.SummaryMetadata(tag).plugin_data.content
    return plugin_data_pb2.HParamsPluginData.FromString(content)


@pytest.mark.parametrize(
    "key, tag",
    [
        ("loss", "loss/train"),
        ("val_loss", "loss/validation"),
        ("mse", "mse/train"),
        ("val_accuracy", "accuracy/validation"),
    ],
)
def test_epoch_scalar_tag_puts_train_and_validation_of_a_metric_side_by_side(key, tag):
    assert epoch_scalar_tag(key) == tag


def test_epoch_summaries_write_every_epoch_into_the_run_folder_itself(tmp_path):
    import keras

    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    history = model.fit(
        x,
        y,
        epochs=3,
        batch_size=16,
        validation_data=(x[:16], y[:16]),
        callbacks=[tracking.epoch_summaries(tmp_path / "vanilla-L5-s0")],
        verbose=0,
    )
    run = tmp_path / "vanilla-L5-s0"
    assert [p for p in run.iterdir() if p.is_dir()] == []  # no train/ or validation/ run
    events = _events(run)
    assert sorted(events.Tags()["tensors"]) == [
        "loss/train",
        "loss/validation",
        "mae/train",
        "mae/validation",
    ]
    for tag, key in (("loss/train", "loss"), ("mae/validation", "val_mae")):
        steps, values = zip(*_values(events, tag))
        assert steps == (0, 1, 2)  # step = epoch, as MLflow's per-epoch metrics
        assert values == pytest.approx(history.history[key], rel=1e-6)


def test_a_fit_that_fails_before_its_first_epoch_writes_nothing(tmp_path):
    callback = tracking.epoch_summaries(tmp_path / "run")
    callback.on_epoch_end(0, {"learning_rate": 0.1})  # nothing but the learning rate
    callback.on_train_end()
    assert not (tmp_path / "run").exists()


def test_hparam_values_and_domains_have_one_type_per_column():
    assert tensorboard_hparam_value(np.int64(10)) == 10
    assert isinstance(tensorboard_hparam_value(np.float32(0.5)), float)
    assert tensorboard_hparam_value(True) is True
    assert tensorboard_hparam_value([64, 32]) == "[64, 32]"
    assert tensorboard_hparam_value(None) == "None"
    length = hparam_domain([100, 10, 50, 20, 10])
    assert length.dtype is int and length.values == [10, 20, 50, 100]  # sorted as numbers
    assert hparam_domain([0.01, 0.003]).values == [0.003, 0.01]
    assert hparam_domain([1, 0.5]).dtype is float
    assert hparam_domain([True, False]).dtype is bool
    assert hparam_domain(["vanilla", "lstm"]).values == ["lstm", "vanilla"]
    assert hparam_domain([32, [64, 32]]) is None  # mixed types: no domain


def _points():
    points = []
    for model, kind, units in (("vanilla", "vanilla", 32), ("deep", "deep", [64, 32])):
        for length in (100, 10, 50):
            points.append(
                {
                    "task": "adding",
                    "model": model,
                    "kind": kind,
                    "length": length,
                    "seed": 0,
                    "units": units,
                    "lr": 0.003,
                    "use_bias": True,
                }
            )
    return points


def test_the_dashboard_declares_the_grid_axes_and_what_varies_not_the_constants():
    names, varying = sweep_hparams(_points(), axes=["model", "length", "seed"])
    # `kind` repeats `model` at every point; task, lr and use_bias are constant.
    assert names == ["model", "length", "seed", "units"]
    assert varying == {"model", "length", "units"}


def test_hparams_config_and_run_values_agree_in_type(tmp_path):
    from tensorboard.plugins.hparams import api_pb2

    points = _points()
    axes = ["model", "length", "seed"]
    # Logs of an older version: the definition in `<experiment>/` itself (the "." run).
    tracking.write_texts(tmp_path, {"old": "the definition of an older sweep"})
    tracking.write_hparams_config(tmp_path, "sweep-a", points, "mse", axes=axes)
    assert not list(tmp_path.glob("events.out.tfevents.*"))  # no "." run
    report_run = tmp_path / "report" / "sweep-a"
    experiment = _plugin_data(_events(report_run), "_hparams_/experiment").experiment
    infos = {info.name: info for info in experiment.hparam_infos}
    assert list(infos) == ["model", "length", "seed", "units"]
    assert infos["length"].type == api_pb2.DATA_TYPE_FLOAT64
    assert [v.number_value for v in infos["length"].domain_discrete.values] == [10, 50, 100]
    assert infos["model"].type == api_pb2.DATA_TYPE_STRING
    assert not infos["units"].HasField("domain_discrete")  # 32 and "[64, 32]"
    # The plugin lists hyperparameters that differ first and shows 5 columns by default.
    assert [name for name, info in infos.items() if info.differs] == ["model", "length", "units"]
    metrics = [info.name.tag for info in experiment.metric_infos]
    assert metrics[:2] == ["breakdown/test_mse", "breakdown/solved_fraction"]
    assert {"mse/validation", "loss/validation", "loss/train"} <= set(metrics)

    # The report drawn in that folder keeps the definition; a second sweep's replaces it.
    tracking.clear_report_dir(report_run)
    assert _events(report_run).Tags()["tensors"] == ["_hparams_/experiment"]
    tracking.write_hparams_config(tmp_path, "sweep-b", points[:2], "mse", axes=axes)
    definitions = sorted(tmp_path.glob("report/*/events.out.tfevents.*"))
    assert [path.parent.name for path in definitions] == ["sweep-b"]

    run = tmp_path / "deep-L50-s0"
    final = {"test_mse": 0.2, "test_loss": 0.2, "solved": 0, "epochs_trained": 3}
    final["train_time_s"] = 1.5
    tracking.write_run_hparams(run, "deep-L50-s0", points[-1], final, metric="mse", length=50)
    events = _events(run)
    start = _plugin_data(events, "_hparams_/session_start_info").session_start_info
    assert start.group_name == "deep-L50-s0"
    assert start.hparams["length"].number_value == 50
    assert start.hparams["model"].string_value == "deep"
    assert start.hparams["use_bias"].bool_value is True
    # The final values the table shows, at step = length: no single points at step 0.
    assert sorted(events.Tags()["tensors"]) == [
        "_hparams_/session_start_info",
        "breakdown/solved_fraction",  # beside the report's curves of the same tags
        "breakdown/test_mse",
        "outcome/train_time_s",
    ]
    assert _values(events, "breakdown/test_mse") == [(50, pytest.approx(0.2))]


def test_a_report_redrawn_over_older_logs_takes_their_definition_out_of_the_root(tmp_path):
    points = _points()
    tracking.write_hparams_config(tmp_path, "sweep-a", points, "mse", axes=["model"])
    old_layout = tmp_path / "report" / "sweep-a"
    (definition,) = old_layout.glob("events.out.tfevents.*")
    definition.rename(tmp_path / definition.name.removesuffix(".hparams"))  # as it was
    report_run = tmp_path / "report" / "sweep-a"
    tracking.clear_report_dir(report_run)
    assert not list(tmp_path.glob("events.out.tfevents.*"))
    assert _events(report_run).Tags()["tensors"] == ["_hparams_/experiment"]


def test_the_hparams_definition_and_the_report_share_one_folder_whatever_the_sweep_name(
    tmp_path,
):
    from experiments.report.to_tensorboard import write_tensorboard

    sweep = "deep, num_layers=2 / smoke"  # a parent run name TensorBoard cannot show as is
    folder = tracking.sweep_report_dir(tmp_path, sweep)
    assert folder == tmp_path / "report" / "deep_num_layers=2_smoke"
    assert tracking.sweep_report_dir(tmp_path, tracking.tensorboard_safe(sweep)) == folder
    tracking.write_hparams_config(tmp_path, sweep, _points(), "mse", axes=["model"])
    write_tensorboard(folder, {}, "| a | table |", {"vanilla": {"breakdown/test_mse": [(5, 0.1)]}})
    assert [path.name for path in (tmp_path / "report").iterdir()] == [folder.name]
    assert sorted(_events(folder).Tags()["tensors"]) == ["_hparams_/experiment", "report/summary"]
    assert _values(_events(folder / "vanilla"), "breakdown/test_mse") == [(5, pytest.approx(0.1))]


@pytest.fixture
def served(tracking_dir, monkeypatch):
    """Runs `python -m experiments tensorboard ...` in-process; returns what it would exec."""
    from experiments import __main__ as cli
    from experiments.tracking import servers

    calls = []
    monkeypatch.setattr(
        servers, "_serve", lambda *args, **kwargs: calls.append((args, kwargs)) or 0
    )

    def serve(*argv):
        assert cli.main(["tensorboard", *argv]) == 0
        args, kwargs = calls.pop()
        command = args[1]
        return command[command.index("--logdir") + 1], kwargs.get("page", "")

    return serve


def test_tensorboard_serves_the_root_or_one_experiment(served, capsys):
    settings = tracking.load_tracking_config()
    for name in ("long_dependency", "short_dependency"):
        os.makedirs(settings.tb_run_dir(name, "vanilla-L5-s0"))
        tracking.write_texts(settings.tb_run_dir(name, "vanilla-L5-s0"), {"note": "x"})

    logdir, page = served()
    assert logdir == settings.tensorboard_root
    out = capsys.readouterr().out
    assert "(2 runs)" in out and "2 experiments: HPARAMS shows one experiment's" in out
    # Unsmoothed, coloured by model, the loss curves pinned: query parameters the frontend
    # reads (`runColorGroup=regex:...`: runs whose capture groups match share a colour).
    query = urllib.parse.parse_qs(page.removeprefix("?").removesuffix("#timeseries"))
    assert page.endswith("#timeseries") and query["smoothing"] == ["0"]
    assert "loss/validation" in query["pinnedCards"][0]
    color_by = re.compile(query["runColorGroup"][0].removeprefix("regex:"))
    models = {
        run: color_by.search(run).groups()
        for run in (
            "vanilla-L10-s0",
            "vanilla-L100-s2",
            "long_dependency/vanilla-L10-s0-units32",
            "report/long_dependency-quick-1a2b3c/vanilla",
            "deep-L10-s0",
        )
    }
    assert set(models.values()) == {("vanilla",), ("deep",)}
    assert "#images&regexInput=report" in out and "#text&regexInput=report" in out
    assert "#scalars&regexInput=report&_smoothingWeight=0" in out

    logdir, _ = served("long_dependency")
    assert logdir == settings.tb_experiment_dir("long_dependency")
    assert "(1 run)" in capsys.readouterr().out


def test_tensorboard_of_an_experiment_without_logs_names_the_ones_there(tracking_dir, capsys):
    from experiments import __main__ as cli

    settings = tracking.load_tracking_config()
    os.makedirs(settings.tb_experiment_dir("long_dependency"))
    assert cli.main(["tensorboard", "latch"]) == 2
    err = capsys.readouterr().err
    assert "No TensorBoard logs of 'latch'" in err and "long_dependency" in err
    assert cli.main(["tensorboard", "../elsewhere"]) == 2  # a name, never a path


def test_tensorboard_guide_says_which_dashboards_select_the_runs():
    from experiments.tracking.servers import tensorboard_guide

    address = "http://127.0.0.1:6006/"
    assert "select" not in tensorboard_guide(address, 40, "long_dependency", 1)
    assert "TIME SERIES selects them all" in tensorboard_guide(address, 50, None, 1)
    assert "serve one experiment" in tensorboard_guide(address, 501, None, 1)
