"""Riding out a tracking server that does not answer, without a server: `StoreGuard`,
`RunLogger` keeping what a run logs, the claim's staleness, the one-line stops.

The real server, stopped and started again mid-sweep, is `test_outage.py` (slow).
"""

import errno
import threading
import time
import types

import pytest
import requests

from experiments import schema, tracking
from experiments.errors import DiskFull, StoreUnavailable, SweepBusy, TrackingError
from experiments.sweep import claim as claim_module
from experiments.sweep.stops import stop_line
from experiments.tracking import outage
from tests.waiting import wait_until

SERVER = "http://tracking.invalid:5000"


class Store:
    """Whether the fake server answers: its health check, and a fake client's calls."""

    def __init__(self, up=True):
        self.up = up
        self.probes = 0

    def answers(self, tracking_uri, timeout=None):
        self.probes += 1
        return self.up

    def call(self):
        if not self.up:
            raise requests.exceptions.ConnectionError("Connection refused")


class Clock:
    """The clock `outage` reads, standing still until a test moves it: `advance(s)`, or
    the guard's own `sleep(s)` (which returns at once). Real time never enters, so a
    loaded machine cannot move an outage past its window."""

    def __init__(self):
        self.wall, self.mono = time.time(), time.monotonic()
        self.slept = 0.0

    def time(self):
        return self.wall

    def monotonic(self):
        return self.mono

    def advance(self, seconds):
        self.wall += seconds
        self.mono += seconds

    def sleep(self, seconds):
        self.slept += seconds
        self.advance(seconds)

    def __getattr__(self, name):  # strftime, localtime: the real ones
        return getattr(time, name)


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(outage, "time", fake)
    return fake


@pytest.fixture
def store(monkeypatch):
    fake = Store()
    monkeypatch.setattr(outage, "store_answers", fake.answers)
    monkeypatch.setattr(outage, "PROBE_FIRST_S", 0.02)
    monkeypatch.setattr(outage, "PROBE_MAX_S", 0.05)
    return fake


def test_a_write_waits_through_an_outage_and_says_so_once(store):
    lines = []
    guard = outage.StoreGuard(SERVER, window_s=30, out=lines.append)
    store.up = False
    calls = []

    def write(value):
        calls.append(value)
        store.call()
        return value

    results = []
    threads = [
        threading.Thread(target=lambda value=value: results.append(guard.call(write, value)))
        for value in (7, 8)
    ]
    for thread in threads:
        thread.start()
    # The store comes back once the writes are waiting for it: a few health checks made.
    wait_until(lambda: guard.since is not None and store.probes >= 5, timeout_s=30)
    store.up = True
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [7, 8]
    assert len(calls) < 10  # tried again once it answered, not in a loop meanwhile
    assert len([line for line in lines if "does not answer (since" in line]) == 1, lines
    assert len([line for line in lines if "answers again" in line]) == 1, lines
    assert guard.since is None


def test_past_the_window_a_write_fails_with_store_unavailable(store, clock):
    guard = outage.StoreGuard(SERVER, window_s=600)
    store.up = False
    with pytest.raises(StoreUnavailable, match="longer than its outage window"):
        guard.call(store.call)
    # It waited the window, checking now and then, and gave up at its end.
    assert 600 - 1e-6 <= clock.slept < 600 + outage.PROBE_MAX_S
    with pytest.raises(StoreUnavailable):  # a training loop's write: the same, at once
        guard.attempt(store.call)
    assert clock.slept < 600 + outage.PROBE_MAX_S


def test_an_error_that_is_not_an_outage_is_raised_at_once(store):
    from mlflow.exceptions import MlflowException

    guard = outage.StoreGuard(SERVER, window_s=30)

    def refused():
        raise MlflowException("Invalid value for param 'lr'")

    with pytest.raises(MlflowException):
        guard.call(refused)
    assert store.probes == 0 and guard.since is None
    local = outage.StoreGuard("sqlite:////tmp/mlflow.db", window_s=30)
    store.up = False
    with pytest.raises(requests.exceptions.ConnectionError):  # a local store has no outage
        local.call(store.call)
    assert store.probes == 0


def test_an_error_the_answering_server_keeps_giving_is_raised(store):
    guard = outage.StoreGuard(SERVER, window_s=30)

    def gateway_error():
        raise requests.exceptions.RetryError("too many 502 error responses")

    with pytest.raises(requests.exceptions.RetryError):
        guard.call(gateway_error)
    assert guard.since is None


def test_mlflows_connection_errors_are_an_outage():
    from mlflow.exceptions import MlflowException

    try:
        try:
            raise requests.exceptions.ConnectionError("Max retries exceeded")
        except Exception as error:  # what MLflow's http_request does
            raise MlflowException(f"API request failed with exception {error}") from None
    except MlflowException as wrapped:
        assert outage.unreachable(wrapped)
    assert not outage.unreachable(MlflowException("RESOURCE_DOES_NOT_EXIST"))


class FakeClient:
    """The calls `RunLogger` makes, recorded; they fail while the store is down."""

    def __init__(self, store):
        self.store = store
        self.batches, self.files, self.texts = [], [], []

    def log_batch(self, run_id, metrics=(), params=(), tags=()):
        self.store.call()
        self.batches.append({"metrics": list(metrics), "params": list(params), "tags": list(tags)})

    def log_artifact(self, run_id, local_path, artifact_path=None):
        self.store.call()
        with open(local_path) as file:
            self.files.append((artifact_path, file.read()))

    def log_text(self, run_id, text, artifact_file):
        self.store.call()
        self.texts.append((artifact_file, text))


