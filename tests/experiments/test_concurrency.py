"""Two drivers on one store, a driver killed with SIGKILL, names that are paths.

Each test starts its processes in their own session and kills what is left of them at
the end, so no test leaves a process behind; each waits with a timeout.
"""

import os
import re
import signal
import subprocess
import time

import pytest

from experiments import config as config_module
from experiments import tracking
from tests.experiments.mlflow_server_fixture import MlflowServer
from tests.experiments.runner_helpers import REPO_ROOT, cli, cli_env, write_tracking_yaml
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

EXPERIMENT = "long_dependency"
TINY = ["--set", "grid.model=[vanilla]", "--set", "grid.length=[5,10]"]
TIMEOUT_S = 300


class Processes:
    """CLI subprocesses, each in its own session; `close()` kills whatever is left."""

    def __init__(self):
        self.processes = []

    def start(self, tracking_dir, *args, **env):
        process = subprocess.Popen(
            cli(*args),
            env=cli_env(tracking_dir, **env),
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def close(self):
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=30)


@pytest.fixture
def processes():
    started = Processes()
    yield started
    started.close()


def finish(process):
    output, _ = process.communicate(timeout=TIMEOUT_S)
    return process.returncode, output


def store_runs(experiment=EXPERIMENT):
    """(parents, children) of an experiment in the test store: active runs only."""
    import mlflow

    settings = tracking.load_tracking_config()
    client = mlflow.MlflowClient(settings.tracking_uri)
    found = client.get_experiment_by_name(settings.experiment_name(experiment))
    runs = client.search_runs([found.experiment_id]) if found else []
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parents, children


def test_two_drivers_of_one_sweep_at_once_train_each_point_once(tracking_dir, processes):
    # Both start at once on a new store: one claims the sweep, the other stops at once.
    args = ("run", EXPERIMENT, "--profile", "smoke", *TINY)
    first = processes.start(tracking_dir, *args, VRL_EPOCH_DELAY_S="0.3")
    second = processes.start(tracking_dir, *args, VRL_EPOCH_DELAY_S="0.3")
    results = sorted([finish(first), finish(second)])
    (ok_code, ok_output), (busy_code, busy_output) = results
    assert ok_code == 0, ok_output
    assert busy_code == 75, busy_output
    assert "Another driver is running this sweep of long_dependency" in busy_output
    assert "Traceback" not in busy_output

    parents, children = store_runs()
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    names = sorted(r.data.tags["grid_point"] for r in children)
    assert names == ["vanilla-L10-s0", "vanilla-L5-s0"]  # one run per grid point
    assert all(r.info.status == "FINISHED" for r in children)
    # The report counts each grid point once: one seed, so every cell is k/1.
    assert re.search(r"L5:\S*\([01]/1\)", ok_output) and "/2)" not in ok_output, ok_output


def test_second_driver_started_mid_sweep_leaves_the_runs_in_flight_alone(tracking_dir, processes):
    one_point = ["--set", "grid.model=[vanilla]", "--set", "grid.length=[5]"]
    args = ("run", EXPERIMENT, "--profile", "smoke", *one_point, "--set", "epochs=40")
    first = processes.start(tracking_dir, *args, VRL_EPOCH_DELAY_S="0.5")  # 20 s or more
    lines = []
    deadline = time.monotonic() + TIMEOUT_S
    while not any(line.startswith("run 1/") for line in lines):
        assert time.monotonic() < deadline and first.poll() is None, "".join(lines)
        lines.append(first.stdout.readline())
    second = processes.start(tracking_dir, *args)
    busy_code, busy_output = finish(second)
    assert busy_code == 75, busy_output
    assert "Another driver is running this sweep" in busy_output and "pid" in busy_output
    _, in_flight = store_runs()
    assert [r.info.status for r in in_flight] == ["RUNNING"]  # not deleted, not killed

    code, output = finish(first)
    assert code == 0, "".join(lines) + output
    parents, children = store_runs()
    assert len(parents) == 1 and [r.info.status for r in children] == ["FINISHED"]
    assert children[0].info.run_id == in_flight[0].info.run_id


