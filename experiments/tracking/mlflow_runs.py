"""MLflow: the client, the store, experiments, and the queries of a sweep's runs."""

import logging
import os
import pathlib
import sqlite3
import traceback

from experiments import schema
from experiments.errors import TrackingError, no_space, one_line
from experiments.tracking import outage
from experiments.tracking.locks import exclusive_lock


def configure_mlflow(tracking_uri, outage_window_s=None, out=None):
    """Points MLflow at `tracking_uri`; returns its client, which rides out an outage.

    MLflow's HTTP client retries 7 times with exponential backoff by default (minutes
    before an error), which would stall a training loop at every write while a server
    restarts. Here MLflow retries briefly (3 times: at once, then 2 and 4 s later), and the
    client's `StoreGuard` (`tracking.outage`) rides out longer outages, up to
    `outage_window_s`. Values already in the environment win.

    Args:
        tracking_uri: the store.
        outage_window_s: the outage window (None: the guard's, 600 s by default).
        out: where the driver's guard says that the store went away and came back.

    Returns:
        A `tracking.outage.GuardedClient` (an `MlflowClient` for every caller).
    """
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri  # inherited by worker processes
    # "Creating initial MLflow database tables..." and the like: not the user's business.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow.system_metrics").setLevel(logging.WARNING)
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    guard = outage.guard_for(tracking_uri, outage_window_s, out)
    return outage.GuardedClient(mlflow.MlflowClient(tracking_uri=tracking_uri), guard)


def open_store(tracking_config, out=None):
    """The MLflow client of the configured store, checked usable (created if it is new).

    `out`: where the client says that a tracking server went away and came back
    (`configure_mlflow`).

    A new SQLite database is created and migrated here, once, under a file lock: MLflow
    creating one database from several processes at once fails (`_alembic_tmp_*` tables).
    A store that cannot be used fails now, in one line, before anything is written.

    Raises:
        TrackingError: the store is not writable, not an MLflow database, or fails.
    """
    database = tracking_config.sqlite_path
    if database is not None:
        _check_writable(database)
    try:
        window = tracking_config.outage_window_s
        if database is None:
            client = configure_mlflow(tracking_config.tracking_uri, window, out)
            client.raw.search_experiments(max_results=1)  # a server that fails now: say so
        else:
            with exclusive_lock(tracking_config.lock_dir / "create-store.lock"):
                client = configure_mlflow(tracking_config.tracking_uri, window, out)
                client.search_experiments(max_results=1)
    except OSError as error:  # the lock file beside the database
        raise TrackingError(
            f"Cannot write the MLflow store {tracking_config.tracking_uri}: {error.strerror} "
            f"({error.filename}). Make its folder writable, or point tracking_uri in "
            "mlflow.yaml (or MLFLOW_TRACKING_URI) elsewhere."
        ) from None
    except Exception as error:  # SQLAlchemy, MLflow or HTTP errors: one line for the user
        raise TrackingError(_store_error(tracking_config.tracking_uri, error)) from None
    return client


def _check_writable(database):
    folder = database.parent
    if database.exists() and not database.is_file():
        raise TrackingError(
            f"The SQLite store {database} is a folder, not a database file: point "
            "tracking_uri in mlflow.yaml (or MLFLOW_TRACKING_URI) at a file."
        )
    target = database if database.exists() else folder
    if target.exists() and not os.access(target, os.W_OK):
        raise TrackingError(
            f"Cannot write the MLflow store: {target} is read-only for this user. Make it "
            "writable, or point tracking_uri in mlflow.yaml (or MLFLOW_TRACKING_URI) elsewhere."
        )


