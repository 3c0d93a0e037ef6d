"""The one tracking environment every test that trains or reports uses.

`tracking_environment(folder, tracking_uri=...)` writes `folder/mlflow.yaml` (store,
artifacts and TensorBoard logs in that folder, experiment prefix `test-`), makes it the
active tracking config (`VRL_MLFLOW_CONFIG`), clears `MLFLOW_TRACKING_URI` (or sets it
to a server's URI) and the test-only fault variables, and restores all of it afterwards,
MLflow's global tracking URI included (the runner sets both while it runs).
"""

import contextlib
import sys

import pytest

from experiments import faults
from tests.experiments.runner_helpers import write_tracking_yaml


@contextlib.contextmanager
def _tracking_environment(folder, tracking_uri="sqlite:///mlflow.db"):
    from experiments import tracking

    path = write_tracking_yaml(folder, tracking_uri)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(tracking.CONFIG_ENV, str(path))
        # setenv first, so that the variable's absence is what gets restored.
        patch.setenv("MLFLOW_TRACKING_URI", "")
        if tracking_uri.startswith(("http://", "https://")):
            patch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
        else:
            patch.delenv("MLFLOW_TRACKING_URI")
        for name in faults.ENV_NAMES:
            patch.delenv(name, raising=False)
        try:
            yield tracking.load_tracking_config(path)
        finally:
            if "mlflow" in sys.modules:
                import mlflow

                mlflow.set_tracking_uri(None)


@pytest.fixture(scope="session")
def tracking_environment():
    """The context manager above, for fixtures of any scope."""
    return _tracking_environment


@pytest.fixture
def tracking_dir(tmp_path):
    """A private tracking folder (SQLite store) for one test; yields the folder."""
    folder = tmp_path / "tracking"
    with _tracking_environment(folder):
        yield folder
