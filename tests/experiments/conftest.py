"""Fixtures for the runner tests: a private tracking store and TensorBoard root per test."""

import pytest

from tests.experiments.runner_helpers import write_tracking_yaml


@pytest.fixture
def tracking_dir(tmp_path, monkeypatch):
    """A temporary folder with its own mlflow.yaml, made the active tracking config.

    Sets `VRL_MLFLOW_CONFIG` to it and removes `MLFLOW_TRACKING_URI` and
    `VRL_FAIL_GRID_POINT`; all restored after the test (the runner sets
    `MLFLOW_TRACKING_URI` while it runs, for its workers).
    """
    path = write_tracking_yaml(tmp_path / "tracking")
    monkeypatch.setenv("VRL_MLFLOW_CONFIG", str(path))
    monkeypatch.delenv("VRL_FAIL_GRID_POINT", raising=False)
    # setenv first so that monkeypatch restores the variable's absence afterwards.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    return path.parent
