"""Any grid axis, any value type, end to end: a run name (also its logged model's and its
TensorBoard folder's name) holds only letters, digits, `-` and `_`, and a grid whose values
cannot become distinct names is refused at load time, before any run exists."""

import pathlib
import re

import mlflow
import pytest

from experiments import config, sweep, tracking
from experiments.config.grid import axis_value_text

VALID_NAME = re.compile(r"[A-Za-z0-9_-]+")


@pytest.mark.parametrize(
    "value, text",
    [
        (0.001, "1e-3"),
        (0.0003, "3e-4"),
        (0.0025, "2p5e-3"),
        (0.9, "0p9"),
        (2.0, "2"),
        (1e-5, "1e-5"),
        (-0.5, "-0p5"),
        (32, "32"),
        (True, "true"),
        ("relu", "relu"),
        ([64, 32], "64_32"),
        (
            {"class_name": "Orthogonal", "config": {"gain": 0.9}},
            "class_name_Orthogonal_config_gain_0_9",
        ),
    ],
)
def test_an_axis_value_reads_in_a_run_name_without_a_forbidden_character(value, text):
    assert axis_value_text(value) == text
    assert VALID_NAME.fullmatch(axis_value_text(value))


def test_every_grid_point_of_every_named_experiment_has_a_valid_run_name():
    for name in config.experiment_names():
        for profile in config.PROFILES:
            cfg = config.load_config(name, profile)
            bad = [p.name for p in config.expand_grid(cfg) if not VALID_NAME.fullmatch(p.name)]
            assert not bad, (name, profile, bad)


def test_values_that_would_share_a_name_are_refused_before_anything_is_written(tracking_dir):
    with pytest.raises(config.ConfigError, match="share a run name"):
        sweep.run_sweep(
            "long_dependency",
            "smoke",
            ["grid.model=[vanilla]", "grid.length=[5]", "grid.lr=[0.001,0.0010000001]"],
            out=lambda line: None,
        )
    assert not (tracking_dir / "mlflow.db").exists()


def test_a_float_valued_axis_trains_logs_and_names_every_grid_point(tracking_dir):
    result = sweep.run_sweep(
        "long_dependency",
        "smoke",
        ["grid.model=[vanilla]", "grid.length=[5]", "grid.lr=[0.001,0.01]"],
        out=lambda line: None,
    )
    names = ["vanilla-L5-s0-lr1e-3", "vanilla-L5-s0-lr1e-2"]
    assert sorted(result.finished) == sorted(names) and not result.failed
    settings = tracking.load_tracking_config()
    mlflow.set_tracking_uri(settings.tracking_uri)
    experiment = mlflow.get_experiment_by_name(settings.experiment_name("long_dependency"))
    models = mlflow.search_logged_models(
        experiment_ids=[experiment.experiment_id], output_format="list"
    )
    assert sorted(model.name for model in models) == sorted(names)
    runs = mlflow.search_runs([experiment.experiment_id], filter_string="params.lr = '0.01'")
    assert list(runs["tags.mlflow.runName"]) == ["vanilla-L5-s0-lr1e-2"]
    tb_root = pathlib.Path(settings.tb_experiment_dir("long_dependency"))
    assert all((tb_root / name).is_dir() for name in names)