def _sqlite_error_name(error):
    """SQLite's own error name (`SQLITE_NOTADB`, ...) of the sqlite3 error behind `error`."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, sqlite3.Error):
            return getattr(error, "sqlite_errorname", "")
        # SQLAlchemy keeps the driver's error as `orig`; MLflow chains it.
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
    return ""


def _store_error(tracking_uri, error):
    name = _sqlite_error_name(error)
    if name == "SQLITE_NOTADB":
        return (
            f"{tracking_uri} is not an MLflow SQLite database (file is not a database). Point "
            "tracking_uri in mlflow.yaml (or MLFLOW_TRACKING_URI) at another file, or move "
            "this one away."
        )
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")):
        return (
            f"Cannot write the MLflow store {tracking_uri} ({one_line(error, 200)}). Make the "
            "file and its folder writable, or point tracking_uri elsewhere."
        )
    return f"The MLflow store {tracking_uri} cannot be used: {one_line(error)}"


def ensure_experiment(client, tracking, name):
    """The MLflow experiment id of a named experiment, created (or restored) if needed."""
    experiment_name = tracking.experiment_name(name)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        location = None
        if tracking.artifact_root is not None:
            location = pathlib.Path(tracking.artifact_root, name).as_uri()
        try:
            return client.create_experiment(
                experiment_name,
                location,
                tags={schema.EXPERIMENT_KIND: schema.MODEL_TRAINING_KIND},
            )
        except Exception:
            # Another driver created it at the same moment: use theirs.
            experiment = client.get_experiment_by_name(experiment_name)
            if experiment is None:
                raise
            return experiment.experiment_id
    if experiment.lifecycle_stage == "deleted":
        client.restore_experiment(experiment.experiment_id)
    if schema.EXPERIMENT_KIND not in experiment.tags:  # made before experiments had a kind
        client.set_experiment_tag(
            experiment.experiment_id, schema.EXPERIMENT_KIND, schema.MODEL_TRAINING_KIND
        )
    return experiment.experiment_id


# -------------------------------------------------------- MLflow run helpers
def end_run(client, run_id, status):
    """Ends a run with `status` (FINISHED, FAILED, KILLED) if it is still RUNNING."""
    run = client.get_run(run_id)
    if run.info.status in schema.ACTIVE_STATUSES:
        client.set_terminated(run_id, status)


def record_failure(client, run_id, run_name, error, reason=None):
    """A failed grid point, the one way: its traceback as `traceback.txt`, its one-line
    reason as the `error` tag and the run's description; returns its FAILED
    `schema.GridPointOutcome`. The run's status is the driver's to write.

    Args:
        reason: the line shown (default: `one_line(error)`).
    """
    line = reason or one_line(error)
    log_traceback(client, run_id, "".join(traceback.format_exception(error)), line)
    return schema.GridPointOutcome(run_name, schema.STATUS_FAILED, error=line)


def log_traceback(client, run_id, text, line):
    """Stores a traceback as `traceback.txt`, and its one-line summary as the `error` tag and
    as the run's description.

    On a full artifact disk only the tags are stored (the store's database may still take
    them); any other failure to store the file raises, after the tags.
    """
    from mlflow.entities import RunTag

    note = f"Failed: {line[:3900]} (the traceback: {schema.TRACEBACK_FILE})."
    try:
        client.log_text(run_id, text, schema.TRACEBACK_FILE)
    except Exception as error:
        if no_space(error) is None:
            raise
    finally:
        tags = [RunTag(schema.ERROR, line[:4000]), RunTag(schema.NOTE, note)]
        client.log_batch(run_id, tags=tags)


def latest_parent_run(client, experiment_id, config_hash=None):
    """The newest parent run of an experiment's sweeps (with this config hash), or None."""
    condition = f"= '{config_hash}'" if config_hash else "!= ''"
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{schema.SWEEP_HASH}` {condition}",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def child_runs(client, experiment_id, parent_run_id):
    """Every active child run of a parent (any status), oldest first."""
    runs = []
    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{schema.PARENT_RUN_ID}` = '{parent_run_id}'",
            order_by=["attributes.start_time ASC"],
            max_results=1000,
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs
