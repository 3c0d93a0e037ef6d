"""The Ray executor: sweeps through Ray tasks into a real `mlflow server`.

Every sweep here runs on a local Ray instance with 2 CPUs and logs through an
`mlflow server` process the test starts on a free loopback port (SQLite
backend store and served artifacts in a temporary folder), as a cluster
would. The runs are read back through MLflow's own client.

Skipped when `ray` is not installed (`pip install -r requirements-ray.txt`).
"""

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

ray = pytest.importorskip("ray")

import mlflow  # noqa: E402
from mlflow_server_fixture import MlflowServer, free_port  # noqa: E402  (tests/experiments is on sys.path)

from experiments import schema, sweep, tracking  # noqa: E402
from experiments.executors import ray_checks  # noqa: E402
from tests.waiting import wait_until  # noqa: E402

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
EXPERIMENT = "long_dependency"
# 4 of the smoke profile's 8 grid points (two models, both lengths): the same code paths,
# half the training time on a shared 2-core machine.
SMALL_GRID = ("grid.model=[vanilla,gru]", "grid.length=[5,10]")
POINTS = ["vanilla-L5-s0", "vanilla-L10-s0", "gru-L5-s0", "gru-L10-s0"]
FAILING_POINT = "gru-L5-s0"


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    with MlflowServer(tmp_path_factory.mktemp("mlflow-server")) as server:
        yield server


@pytest.fixture
def server_tracking(mlflow_server, tmp_path, tracking_environment, monkeypatch):
    """A `TrackingConfig` logging to the server, with TensorBoard under tmp_path."""
    monkeypatch.delenv(ray_checks.TENSORBOARD_MODE_ENV, raising=False)
    with tracking_environment(tmp_path, tracking_uri=mlflow_server.uri) as settings:
        yield settings


@pytest.fixture
def local_ray():
    """One local Ray instance (2 CPUs) for several sweeps: the executor reuses it."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _children(client, parent_run_id):
    experiment_id = client.get_run(parent_run_id).info.experiment_id
    return tracking.child_runs(client, experiment_id, parent_run_id)


def _by_point(children):
    runs = {}
    for run in children:
        runs.setdefault(run.data.tags[schema.GRID_POINT], []).append(run)
    return runs


def _event_files(folder):
    return list(pathlib.Path(folder).rglob("events.out.tfevents.*"))


def _is_one_tensorboard_run(folder):
    """The grid point's event files, all in its own folder (no train/ or validation/ run)."""
    files = _event_files(folder)
    return bool(files) and all(path.parent == pathlib.Path(folder) for path in files)


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    "tracking_uri, address, refused",
    [
        ("sqlite:////tmp/mlflow.db", "10.0.0.5:6379", True),
        ("file:///tmp/mlruns", "auto", True),
        ("/tmp/mlruns", "ray://head:10001", True),
        ("http://mlflow.internal:5000", "10.0.0.5:6379", False),
        ("postgresql://user:pw@db.internal/mlflow", "auto", False),
        (
            "sqlite:////tmp/mlflow.db",
            None,
            False,
        ),  # a local Ray instance shares this machine's files
        ("sqlite:////tmp/mlflow.db", "local", False),
    ],
)
def test_cluster_refuses_local_file_store(tracking_uri, address, refused):
    if refused:
        with pytest.raises(ValueError, match="make mlflow-server") as caught:
            ray_checks.check_tracking_for_cluster(tracking_uri, address)
        assert tracking_uri in str(caught.value) and "MLFLOW_TRACKING_URI=http://" in str(
            caught.value
        )
    else:
        ray_checks.check_tracking_for_cluster(tracking_uri, address)


@pytest.mark.parametrize(
    "tracking_uri, loopback",
    [
        ("http://127.0.0.1:5000", True),
        ("http://localhost:5000", True),
        ("http://[::1]:5000", True),
        ("postgresql://u:p@127.0.0.2/mlflow", True),
        ("http://10.0.0.5:5000", False),
        ("https://mlflow.example.org", False),
    ],
)
def test_loopback_server_is_recognised(tracking_uri, loopback):
    # A cluster with nodes on other machines refuses these (they would reach their own loopback).
    assert ray_checks.is_loopback_uri(tracking_uri) is loopback