def test_a_run_keeps_what_it_logs_through_an_outage_and_writes_it_in_order(store, clock, tmp_path):
    fake = FakeClient(store)
    guard = outage.StoreGuard(SERVER, window_s=60)
    logger = tracking.RunLogger(outage.GuardedClient(fake, guard), "run")
    logger.BUFFER_S = 1e9  # the normal path: epochs kept, no store round trip
    for epoch in range(3):
        logger.log_metrics({"loss": 1.0 / (epoch + 1)}, step=epoch, wait=False)
    assert fake.batches == []
    logger.flush()
    assert len(fake.batches) == 1  # one write for three epochs

    store.up = False  # the server restarts
    logger.BUFFER_S = 0.0  # every epoch would be written now, were the store there
    for epoch in range(3, 8):
        logger.log_metrics({"loss": 1.0 / (epoch + 1)}, step=epoch, wait=False)
        logger.set_tags({"phase": f"epoch {epoch}"}, wait=False)
    config = tmp_path / "config.yaml"
    config.write_text("lr: 0.01")
    logger.log_artifact(config, "config")
    config.unlink()  # gone before the store answers: a copy was kept
    logger.log_text("the traceback", "traceback.txt")
    logger.set_tags({"phase": "done"})  # wait=True: kept too, training does not wait
    assert clock.slept == 0
    assert len(fake.batches) == 1 and guard.since is not None

    store.up = True
    logger.drain()
    steps = [m.step for batch in fake.batches for m in batch["metrics"]]
    assert steps == list(range(8))  # every epoch once, in order
    tags = [t for batch in fake.batches for t in batch["tags"]]
    assert [t.value for t in tags if t.key == "phase"][-1] == "done"
    assert fake.files == [("config", "lr: 0.01")] and fake.texts == [
        ("traceback.txt", "the traceback")
    ]


def test_a_run_past_the_window_raises_store_unavailable(store, clock):
    fake = FakeClient(store)
    logger = tracking.RunLogger(outage.GuardedClient(fake, outage.StoreGuard(SERVER, 60)), "r")
    store.up = False
    logger.log_metrics({"loss": 1.0}, step=0)  # the outage begins: kept
    clock.advance(59)
    logger.log_metrics({"loss": 0.75}, step=1)  # still within the window: kept
    clock.advance(2)
    with pytest.raises(StoreUnavailable):
        logger.log_metrics({"loss": 0.5}, step=2)
    with pytest.raises(StoreUnavailable):
        logger.drain()
    assert fake.batches == []


# ------------------------------------------------------------------- the claim
def _claim(window_s=600.0):
    config = tracking.TrackingConfig(SERVER, None, "", "/x/tb", "test", window_s)
    return claim_module.SweepClaim(None, config, "latch", "abcdef123456")


def _parent(tags):
    run = types.SimpleNamespace(data=types.SimpleNamespace(tags=tags))
    return types.SimpleNamespace(get_run=lambda run_id: run)


def test_a_claim_is_not_taken_over_while_its_driver_may_be_riding_out_an_outage():
    claim = _claim(window_s=600)
    assert claim.stale_after_s == claim_module.STALE_S + claim_module.HEARTBEAT_S + 600
    holder = "a1b2c3 (pid 1 on another-host, started 2026-12-01 10:00:00)"
    silent = {
        schema.SWEEP_DRIVER: holder,
        schema.SWEEP_HEARTBEAT: f"{time.time() - 300:.0f}",  # an outage of 5 minutes
        schema.SWEEP_STALE_AFTER: f"{claim.stale_after_s:.0f}",
    }
    claim.client = _parent(silent)
    with pytest.raises(SweepBusy, match="rides out a tracking server's outage"):
        claim._refuse_if_held("parent")
    gone = {**silent, schema.SWEEP_HEARTBEAT: f"{time.time() - 1000:.0f}"}
    claim.client = _parent(gone)
    claim._refuse_if_held("parent")  # silent longer than its driver could be: taken over
    older = {k: v for k, v in silent.items() if k != schema.SWEEP_STALE_AFTER}
    claim.client = _parent(older)
    claim._refuse_if_held("parent")  # a driver that said nothing: STALE_S


# ---------------------------------------------------------- settings, one-line stops
def test_the_outage_window_is_a_key_of_mlflow_yaml(tmp_path):
    path = tmp_path / "mlflow.yaml"
    path.write_text("tracking_uri: sqlite:///mlflow.db\n")
    assert tracking.load_tracking_config(path, environ={}).outage_window_s == 600
    path.write_text("outage_window_s: 45\n")
    assert tracking.load_tracking_config(path, environ={}).outage_window_s == 45.0
    path.write_text("outage_window_s: ten minutes\n")
    with pytest.raises(TrackingError, match="`outage_window_s` must be a number of seconds"):
        tracking.load_tracking_config(path, environ={})


def test_a_full_disk_stop_names_the_configured_folder():
    config = tracking.TrackingConfig(
        "sqlite:////x/mlflow.db", "/x/mlartifacts", "", "/x/tb_logs", "test"
    )
    from_worker = DiskFull("/x/tb_logs/latch/vanilla-L5-s0", "OSError: [Errno 28] No space")
    line = stop_line(from_worker, ["vanilla-L5-s0"], [], config)
    assert "no space left on the disk of the TensorBoard root /x/tb_logs (" in line
    assert "Free space there, then run the same command to resume" in line
    copy = OSError(errno.ENOSPC, "No space left on device", "/tmp/m.keras")
    copy.filename2 = "/x/mlartifacts/1/models/m-1/artifacts/model.keras"
    line = stop_line(RuntimeError("logging the model"), [], [], config)
    assert "no space" not in line
    try:
        raise RuntimeError("logging the model") from copy
    except RuntimeError as error:
        line = stop_line(error, [], [], config)
    assert "no space left on the disk of the artifact root /x/mlartifacts (" in line
    assert "\n" not in line
