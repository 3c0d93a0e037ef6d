"""The sweep's ETA and the lines a long run prints while it trains."""

import types

import pytest

from experiments.config import Hyperparameters
from experiments.sweep import progress
from experiments.training import callbacks


def point(kind, length, epochs=30):
    hyperparameters = Hyperparameters(epochs=epochs, steps_per_epoch=50, batch_size=32)
    return types.SimpleNamespace(
        name=f"{kind}-L{length}",
        kind=kind,
        length=length,
        hyperparameters=hyperparameters,
        label=lambda: f"{kind} L={length}",
    )


def true_seconds(p):
    # A fixed start (model build, XLA compile) plus time per sequence step.
    return 8.0 + 2.5e-6 * progress.work(p)


def test_the_eta_after_the_shortest_runs_is_close_to_the_time_really_left():
    """Run in grid order, one at a time: the first runs to end are the cheapest, whose
    start-up cost a per-run average would spread over every remaining run."""
    points = [point(k, n) for k in ("vanilla", "deep", "lstm", "gru") for n in (10, 20, 50, 100)]
    points.sort(key=lambda p: progress.work(p))
    tracker = progress.Progress(len(points), points, parallel=1, out=lambda line: None)
    clock = 0.0
    for index, p in enumerate(points):
        tracker.started(p)
        clock += true_seconds(p)
        outcome = types.SimpleNamespace(
            finished=True,
            metric="mse",
            test_metric=0.1,
            verdict="not solved",
            train_time_s=1,
            run_time_s=true_seconds(p),
        )
        tracker.ended(p, outcome, true_seconds(p) + (20 if index < 2 else 0))  # + worker start
        if index == 1:
            left = sum(true_seconds(q) for q in points[2:])
            assert tracker.eta_seconds() == pytest.approx(left, rel=0.05)
            count_based = (clock / 2) * (len(points) - 2)  # the old estimate
            assert abs(count_based - left) / left > 0.5  # what the old one got wrong


def test_no_eta_until_two_amounts_of_work_have_ended():
    points = [point("vanilla", 10), point("vanilla", 10), point("gru", 100)]
    tracker = progress.Progress(3, points, parallel=1, out=lambda line: None)
    outcome = types.SimpleNamespace(
        finished=True, metric="mse", test_metric=0.1, verdict="", train_time_s=1, run_time_s=9
    )
    for p in points[:2]:
        tracker.started(p)
        tracker.ended(p, outcome, 20.0)
        assert tracker.eta_seconds() is None
    with pytest.raises(ValueError):
        progress.fit_duration([100.0, 100.0], [4.0, 6.0])


def test_the_fit_separates_the_start_from_the_time_per_step():
    start, per_work = progress.fit_duration([100.0, 300.0], [12.0, 16.0])
    assert start == pytest.approx(10.0) and per_work == pytest.approx(0.02)
    # Longer runs that took less time: no negative rate, no negative start.
    start, per_work = progress.fit_duration([100.0, 300.0], [16.0, 12.0])
    assert start >= 0 and per_work >= 0


def test_a_long_run_prints_its_epoch_time_in_and_time_left(capsys, monkeypatch):
    callback = callbacks.progress_lines("lstm-L100-s0", "mse", epochs=30, every_s=30)
    now = [1000.0]
    monkeypatch.setattr(callbacks.time, "monotonic", lambda: now[0])
    callback.on_train_begin()
    now[0] += 10
    callback.on_epoch_end(4, {"val_mse": 0.16237})  # 10 s in: too soon for a line
    now[0] += 30
    callback.on_epoch_end(11, {"val_mse": 0.16237})
    now[0] += 5
    callback.on_epoch_end(12, {"val_mse": 0.1})  # 5 s after the last line
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["  lstm-L100-s0: epoch 12/30, val mse 0.1624, 0:40 in, ~1:00 left"]
