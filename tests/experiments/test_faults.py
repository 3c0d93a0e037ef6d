"""Faults and resume: a failing grid point, a diverging run, Ctrl-C / SIGTERM, --workers 2.

Grids are cut to one or two smoke points with `--set`, so each test trains
for seconds. Failures are injected with the test-only `VRL_FAIL_GRID_POINT`.
"""

import os
import signal
import subprocess
import threading
import time

import pytest

from experiments import sweep, tracking
from tests.experiments.runner_helpers import REPO_ROOT, cli, cli_env

EXPERIMENT = "long_dependency"
TWO_VANILLA = ["grid.model=[vanilla]", "grid.length=[5,10]"]


def client_and_runs(view="active"):
    """(client, every run of the test experiment as MLflow Run objects)."""
    import mlflow
    from mlflow.entities import ViewType

    settings = tracking.load_tracking_config()
    client = mlflow.MlflowClient(settings.tracking_uri)
    experiment = client.get_experiment_by_name(settings.experiment_name(EXPERIMENT))
    view_type = ViewType.ALL if view == "all" else ViewType.ACTIVE_ONLY
    return client, client.search_runs([experiment.experiment_id], run_view_type=view_type)


def children(runs, parent_id):
    return [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent_id]


def by_point(runs):
    points = {}
    for run in runs:
        points.setdefault(run.data.tags["grid_point"], []).append(run)
    return points


def test_failing_grid_point_then_resume(tracking_dir, monkeypatch):
    monkeypatch.setenv("VRL_FAIL_GRID_POINT", "vanilla-L5-s0")
    first = sweep.run_sweep(EXPERIMENT, "smoke", TWO_VANILLA, out=lambda line: None)
    assert first.failed == ["vanilla-L5-s0"] and first.finished == [
        "vanilla-L10-s0"
    ]  # the sweep went on

    client, runs = client_and_runs()
    points = by_point(children(runs, first.parent_run_id))
    failed = points["vanilla-L5-s0"][0]
    assert failed.info.status == "FAILED"
    traceback_text = client.download_artifacts(failed.info.run_id, "traceback.txt")
    assert "Injected failure for grid point vanilla-L5-s0" in open(traceback_text).read()
    assert "Injected failure" in failed.data.tags["error"]
    note = failed.data.tags["mlflow.note.content"]  # its description, in MLflow
    assert note.startswith("Failed: ") and "Injected failure" in note
    assert points["vanilla-L10-s0"][0].info.status == "FINISHED"
    parent = client.get_run(first.parent_run_id)
    # A sweep with a failed grid point is not FINISHED: its parent says so.
    assert parent.info.status == "FAILED" and parent.data.tags["sweep.n_failed"] == "1"

    # Run the same command again: only the failed point reruns, into the same parent.
    monkeypatch.delenv("VRL_FAIL_GRID_POINT")
    second = sweep.run_sweep(EXPERIMENT, "smoke", TWO_VANILLA, out=lambda line: None)
    assert second.parent_run_id == first.parent_run_id
    assert (
        second.skipped == ["vanilla-L10-s0"] and second.finished == ["vanilla-L5-s0"] and second.ok
    )

    client, runs = client_and_runs()
    points = by_point(children(runs, first.parent_run_id))
    assert {name: [r.info.status for r in rs] for name, rs in points.items()} == {
        "vanilla-L5-s0": ["FINISHED"],
        "vanilla-L10-s0": ["FINISHED"],
    }
    assert points["vanilla-L10-s0"][0].info.run_id == first_finished_id(first, client)
    assert client.get_run(first.parent_run_id).info.status == "FINISHED"
    rerun = points["vanilla-L5-s0"][0]
    assert (
        rerun.data.tags["attempt"] == "2"
        and rerun.data.tags["previous_attempts"] == failed.info.run_id
    )
    assert (
        client.get_run(failed.info.run_id).info.lifecycle_stage == "deleted"
    )  # soft-deleted, recoverable
    assert len([r for r in runs if "mlflow.parentRunId" not in r.data.tags]) == 1  # one parent


