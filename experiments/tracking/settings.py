"""The project's tracking settings: `mlflow.yaml`, and whether its store can be used.

- `load_tracking_config()` reads `mlflow.yaml` (repo root; `VRL_MLFLOW_CONFIG` names
  another file) and applies `MLFLOW_TRACKING_URI` when set.
- `check_tracking_uri()` fails within seconds, with a message that says what to do,
  when a tracking server cannot be reached.

Nothing here imports MLflow or TensorFlow: the command line checks its input before it
pays for either.
"""

import dataclasses
import os
import pathlib
import urllib.error
import urllib.parse
import urllib.request

import yaml

from experiments import schema
from experiments.errors import TrackingError

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_FILE = REPO_ROOT / "mlflow.yaml"
CONFIG_ENV = "VRL_MLFLOW_CONFIG"
# `make mlflow-ui` serves a local store here; the model-training view of MLflow 3's UI.
MLFLOW_UI_PORT = 5000
LOCAL_MLFLOW_UI = f"http://127.0.0.1:{MLFLOW_UI_PORT}"
MODEL_TRAINING_VIEW = "workflowType=machine_learning"
# A run page's tab of metric charts.
RUN_CHARTS_TAB = "model-metrics"
TRACKING_KEYS = {
    "tracking_uri": "sqlite:///mlflow.db",
    "artifact_location": "mlartifacts",
    "experiment_prefix": "",
    "tensorboard_root": "tb_logs",
    "outage_window_s": 600,
    "jax_cache_dir": "jax_cache",
}
# Keys whose value is a number of seconds, not a string.
SECONDS_KEYS = ("outage_window_s",)


@dataclasses.dataclass(frozen=True)
class TrackingConfig:
    """Resolved tracking settings.

    Attributes:
        tracking_uri: the MLflow tracking URI (SQLite paths made absolute).
        artifact_root: absolute folder for a local store's artifacts, or None
            for a tracking server (the server decides).
        experiment_prefix: prefix of every MLflow experiment name.
        tensorboard_root: absolute TensorBoard root folder.
        source: where the settings came from (for messages).
        outage_window_s: how long a sweep rides out a tracking server that does not
            answer (training goes on, what it logs is kept) before it stops.
        jax_cache_dir: absolute folder of JAX's persistent compilation cache (sweeps on
            JAX), or None: a rerun of a shape compiles nothing.
    """

    tracking_uri: str
    artifact_root: str | None
    experiment_prefix: str
    tensorboard_root: str
    source: str
    outage_window_s: float = TRACKING_KEYS["outage_window_s"]
    jax_cache_dir: str | None = None

    def experiment_name(self, name):
        """The MLflow experiment name of a named experiment."""
        return f"{self.experiment_prefix}{name}"

    def ui_address(self, experiment_id=None, run_id=None, *, sweep=None):
        """The MLflow UI page of an experiment's runs, of one sweep's runs or of one run.

        MLflow 3's UI opens on its GenAI view unless the address carries
        `workflowType=machine_learning`; with it the experiment opens on its runs table.
        `sweep` (a parent run id) filters that table to the sweep's child runs: the runs
        page reads its search box from the query (`searchFilter`, MLflow 3.17's
        `useExperimentPageSearchFacets`). A run's page opens on its charts
        (`/model-metrics`), where a parent's breakdown is drawn against length. A local
        store's UI is `make mlflow-ui`'s, on `MLFLOW_UI_PORT`; a server serves its own.
        """
        base = self.tracking_uri.rstrip("/") if self.is_remote else LOCAL_MLFLOW_UI
        page = "#/experiments"
        query = [MODEL_TRAINING_VIEW]
        if experiment_id is not None:
            page += f"/{experiment_id}/runs"
            if run_id is not None:
                page += f"/{run_id}/{RUN_CHARTS_TAB}"
            elif sweep is not None:
                search = f"tags.`{schema.PARENT_RUN_ID}` = '{sweep}'"
                query.append(urllib.parse.urlencode({"searchFilter": search}))
        return f"{base}/{page}?{'&'.join(query)}"

    def tb_experiment_dir(self, name):
        """`<tensorboard_root>/<experiment>`: where the HParams config lives."""
        return self._inside_tensorboard_root(name)

    def tb_run_dir(self, name, run_name):
        """`<tensorboard_root>/<experiment>/<run name>`."""
        return self._inside_tensorboard_root(name, run_name)

    def _inside_tensorboard_root(self, *names):
        # Run folders are reset (deleted, recreated): a name must never lead outside the root.
        for name in names:
            if not name or name in (".", "..") or "/" in name or os.sep in name:
                raise TrackingError(
                    f"{name!r} cannot be a folder name under the TensorBoard root "
                    f"{self.tensorboard_root}: use letters, digits, `_`, `-`, `.` or `=`."
                )
        return os.path.join(self.tensorboard_root, *names)

    @property
    def sqlite_path(self):
        """The database file of a SQLite store, else None."""
        prefix = "sqlite:///"
        if self.tracking_uri.startswith(prefix) and self.tracking_uri != prefix + ":memory:":
            return pathlib.Path(self.tracking_uri[len(prefix) :])
        return None

    @property
    def lock_dir(self):
        """`<database>-locks/` beside a SQLite store (file locks of this machine), else None."""
        path = self.sqlite_path
        return None if path is None else path.with_name(path.name + "-locks")

    def sweep_lock_path(self, name, config_hash):
        """The lock file that one driver of a sweep holds, or None (not a SQLite store)."""
        folder = self.lock_dir
        return None if folder is None else folder / f"{name}-{config_hash}.lock"

    @property
    def is_remote(self):
        return self.tracking_uri.startswith(("http://", "https://"))


