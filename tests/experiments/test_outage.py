"""A sweep against a real `mlflow server` that stops mid-sweep and comes back on the same
store, and a disk that fills up under the artifact or TensorBoard root (a small tmpfs).

Slow (minutes: the server is away for 40 s while two workers train): `make test-outage`.
"""

import os
import pathlib
import signal
import subprocess
import threading
import time

import pytest

from tests.experiments.mlflow_server_fixture import MlflowServer
from tests.experiments.runner_helpers import REPO_ROOT, cli, cli_env, write_tracking_yaml

pytestmark = pytest.mark.slow

EXPERIMENT = "long_dependency"
EPOCHS = 60  # x VRL_EPOCH_DELAY_S 0.5: every run trains for 30 s or more
GRID = [
    "--set",
    "grid.model=[vanilla,gru]",
    "--set",
    "grid.length=[5,10]",
    "--set",
    "skip_decided_lengths=false",
    "--set",
    f"epochs={EPOCHS}",
]
POINTS = ["gru-L10-s0", "gru-L5-s0", "vanilla-L10-s0", "vanilla-L5-s0"]
OUTAGE_S = 40
TIMEOUT_S = 600


class Driver:
    """`python -m experiments run` in its own session, its output read by a thread."""

    def __init__(self, folder, *args, **env):
        self.lines = []
        self.process = subprocess.Popen(
            cli("run", EXPERIMENT, "--profile", "smoke", "--workers", "2", *GRID, *args),
            env=cli_env(folder, **env),
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.reader = threading.Thread(
            target=lambda: self.lines.extend(self.process.stdout), daemon=True
        )
        self.reader.start()

    def output(self):
        return "".join(self.lines)

    def wait_for_line(self, text, timeout=TIMEOUT_S):
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert time.monotonic() < deadline and self.process.poll() is None, self.output()
            time.sleep(0.5)

    def finish(self, timeout=TIMEOUT_S):
        self.process.wait(timeout=timeout)
        self.reader.join(timeout=10)
        return self.process.returncode, self.output()

    def kill(self):
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)


def server_runs(uri):
    """(client, parents, children) of the test experiment on a server: active runs."""
    import mlflow

    client = mlflow.MlflowClient(uri)
    found = client.get_experiment_by_name(f"test-{EXPERIMENT}")
    runs = client.search_runs([found.experiment_id]) if found else []
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return client, parents, children


def wait_until_training(uri, driver, count=2):
    """Waits until `count` child runs are RUNNING and have logged an epoch."""
    driver.wait_for_line("run 2/")
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        assert driver.process.poll() is None, driver.output()
        _, _, children = server_runs(uri)
        training = [r for r in children if r.info.status == "RUNNING" and "loss" in r.data.metrics]
        if len(training) >= count:
            return training
        time.sleep(1.0)
    raise AssertionError(f"no {count} runs trained in time:\n{driver.output()}")


def status_name(logged_model):
    """`READY`, `FAILED`, ...: a server gives the name, a local store the enum."""
    return str(logged_model.status).rpartition(".")[2]