def first_finished_id(result, client):
    _, runs = client_and_runs(view="all")
    return [
        r.info.run_id
        for r in children(runs, result.parent_run_id)
        if r.data.tags["grid_point"] == "vanilla-L10-s0" and r.info.status == "FINISHED"
    ][0]


def test_nan_loss_stops_early_and_counts_as_diverged(tracking_dir):
    # Adam's step is about lr whatever the gradient: lr=1e30 overflows float32 in one step.
    # jit_compile=true (the default outside smoke): XLA must work with the project's layer.
    overrides = [
        "grid.model=[vanilla]",
        "grid.length=[5]",
        "lr=1e30",
        "epochs=3",
        "jit_compile=true",
    ]
    result = sweep.run_sweep(EXPERIMENT, "smoke", overrides, out=lambda line: None)
    assert result.finished == ["vanilla-L5-s0"] and result.ok
    client, runs = client_and_runs()
    (run,) = children(runs, result.parent_run_id)
    assert run.info.status == "FINISHED"
    metrics = run.data.metrics
    assert metrics["diverged"] == 1 and metrics["solved"] == 0
    assert metrics["epochs_trained"] == 1  # TerminateOnNaN stopped it in the first epoch of 3
    assert (
        run.data.tags["jit_compile_effective"] == "True"
        and "jit_compile_fallback" not in run.data.tags
    )

    # --force: a new parent, the grid point trained again.
    forced = sweep.run_sweep(EXPERIMENT, "smoke", overrides, force=True, out=lambda line: None)
    assert forced.parent_run_id != result.parent_run_id and forced.finished == ["vanilla-L5-s0"]


class Sweep:
    """The CLI in a subprocess (its own process group), its output collected by a thread."""

    def __init__(self, tracking_dir, *args):
        self.lines = []
        self.process = subprocess.Popen(
            cli("run", EXPERIMENT, "--profile", "smoke", *args),
            # A pause after every epoch keeps the runs training (30 epochs: 15 s or more) until
            # the signal comes, however slowly this test's polling of MLflow gets through on a
            # busy machine.
            env=cli_env(tracking_dir, VRL_EPOCH_DELAY_S="0.5"),
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # so we can check that no worker outlives it
        )
        self.reader = threading.Thread(
            target=lambda: self.lines.extend(self.process.stdout), daemon=True
        )
        self.reader.start()

    def output(self):
        return "".join(self.lines)

    def wait_for_epochs(self, n_running, deadline_s=240):
        """Waits until `n_running` child runs are RUNNING and have logged an epoch."""
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            # Touch the store only once the driver has created it (a second process
            # creating a fresh SQLite store at the same time can corrupt it).
            if any(line.startswith("run ") for line in self.lines):
                _, runs = client_and_runs()
                running = [
                    r
                    for r in runs
                    if r.info.status == "RUNNING"
                    and "mlflow.parentRunId" in r.data.tags
                    and "loss" in r.data.metrics
                ]
                if len(running) >= n_running:
                    return running
            time.sleep(1.0)  # each look costs the loaded machine CPU
        raise AssertionError(f"the sweep did not start training in time:\n{self.output()}")

    def stop(self, signum):
        self.process.send_signal(signum)
        self.process.wait(timeout=60)
        self.reader.join(timeout=10)
        return self.process.returncode, self.output()


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


LONG = ["--set", "epochs=30"]