def test_two_experiments_starting_together_on_a_new_store_both_finish(tracking_dir, processes):
    # MLflow creating one SQLite database from two processes at once failed one of them.
    first = processes.start(tracking_dir, "run", EXPERIMENT, "--profile", "smoke", *TINY)
    second = processes.start(
        tracking_dir,
        "run",
        "latch",
        "--profile",
        "smoke",
        "--set",
        "grid.model=[vanilla]",
        "--set",
        "grid.length=[2]",
    )
    for code, output in (finish(first), finish(second)):
        assert code == 0, output
        assert "alembic" not in output and "Traceback" not in output
    assert len(store_runs(EXPERIMENT)[1]) == 2 and len(store_runs("latch")[1]) == 1


def test_workers_exit_when_the_driver_is_killed(tracking_dir, processes):
    args = ("run", EXPERIMENT, "--profile", "smoke", *TINY, "--workers", "2", "--set", "epochs=50")
    driver = processes.start(tracking_dir, *args, VRL_EPOCH_DELAY_S="0.5")
    deadline = time.monotonic() + TIMEOUT_S
    line = ""
    while not line.startswith("run 2/"):
        assert time.monotonic() < deadline and driver.poll() is None, line
        line = driver.stdout.readline()
    workers = _children_of(driver.pid)
    assert workers, "the pool has no worker processes"
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=30)
    wait_until(
        lambda: not [pid for pid in workers if _alive(pid)],
        timeout_s=30,
        message="the workers' exit after the driver was killed",
    )

    # The same command replaces what the killed driver left RUNNING and finishes the sweep.
    code, output = finish(processes.start(tracking_dir, *args))
    assert code == 0, output
    parents, children = store_runs()
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(r.info.status for r in children) == ["FINISHED", "FINISHED"]


