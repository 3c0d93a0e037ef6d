"""The failure policy, decided once: which errors stop a sweep (`errors.sweep_stopper`),
how a failed grid point is recorded (`tracking.record_failure`), and who writes a run's
status (the driver: a job returns outcomes and leaves its runs' status alone)."""

import errno

import pytest

from experiments import schema, tracking
from experiments.errors import DiskFull, StoreUnavailable, sweep_stopper


def _raised_from(error, cause):
    try:
        try:
            raise cause
        except Exception as inner:
            raise error from inner
    except Exception as outer:
        return outer


def test_a_store_gone_stops_the_sweep_even_behind_another_error():
    gone = StoreUnavailable("the server did not answer for 600 s")
    assert sweep_stopper(_raised_from(RuntimeError("logging failed"), gone)) is gone


def test_a_full_disk_stops_the_sweep_as_one_disk_full_naming_what_was_written():
    full = OSError(errno.ENOSPC, "No space left on device", "/data/tb_logs/run/events")
    stopper = sweep_stopper(_raised_from(RuntimeError("summary writer"), full))
    assert isinstance(stopper, DiskFull)
    assert stopper.path == "/data/tb_logs/run/events" and "No space left" in stopper.error
    quota = OSError(errno.EDQUOT, "Disk quota exceeded")
    assert isinstance(sweep_stopper(quota), DiskFull)
    already = DiskFull("/data/mlartifacts", "OSError: [Errno 28]")
    assert sweep_stopper(already) is already


@pytest.mark.parametrize(
    "error",
    [
        ValueError("a bad model"),
        OSError(errno.EACCES, "Permission denied", "/data/file"),
        RuntimeError("XLA could not compile"),
        FloatingPointError("nan"),
    ],
)
def test_any_other_error_fails_only_its_grid_point(error):
    assert sweep_stopper(error) is None


def _child_run(client):
    experiment_id = client.create_experiment("policy")
    parent = client.create_run(experiment_id, run_name="sweep")
    child = client.create_run(
        experiment_id,
        tags={schema.PARENT_RUN_ID: parent.info.run_id},
        run_name="vanilla-L5-s0",
    )
    return child.info.run_id


def test_a_failed_grid_point_is_recorded_one_way_and_its_status_left_to_the_driver(
    tracking_dir,
):
    client = tracking.open_store(tracking.load_tracking_config())
    run_id = _child_run(client)
    try:
        raise ValueError("the layer's output has rank 2\nsecond line")
    except ValueError as error:
        outcome = tracking.record_failure(client, run_id, "vanilla-L5-s0", error)
    assert outcome == schema.GridPointOutcome(
        "vanilla-L5-s0", schema.STATUS_FAILED, error="ValueError: the layer's output has rank 2"
    )
    run = client.get_run(run_id)
    assert run.info.status == schema.STATUS_RUNNING  # the driver ends it
    assert run.data.tags[schema.ERROR] == outcome.error
    assert run.data.tags[schema.NOTE].startswith(f"Failed: {outcome.error}")
    text = open(client.download_artifacts(run_id, schema.TRACEBACK_FILE)).read()
    assert "Traceback" in text and "second line" in text and "test_failure_policy" in text


def test_a_job_returns_its_outcomes_and_leaves_the_runs_status_to_the_driver(
    tracking_dir, monkeypatch
):
    from experiments import config
    from experiments.training import PointRun, TrainingJob, run_job

    monkeypatch.setenv("VRL_FAIL_GRID_POINT", "vanilla-L5-s0")
    settings = tracking.load_tracking_config()
    client = tracking.open_store(settings)
    run_id = _child_run(client)
    cfg = config.load_config("long_dependency", "smoke", ["grid.model=[vanilla]"])
    (point,) = [p for p in config.expand_grid(cfg) if p.name == "vanilla-L5-s0"]
    job = TrainingJob(
        "long_dependency", settings.tracking_uri, [PointRun(point, run_id, None)], [], 0
    )
    (outcome,) = run_job(job)
    assert outcome.status == schema.STATUS_FAILED and "Injected failure" in outcome.error
    assert client.get_run(run_id).info.status == schema.STATUS_RUNNING