def test_ctrl_c_marks_killed_then_resume_runs_the_rest(tracking_dir):
    # One worker: one run in flight when Ctrl-C comes, the other not started.
    run = Sweep(
        tracking_dir, "--workers", "1", *LONG, *sum((["--set", o] for o in TWO_VANILLA), [])
    )
    (running,) = run.wait_for_epochs(1)
    returncode, output = run.stop(signal.SIGINT)
    assert returncode == 128 + signal.SIGINT, output
    assert "Interrupted (SIGINT): 1 run(s) in flight marked KILLED" in output

    client, runs = client_and_runs()
    assert [r.info.status for r in runs if r.info.run_id == running.info.run_id] == ["KILLED"]
    assert not [r for r in runs if r.info.status == "RUNNING"]
    parent_id = running.data.tags["mlflow.parentRunId"]
    assert client.get_run(parent_id).info.status == "KILLED"
    assert [r.data.tags["grid_point"] for r in children(runs, parent_id)] == [
        "vanilla-L5-s0"
    ]  # L10 never started

    result = sweep.run_sweep(
        EXPERIMENT, "smoke", ["epochs=30", *TWO_VANILLA], out=lambda line: None
    )
    assert result.parent_run_id == parent_id and sorted(result.finished) == [
        "vanilla-L10-s0",
        "vanilla-L5-s0",
    ]
    client, runs = client_and_runs()
    statuses = {
        name: [r.info.status for r in rs]
        for name, rs in by_point(children(runs, parent_id)).items()
    }
    assert statuses == {"vanilla-L5-s0": ["FINISHED"], "vanilla-L10-s0": ["FINISHED"]}
    assert client.get_run(parent_id).info.status == "FINISHED"


@pytest.mark.integration
def test_sigterm_with_two_workers_kills_both_then_resume_with_two_workers(tracking_dir):
    overrides = ["grid.model=[vanilla,gru]", "grid.length=[5]", "epochs=30"]
    run = Sweep(tracking_dir, "--workers", "2", *sum((["--set", o] for o in overrides), []))
    running = run.wait_for_epochs(2)
    returncode, output = run.stop(signal.SIGTERM)
    assert returncode == 128 + signal.SIGTERM, output
    assert "Interrupted (SIGTERM): 2 run(s) in flight marked KILLED" in output
    deadline = time.monotonic() + 20
    while group_alive(run.process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not group_alive(run.process.pid), "a worker process outlived the driver"

    client, runs = client_and_runs()
    assert (
        sorted(r.info.status for r in runs if r.info.run_id in {x.info.run_id for x in running})
        == ["KILLED"] * 2
    )
    assert not [r for r in runs if r.info.status == "RUNNING"]

    result = sweep.run_sweep(EXPERIMENT, "smoke", overrides, workers=2, out=lambda line: None)
    assert sorted(result.finished) == ["gru-L5-s0", "vanilla-L5-s0"] and result.ok
    client, runs = client_and_runs()
    kids = children(runs, result.parent_run_id)
    assert sorted((r.data.tags["grid_point"], r.info.status) for r in kids) == [
        ("gru-L5-s0", "FINISHED"),
        ("vanilla-L5-s0", "FINISHED"),
    ]
    assert all(r.data.metrics["epochs_trained"] == 30 for r in kids)


def test_a_full_disk_stops_the_sweep_in_one_line_naming_the_folder_then_it_resumes(
    tracking_dir, monkeypatch
):
    # The TensorBoard root's disk fills during the first epoch (the fault seam; the real
    # thing, a full tmpfs, is tests/experiments/test_outage.py).
    settings = tracking.load_tracking_config()
    monkeypatch.setenv("VRL_DISK_FULL_UNDER", settings.tensorboard_root)
    one_point = ["grid.model=[vanilla]", "grid.length=[5]"]
    with pytest.raises(sweep.SweepFailed) as failed:
        sweep.run_sweep(EXPERIMENT, "smoke", one_point, out=lambda line: None)
    message = str(failed.value)
    assert "\n" not in message
    assert f"no space left on the disk of the TensorBoard root {settings.tensorboard_root}" in (
        message
    )
    assert "Free space there, then run the same command to resume" in message

    client, runs = client_and_runs()
    (child,) = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert child.info.status == "FAILED" and "No space left" in child.data.tags["error"]
    assert "traceback.txt" in [a.path for a in client.list_artifacts(child.info.run_id)]
    assert not client.search_logged_models([child.info.experiment_id])  # no model logged
    parent = client.get_run(child.data.tags["mlflow.parentRunId"])
    assert parent.info.status == "FAILED"

    monkeypatch.delenv("VRL_DISK_FULL_UNDER")  # space freed
    result = sweep.run_sweep(EXPERIMENT, "smoke", one_point, out=lambda line: None)
    assert result.ok and result.finished == ["vanilla-L5-s0"]
    client, runs = client_and_runs()
    assert [r.info.status for r in runs] == ["FINISHED", "FINISHED"]