def _children_of(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_an_experiment_name_is_never_a_path(tmp_path, tracking_dir):
    victim = tmp_path / "victim"
    (victim / "vanilla-L5-s0").mkdir(parents=True)
    (victim / "vanilla-L5-s0" / "precious.txt").write_text("keep me")
    (tmp_path / "victim.yaml").write_text(
        (config_module.CONFIG_DIR / f"{EXPERIMENT}.yaml").read_text()
    )
    for name in (str(victim), "../victim", "a/b", "name with space", ""):
        with pytest.raises(config_module.ConfigError, match="letters, digits"):
            config_module.load_config(name, "smoke")
    code = subprocess.run(
        cli("run", str(victim), "--profile", "smoke"),
        env=cli_env(tracking_dir),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert code.returncode == 2 and "not a path" in code.stderr
    assert (victim / "vanilla-L5-s0" / "precious.txt").read_text() == "keep me"
    assert not (tracking_dir / "mlflow.db").exists()  # nothing written

    settings = tracking.load_tracking_config()
    for bad in ("..", "a/b", "", "."):
        with pytest.raises(tracking.TrackingError, match="TensorBoard root"):
            settings.tb_run_dir(EXPERIMENT, bad)
        with pytest.raises(tracking.TrackingError, match="TensorBoard root"):
            settings.tb_experiment_dir(bad)


# ------------------------------------------------------------ a tracking server
def _server_env(server, **extra):
    # No HTTP retries: a stopped server must be noticed in seconds, not after backoff.
    return {"MLFLOW_TRACKING_URI": server.uri, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", **extra}


def _server_runs(server, experiment=EXPERIMENT):
    import mlflow

    client = mlflow.MlflowClient(server.uri)
    found = client.get_experiment_by_name(f"test-{experiment}")
    runs = client.search_runs([found.experiment_id]) if found else []
    return (
        [r for r in runs if "mlflow.parentRunId" not in r.data.tags],
        [r for r in runs if "mlflow.parentRunId" in r.data.tags],
    )


def test_two_drivers_on_one_tracking_server_train_each_point_once(tmp_path, processes):
    # No lock file can reach a team server's other users: the claim is the parent run's tags.
    write_tracking_yaml(tmp_path)  # TensorBoard logs and the experiment prefix
    with MlflowServer(tmp_path / "server") as server:
        args = ("run", EXPERIMENT, "--profile", "smoke", *TINY)
        env = _server_env(server, VRL_EPOCH_DELAY_S="0.3")
        first = processes.start(tmp_path, *args, **env)
        second = processes.start(tmp_path, *args, **env)
        (ok_code, ok_output), (busy_code, busy_output) = sorted([finish(first), finish(second)])
        assert ok_code == 0, ok_output
        assert busy_code == 75 and "Another driver is running this sweep" in busy_output
        parents, children = _server_runs(server)
        assert len(parents) == 1 and parents[0].data.tags["sweep.driver"] == ""  # released
        assert sorted(r.data.tags["grid_point"] for r in children) == [
            "vanilla-L10-s0",
            "vanilla-L5-s0",
        ]


def test_a_server_that_goes_away_mid_sweep_is_one_line_and_the_sweep_resumes(tmp_path, processes):
    one_point = ["--set", "grid.model=[vanilla]", "--set", "grid.length=[5]"]
    args = ("run", EXPERIMENT, "--profile", "smoke", *one_point, "--set", "epochs=40")
    write_tracking_yaml(tmp_path, outage_window_s=2)  # it never comes back: stop soon
    server = MlflowServer(tmp_path / "server").start()
    try:
        driver = processes.start(tmp_path, *args, **_server_env(server, VRL_EPOCH_DELAY_S="0.5"))
        lines = []
        deadline = time.monotonic() + TIMEOUT_S
        while not any(line.startswith("run 1/") for line in lines):
            assert time.monotonic() < deadline and driver.poll() is None, "".join(lines)
            lines.append(driver.stdout.readline())
        wait_until(  # the grid point trains, its epochs logged, when the server goes
            lambda: [r for r in _server_runs(server)[1] if "loss" in r.data.metrics],
            timeout_s=TIMEOUT_S,
            interval_s=0.5,
            message="a run logging epochs on the server",
        )
        server.stop()
        code, output = finish(driver)
        output = "".join(lines) + output
        assert code == 1, output
        errors = [line for line in output.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and "run the same command to resume" in errors[0], output
        assert "Traceback (most recent call last)" not in output
    finally:
        server.stop()

    with MlflowServer(tmp_path / "server", port=server.port) as again:  # the same store
        code, output = finish(processes.start(tmp_path, *args, **_server_env(again)))
        assert code == 0, output
        parents, children = _server_runs(again)
        assert len(parents) == 1 and parents[0].info.status == "FINISHED"
        assert [r.info.status for r in children] == ["FINISHED"]  # the stranded run replaced


def test_a_store_that_fails_under_the_driver_is_one_line_and_the_sweep_resumes(
    tracking_dir, monkeypatch
):
    import errno

    from experiments import sweep
    from experiments.sweep import runs as sweep_runs

    create_child = sweep_runs.create_child
    calls = []

    def disk_full_on_the_second_run(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return create_child(*args, **kwargs)

    monkeypatch.setattr(sweep_runs, "create_child", disk_full_on_the_second_run)
    overrides = ["grid.model=[vanilla]", "grid.length=[5,10]"]
    with pytest.raises(sweep.SweepFailed) as failed:
        sweep.run_sweep(EXPERIMENT, "smoke", overrides, out=lambda line: None)
    message = str(failed.value)
    assert "\n" not in message and "No space left on device" in message
    assert "run the same command to resume" in message
    parents, children = store_runs()
    assert parents[0].info.status == "FAILED"
    assert [r.info.status for r in children] == ["FINISHED"]

    monkeypatch.setattr(sweep_runs, "create_child", create_child)
    result = sweep.run_sweep(EXPERIMENT, "smoke", overrides, out=lambda line: None)
    assert result.ok and result.skipped == ["vanilla-L5-s0"]
    assert result.finished == ["vanilla-L10-s0"]