def test_sweep_with_address_and_sqlite_store_fails_before_any_run(tracking_dir):
    tracking_config = tracking.load_tracking_config()
    started = time.monotonic()
    with pytest.raises(ValueError, match="Ray workers on other nodes cannot log there"):
        sweep.run_sweep(
            EXPERIMENT,
            "smoke",
            SMALL_GRID,
            executor="ray",
            address="192.0.2.1:6379",
            tracking_config=tracking_config,
            out=lambda line: None,
        )
    assert time.monotonic() - started < 30  # no cluster connection attempt, no training
    assert not ray.is_initialized()
    assert not (tracking_dir / "mlflow.db").exists(), (
        "the refusal must come before the store and parent run exist"
    )


def test_unreachable_or_malformed_address_fails_fast():
    # ray.init retries an address where nothing listens for many minutes: the executor checks first.
    port = free_port()
    started = time.monotonic()
    with pytest.raises(ValueError, match=f"nothing answers at 127.0.0.1:{port}"):
        ray_checks.preflight(address=f"127.0.0.1:{port}")
    with pytest.raises(ValueError, match="nothing answers"):
        ray_checks.preflight(address=f"ray://127.0.0.1:{port}")
    with pytest.raises(ValueError, match="expected auto, HOST:PORT"):
        ray_checks.preflight(address="head-node")
    assert time.monotonic() - started < 20
    assert not ray.is_initialized()


def test_bad_tensorboard_mode_is_refused(monkeypatch):
    monkeypatch.setenv(ray_checks.TENSORBOARD_MODE_ENV, "shared")
    with pytest.raises(ValueError, match="direct, sync"):
        ray_checks.preflight(address="auto")


# --------------------------------------------------- sweeps through Ray tasks
@pytest.mark.integration
def test_ray_sweep_logs_every_point_once_fails_one_and_resumes(
    server_tracking, local_ray, monkeypatch
):
    lines = []
    client = mlflow.MlflowClient(server_tracking.tracking_uri)
    tb_root = pathlib.Path(server_tracking.tb_experiment_dir(EXPERIMENT))

    # 1. One grid point raises: it is FAILED (with its traceback), the others finish.
    monkeypatch.setenv("VRL_FAIL_GRID_POINT", FAILING_POINT)  # forwarded to the Ray workers
    first = sweep.run_sweep(
        EXPERIMENT,
        "smoke",
        SMALL_GRID,
        executor="ray",
        workers=2,
        tracking_config=server_tracking,
        out=lines.append,
    )
    assert sorted(first.finished) == sorted(set(POINTS) - {FAILING_POINT})
    assert first.failed == [FAILING_POINT] and first.skipped == []
    parent = client.get_run(first.parent_run_id)
    assert parent.info.status == "FAILED"  # a grid point still to run
    children = _by_point(_children(client, first.parent_run_id))
    assert sorted(children) == sorted(POINTS)
    assert all(len(runs) == 1 for runs in children.values()), {
        k: len(v) for k, v in children.items()
    }
    for point, (run,) in children.items():
        expected = "FAILED" if point == FAILING_POINT else "FINISHED"
        assert run.info.status == expected, (point, run.info.status)
        assert run.info.run_name == point
        assert run.data.tags["executor"] == "ray"
        assert int(run.data.tags["ray.worker_pid"]) != os.getpid()  # trained in a Ray worker
        if expected == "FINISHED":
            assert run.data.metrics["solved"] in (0.0, 1.0)
            assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [0, 1]
            assert _is_one_tensorboard_run(tb_root / point), f"TensorBoard events of {point}"
    failed_run = children[FAILING_POINT][0]
    assert "Injected failure" in failed_run.data.tags["error"]
    artifacts = [a.path for a in client.list_artifacts(failed_run.info.run_id)]
    assert "traceback.txt" in artifacts
    # The executor's notices come with the sweep's own progress lines.
    assert any("Ray: 1 node(s), 2 grid point(s) at once (1 CPU each)" in line for line in lines)

    # 2. The same command again: the same parent, only the failed point reruns, no duplicates.
    # This time the TensorBoard logs travel back to the driver, as from a cluster's nodes.
    monkeypatch.delenv("VRL_FAIL_GRID_POINT")
    monkeypatch.setenv(ray_checks.TENSORBOARD_MODE_ENV, "sync")
    second = sweep.run_sweep(
        EXPERIMENT,
        "smoke",
        SMALL_GRID,
        executor="ray",
        workers=2,
        tracking_config=server_tracking,
        out=lines.append,
    )
    assert second.parent_run_id == first.parent_run_id
    assert second.finished == [FAILING_POINT] and second.failed == []
    assert sorted(second.skipped) == sorted(set(POINTS) - {FAILING_POINT})
    children = _by_point(_children(client, first.parent_run_id))
    assert sorted(children) == sorted(POINTS)
    assert all(len(runs) == 1 for runs in children.values()), {
        k: len(v) for k, v in children.items()
    }
    assert all(runs[0].info.status == "FINISHED" for runs in children.values())
    retried = children[FAILING_POINT][0]
    assert retried.info.run_id != failed_run.info.run_id
    assert retried.data.tags[schema.ATTEMPT] == "2"
    assert client.get_run(failed_run.info.run_id).info.lifecycle_stage == "deleted"
    assert _is_one_tensorboard_run(tb_root / FAILING_POINT), "synced TensorBoard logs"
    assert client.get_run(first.parent_run_id).info.status == "FINISHED"


