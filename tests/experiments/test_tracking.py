"""MLflow beyond params and metrics: system metrics, experiment kind, UI addresses."""

import threading
import time

import pytest

from experiments import schema, tracking
from tests.waiting import wait_until


@pytest.fixture
def run_id(tracking_dir):
    settings = tracking.load_tracking_config()
    client = tracking.open_store(settings)
    experiment_id = tracking.ensure_experiment(client, settings, "probe")
    return client, client.create_run(experiment_id).info.run_id


def test_system_metrics_are_sampled_into_the_run_until_it_ends(run_id, monkeypatch):
    client, run = run_id
    monkeypatch.setattr(tracking.environment, "SYSTEM_METRICS_INTERVAL_S", 0.2)
    logger = tracking.RunLogger(client, run)
    threads_before = set(threading.enumerate())
    monitor = tracking.start_system_metrics(logger)

    def cpu_history():
        logger.flush()  # the samples go with the run's own writes
        history = client.get_metric_history(run, "system/cpu_utilization_percentage")
        return history if len(history) >= 3 else None

    history = wait_until(cpu_history, timeout_s=60, message="three CPU samples in the run")
    monitor.finish()
    assert all(0 <= m.value <= 100 for m in history)
    assert "system/system_memory_usage_megabytes" in client.get_run(run).data.metrics
    # Stopped: its sampling thread has ended, so no wait, however short, can see a sample
    # more; a few intervals show that nothing else logs in its place.
    assert not [t for t in set(threading.enumerate()) - threads_before if t.is_alive()]
    logger.flush()
    steps = len(client.get_metric_history(run, "system/cpu_utilization_percentage"))
    time.sleep(0.5)
    logger.flush()
    assert len(client.get_metric_history(run, "system/cpu_utilization_percentage")) == steps


def test_mlflows_own_switch_turns_system_metrics_off(run_id, monkeypatch):
    monkeypatch.setenv("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", "false")
    client, run = run_id
    assert tracking.start_system_metrics(tracking.RunLogger(client, run)) is None


def test_experiments_are_model_training_experiments_also_when_made_before(tracking_dir):
    settings = tracking.load_tracking_config()
    client = tracking.open_store(settings)
    old = client.create_experiment(settings.experiment_name("older"))  # no kind tag
    assert tracking.ensure_experiment(client, settings, "older") == old
    for name in ("older", "newer"):
        experiment_id = tracking.ensure_experiment(client, settings, name)
        tags = client.get_experiment(experiment_id).tags
        assert tags[schema.EXPERIMENT_KIND] == schema.MODEL_TRAINING_KIND


def test_ui_addresses_open_the_model_training_view():
    import urllib.parse

    local = tracking.TrackingConfig("sqlite:////x/mlflow.db", None, "", "/x/tb", "test")
    assert local.ui_address() == "http://127.0.0.1:5000/#/experiments?workflowType=machine_learning"
    # A run opens on its charts (a parent's breakdown against length).
    assert (
        local.ui_address("3", "abc")
        == "http://127.0.0.1:5000/#/experiments/3/runs/abc/model-metrics"
        "?workflowType=machine_learning"
    )
    # A sweep's runs: the runs table with its search box set to the sweep's children.
    page, query = local.ui_address("3", sweep="abc").split("#", 1)[1].split("?")
    assert page == "/experiments/3/runs"
    assert urllib.parse.parse_qs(query) == {
        "workflowType": ["machine_learning"],
        "searchFilter": ["tags.`mlflow.parentRunId` = 'abc'"],
    }
    server = tracking.TrackingConfig("http://team:5000/", None, "", "/x/tb", "test")
    assert (
        server.ui_address("3")
        == "http://team:5000/#/experiments/3/runs?workflowType=machine_learning"
    )


def test_runs_logging_the_same_dataset_at_once_all_get_it(tracking_dir):
    """Grid points that share a task, length and seed log the same dataset from two workers
    at the same moment; MLflow's SQL store then collides on the dataset's unique key."""
    import multiprocessing

    settings = tracking.load_tracking_config()
    client = tracking.open_store(settings)
    experiment_id = tracking.ensure_experiment(client, settings, "datasets")
    runs = [client.create_run(experiment_id).info.run_id for _ in range(16)]
    context = multiprocessing.get_context("spawn")
    start, errors = context.Barrier(2), context.Queue()
    workers = [
        context.Process(
            target=_log_one_dataset_per_run,
            args=(settings.tracking_uri, runs[i::2], start, errors),
        )
        for i in range(2)
    ]
    for worker in workers:
        worker.start()
    reported = [errors.get(timeout=240) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert reported == [[], []]
    for run in runs:
        [entry] = client.get_run(run).inputs.dataset_inputs
        assert (entry.dataset.name, entry.dataset.digest) == ("adding-L10-s0", "abc123")


def _log_one_dataset_per_run(tracking_uri, run_ids, start, report):
    import numpy as np

    client = tracking.configure_mlflow(tracking_uri)
    features, targets = np.zeros((2, 10, 2), "float32"), np.zeros((2, 1), "float32")
    errors = []
    for run_id in run_ids:
        start.wait(timeout=60)  # both processes insert at the same moment
        try:
            tracking.RunLogger(client, run_id).log_dataset(
                "adding-L10-s0", features, targets, "test", "abc123"
            )
        except Exception as error:  # reported, not raised: the other process is waiting
            errors.append(f"{type(error).__name__}: {str(error)[:200]}")
    report.put(errors)


def test_a_figure_goes_to_the_run_and_with_a_tag_to_tensorboard(run_id, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from experiments import plots

    client, run_id = run_id
    figure = plots.pyplot().figure()
    logger = tracking.RunLogger(client, run_id, tb_dir=str(tmp_path / "tb"))
    logger.log_figure(figure, "probes/a.png", "probes/a")
    logger.log_figure(figure, "probes/b.png")  # no tag: the run only
    assert {a.path for a in client.list_artifacts(run_id, "probes")} == {
        "probes/a.png",
        "probes/b.png",
    }
    events = EventAccumulator(str(tmp_path / "tb"), size_guidance={"tensors": 0})
    events.Reload()
    assert events.Tags()["tensors"] == ["probes/a"]