def _resolve_sqlite(uri, base):
    # sqlite:///relative.db is relative to the config file's folder, not the cwd;
    # sqlite:////abs/path.db is absolute already.
    prefix = "sqlite:///"
    if uri.startswith(prefix):
        path = uri[len(prefix) :]
        if path and not path.startswith("/") and path != ":memory:":
            return prefix + str((base / path).resolve())
    return uri


def load_tracking_config(path=None, environ=None):
    """Reads `mlflow.yaml` and resolves it.

    Args:
        path: the YAML file; default `$VRL_MLFLOW_CONFIG` or `<repo>/mlflow.yaml`.
        environ: the environment to read (`os.environ` by default);
            `MLFLOW_TRACKING_URI` there overrides `tracking_uri`.

    Returns:
        A `TrackingConfig`.

    Raises:
        TrackingError: the file is missing, not YAML, has unknown keys or
            values of the wrong type.
    """
    environ = os.environ if environ is None else environ
    path = pathlib.Path(path or environ.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE).resolve()
    if not path.is_file():
        raise TrackingError(
            f"Tracking config {path} does not exist. Create it (see the repo's mlflow.yaml)."
        )
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise TrackingError(f"{path}: not valid YAML, fix the file: {error}") from None
    if not isinstance(data, dict):
        raise TrackingError(
            f"{path}: the top level must be a mapping (key: value); got {type(data).__name__}."
        )
    unknown = sorted(set(data) - set(TRACKING_KEYS))
    if unknown:
        raise TrackingError(
            f"{path}: unknown key(s) {', '.join(map(repr, unknown))}. "
            f"Known keys: {', '.join(TRACKING_KEYS)}."
        )
    values = _checked_values(path, data)
    base = path.parent
    tracking_uri = environ.get("MLFLOW_TRACKING_URI") or values["tracking_uri"]
    tracking_uri = _resolve_sqlite(tracking_uri, base)
    remote = tracking_uri.startswith(("http://", "https://"))
    artifact_root = None if remote else str((base / values["artifact_location"]).resolve())
    source = str(path) + (" + MLFLOW_TRACKING_URI" if environ.get("MLFLOW_TRACKING_URI") else "")
    return TrackingConfig(
        tracking_uri=tracking_uri,
        artifact_root=artifact_root,
        experiment_prefix=values["experiment_prefix"],
        tensorboard_root=str((base / values["tensorboard_root"]).resolve()),
        source=source,
        outage_window_s=float(values["outage_window_s"]),
        jax_cache_dir=str((base / values["jax_cache_dir"]).resolve()),
    )


def _checked_values(path, data):
    """Every key's value (the file's, else its default), each of the right type."""
    values = {
        **TRACKING_KEYS,
        **{k: v for k, v in data.items() if v is not None or k == "experiment_prefix"},
    }
    for key, value in values.items():
        if key == "experiment_prefix" and value is None:
            values[key] = ""
        elif key in SECONDS_KEYS:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise TrackingError(
                    f"{path}: `{key}` must be a number of seconds > 0; got {value!r}."
                )
        elif not isinstance(value, str):
            raise TrackingError(
                f"{path}: `{key}` must be a string; got {value!r} ({type(value).__name__})."
            )
    return values


def check_tracking_uri(tracking_uri, timeout=3.0):
    """Fails fast, with advice, when the tracking store cannot be used.

    For an http(s) server: one request to `/health` with a short timeout and
    no retries (MLflow's own client retries with backoff for minutes). For a
    SQLite file: its folder must exist or be creatable.

    Raises:
        TrackingError: with what was tried and what to change.
    """
    if tracking_uri.startswith(("http://", "https://")):
        url = tracking_uri.rstrip("/") + "/health"
        try:
            with urllib.request.urlopen(url, timeout=timeout):
                return
        except urllib.error.HTTPError:
            return  # something answered (auth, proxy, an older server without /health)
        except (TimeoutError, urllib.error.URLError, ConnectionError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise TrackingError(
                f"Cannot reach the MLflow tracking server at {tracking_uri} ({reason}). "
                f"Start it (`make mlflow-server`), fix MLFLOW_TRACKING_URI, or unset it to log to "
                f"the local SQLite store named in mlflow.yaml."
            ) from None
    elif tracking_uri.startswith("sqlite:///"):
        path = pathlib.Path(tracking_uri[len("sqlite:///") :])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise TrackingError(
                f"Cannot create the folder of the SQLite store {tracking_uri}: {error}"
            ) from None