@pytest.mark.integration
def test_sigterm_marks_runs_in_flight_killed_and_stops_ray(server_tracking, tmp_path):
    """`python -m experiments run ... --executor ray` owns its Ray instance.

    SIGTERM ends it cleanly.
    """
    client = mlflow.MlflowClient(server_tracking.tracking_uri)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO_ROOT))
    command = [
        sys.executable,
        "-m",
        "experiments",
        "run",
        EXPERIMENT,
        "--profile",
        "smoke",
        "--set",
        "grid.model=[vanilla]",
        "--set",
        "grid.length=[5]",
        "--set",
        "epochs=500",  # long enough to be caught training
        "--executor",
        "ray",
    ]
    log = open(tmp_path / "driver.log", "wb")
    driver = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        in_flight = wait_until(
            lambda: _training(client, server_tracking, driver, tmp_path / "driver.log"),
            timeout_s=150,
            interval_s=1,
            message=lambda: (
                "a grid point training, the driver running:\n"
                + (tmp_path / "driver.log").read_text()[-3000:]
            ),
        )
        driver.send_signal(signal.SIGTERM)
        assert driver.wait(timeout=60) == 128 + signal.SIGTERM, (
            tmp_path / "driver.log"
        ).read_text()[-3000:]
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
        log.close()
    output = (tmp_path / "driver.log").read_text()
    assert "marked KILLED" in output
    for run in in_flight:
        assert client.get_run(run.info.run_id).info.status == "KILLED"
    parent_id = in_flight[0].data.tags[schema.PARENT_RUN_ID]
    assert client.get_run(parent_id).info.status == "KILLED"
    # Ray shut down with the driver: the task's worker and the driver's process group are gone.
    worker_pid = int(client.get_run(in_flight[0].info.run_id).data.tags["ray.worker_pid"])
    wait_until(
        lambda: _gone(lambda: os.kill(worker_pid, 0)) and _gone(lambda: os.killpg(driver.pid, 0)),
        timeout_s=60,
        message="the Ray worker and the driver's process group gone",
    )


def _training(client, settings, driver, log):
    """The driver's runs of `vanilla-L5-s0` once one is RUNNING and has logged a loss;
    an empty list before that. Fails at once, with the driver's `log`, if it has ended."""
    assert driver.poll() is None, "the driver ended early:\n" + log.read_text()[-3000:]
    experiment = client.get_experiment_by_name(settings.experiment_name(EXPERIMENT))
    if experiment is None:
        return []
    running = client.search_runs(
        [experiment.experiment_id], filter_string="attributes.status = 'RUNNING'"
    )
    in_flight = [r for r in running if r.info.run_name == "vanilla-L5-s0"]
    if in_flight and client.get_metric_history(in_flight[0].info.run_id, "loss"):
        return in_flight
    return []


def _gone(signal_zero):
    """Whether sending signal 0 (`signal_zero()`) finds no process."""
    try:
        signal_zero()
    except ProcessLookupError:
        return True
    return False