def assert_complete(uri):
    """Every grid point: one FINISHED run with its whole metric history and a READY
    model; the parent FINISHED; nothing RUNNING."""
    client, parents, children = server_runs(uri)
    assert [p.info.status for p in parents] == ["FINISHED"]
    assert sorted(r.data.tags["grid_point"] for r in children) == POINTS
    for run in children:
        assert run.info.status == "FINISHED", run.data.tags["grid_point"]
        epochs = int(run.data.metrics["epochs_trained"])
        for key in ("loss", "val_loss", "val_mse"):
            steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, key))
            assert steps == list(range(epochs)), (run.data.tags["grid_point"], key, steps)
        models = client.search_logged_models(
            [run.info.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'"
        )
        assert [status_name(m) for m in models].count("READY") == 1


def test_a_sweep_rides_out_a_40_s_server_restart(tmp_path):
    write_tracking_yaml(tmp_path)  # the default window, 10 minutes
    server = MlflowServer(tmp_path / "server").start()
    driver = Driver(tmp_path, MLFLOW_TRACKING_URI=server.uri, VRL_EPOCH_DELAY_S="0.5")
    try:
        wait_until_training(server.uri, driver)
        server.stop()
        time.sleep(OUTAGE_S)
        server.start()  # the same port and store
        code, output = driver.finish()
        assert code == 0, output
        lines = output.splitlines()
        assert len([line for line in lines if "does not answer (since" in line]) == 1, output
        assert len([line for line in lines if "answers again" in line]) == 1, output
        assert "Traceback (most recent call last)" not in output
        assert_complete(server.uri)
    finally:
        driver.kill()
        server.stop()


def test_an_outage_past_the_window_stops_the_sweep_cleanly_then_it_resumes(tmp_path):
    # Past the window the driver waits one more window for the server to mark the runs
    # in flight: long enough for this test to start it again.
    write_tracking_yaml(tmp_path, outage_window_s=30)
    server = MlflowServer(tmp_path / "server").start()
    driver = Driver(tmp_path, MLFLOW_TRACKING_URI=server.uri, VRL_EPOCH_DELAY_S="0.5")
    try:
        in_flight = {r.info.run_id for r in wait_until_training(server.uri, driver)}
        server.stop()
        driver.wait_for_line("Stopping the sweep")  # the window is over
        server.start()  # back within the next window: the runs in flight are marked now
        code, output = driver.finish()
        assert code == 1, output
        errors = [line for line in output.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and "has not answered since" in errors[0], output
        assert "run the same command to resume" in errors[0]
        assert "could not be marked" not in errors[0], output
        client, parents, children = server_runs(server.uri)
        assert [p.info.status for p in parents] == ["FAILED"]
        assert not [r for r in children if r.info.status == "RUNNING"]
        assert {r.info.status for r in children if r.info.run_id in in_flight} == {"FAILED"}
    finally:
        driver.kill()

    try:
        again = Driver(tmp_path, MLFLOW_TRACKING_URI=server.uri)
        code, output = again.finish()
        assert code == 0, output
        assert "Resuming sweep" in output
        assert_complete(server.uri)
    finally:
        again.kill()
        server.stop()


# ------------------------------------------------------------- a full disk, for real
@pytest.fixture
def small_disk(tmp_path):
    """Mounts a 4 MiB tmpfs at `<tracking folder>/small` (root only); yields the folder,
    unmounts it after."""
    folder = tmp_path / "tracking" / "small"
    folder.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (root only): {mounted.stderr.decode()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder, leave_kib):
    """A file that fills `folder`'s disk but for about `leave_kib` KiB; returns it."""
    filler = pathlib.Path(folder, "filler")
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    filler.write_bytes(b"\0" * max(free - leave_kib * 1024, 0))
    return filler


@pytest.mark.parametrize("root", ["artifact", "tensorboard"])
def test_a_full_disk_stops_the_sweep_in_one_line_and_it_resumes_once_freed(
    tmp_path, small_disk, root
):
    from experiments import tracking

    folder = tmp_path / "tracking"
    path = folder / "mlflow.yaml"
    small = {"artifact": "artifact_location", "tensorboard": "tensorboard_root"}[root]
    folders = {"artifact_location": "mlartifacts", "tensorboard_root": "tb_logs"}
    folders[small] = f"small/{folders[small]}"
    path.write_text(
        "tracking_uri: sqlite:///mlflow.db\nexperiment_prefix: test-\n"
        + "".join(f"{key}: {value}\n" for key, value in folders.items())
    )
    # The configs and each run's start fit; a model (artifacts) or a run's TensorBoard
    # events over 60 epochs (TensorBoard) do not.
    filler = fill(small_disk, 64 if root == "artifact" else 12)
    args = ["--set", "grid.model=[vanilla]", "--set", "grid.length=[5]", "--workers", "1"]

    def run_the_sweep():
        return subprocess.run(
            cli("run", EXPERIMENT, "--profile", "smoke", "--set", "epochs=60", *args),
            env=cli_env(folder),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )

    full = run_the_sweep()
    output = full.stdout + full.stderr
    assert full.returncode == 1, output
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    label = "the artifact root" if root == "artifact" else "the TensorBoard root"
    named = f"no space left on the disk of {label} {small_disk.resolve()}/"
    assert len(errors) == 1 and named in errors[0], output
    assert "Free space there, then run the same command to resume" in errors[0]

    import mlflow

    settings = tracking.load_tracking_config(path)
    client = mlflow.MlflowClient(settings.tracking_uri)
    experiment = client.get_experiment_by_name(settings.experiment_name(EXPERIMENT))
    runs = client.search_runs([experiment.experiment_id])
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert [r.info.status for r in children] == ["FAILED"]
    assert "No space left on device" in children[0].data.tags["error"]
    models = client.search_logged_models([experiment.experiment_id])
    assert "READY" not in [status_name(m) for m in models]
    if root == "tensorboard":  # the artifact root has room: the traceback is kept
        kept = [a.path for a in client.list_artifacts(children[0].info.run_id)]
        assert "traceback.txt" in kept

    filler.unlink()  # space freed: the same command resumes
    again = run_the_sweep()
    assert again.returncode == 0, again.stdout + again.stderr
    runs = client.search_runs([experiment.experiment_id])
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert [r.info.status for r in children] == ["FINISHED"]
    assert [r.info.status for r in runs if "mlflow.parentRunId" not in r.data.tags] == ["FINISHED"]
