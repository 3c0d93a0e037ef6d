"""Hochreiter & Schmidhuber's adding problem (`variant="hs97"`), their wrong-prediction
criterion, and the standard adding task unchanged by the variant."""

import hashlib
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

import datasets
from datasets.adding import HS_MAX_ABS_ERROR, count_wrong, hs_threshold

T = 100
N = 20000


@pytest.fixture(scope="module")
def hs97_sample():
    task = datasets.make("adding", length=T, seed=4, variant="hs97")
    x, y = task.sample(N)
    return task, x, y


def sequence_start(markers):
    """Per sequence, the index of its first pair: the first step of a non-zero marker
    (the -1 start marker, or a +1 when the first pair is marked)."""
    return np.argmax(markers != 0, axis=1)


def test_shapes_lengths_and_padding(hs97_sample):
    task, x, y = hs97_sample
    assert task.timesteps == 110 and x.shape == (N, 110, 2) and y.shape == (N, 1)
    assert x.dtype == np.float32 and y.dtype == np.float32
    start = sequence_start(x[:, :, 1])
    lengths = task.timesteps - start
    # Lengths uniform over the integers T ... T + T/10, every one drawn.
    assert set(np.unique(lengths)) == set(range(T, T + T // 10 + 1))
    steps = np.arange(task.timesteps)
    padding = steps[None, :] < start[:, None]
    assert not x[padding].any()  # zero pairs before the sequence


def test_markers_follow_the_paper(hs97_sample):
    task, x, _ = hs97_sample
    markers = x[:, :, 1]
    start = sequence_start(markers)
    assert set(np.unique(markers)) == {-1.0, 0.0, 1.0}
    assert np.all((markers == 1.0).sum(axis=1) == 2)  # exactly two marked pairs
    assert np.all(markers[:, -1] == -1.0)  # the final pair
    rows = np.arange(N)
    marked_first = markers[rows, start] == 1.0
    # The first pair carries -1 unless it is marked; no other -1.
    assert np.all((markers == -1.0).sum(axis=1) == np.where(marked_first, 1, 2))
    offsets = [np.flatnonzero(row == 1.0) - s for row, s in zip(markers, start, strict=True)]
    offsets = np.array(offsets)
    # One of the two lies among the first ten pairs; the other among the first
    # T/2 - 1 still unmarked pairs: positions 0 .. T/2 - 1 other than the first marker's.
    assert offsets.min() >= 0 and offsets.max() <= T // 2 - 1
    assert np.all(offsets.min(axis=1) <= 9)
    # Every allowed position is drawn: the first ten, and the whole first half.
    assert set(np.unique(offsets[:, 0])) >= set(range(10))
    assert set(np.unique(offsets)) == set(range(T // 2))
    # The minimal lag is T/2: from the last marked pair to the final step.
    lags = (task.timesteps - 1) - (start + offsets.max(axis=1))
    assert lags.min() >= T // 2 and lags.min() == T // 2


def test_first_marker_is_uniform_over_the_first_ten(hs97_sample):
    task, x, _ = hs97_sample
    markers = x[:, :, 1]
    start = sequence_start(markers)
    # The first marker never lies beyond the tenth pair; the second lies beyond it in
    # about (T/2 - 1 - 9) / (T/2 - 1) of the sequences. Where both lie in the first ten,
    # either may be X1, so count sequences whose *earliest* mark sits at each offset and
    # compare with that distribution computed by hand for T = 100.
    earliest = np.argmax(markers == 1.0, axis=1) - start
    counts = np.bincount(earliest, minlength=T // 2)[:10] / N
    half_minus_one = T // 2 - 1
    # P(earliest = k) = P(X1 at k, X2 after k) + P(X2 at k, X1 after k).
    expected = [
        0.1 * (half_minus_one - k) / half_minus_one + (9 - k) / 10 / half_minus_one
        for k in range(10)
    ]
    np.testing.assert_allclose(counts, expected, atol=0.01)


def test_values_and_target_formula(hs97_sample):
    task, x, y = hs97_sample
    values, markers = x[:, :, 0], x[:, :, 1]
    start = sequence_start(markers)
    rows = np.arange(N)
    real = np.arange(task.timesteps)[None, :] >= start[:, None]
    assert values[real].min() >= -1.0 and values[real].max() <= 1.0
    assert values[real].min() < -0.999 and values[real].max() > 0.999  # the whole range
    # A marked first pair has its value set to 0 (the paper's "X1 set to zero").
    marked_first = markers[rows, start] == 1.0
    assert np.all(values[rows[marked_first], start[marked_first]] == 0.0)
    assert abs(marked_first.mean() - (0.1 + 0.9 / (T // 2 - 1))) < 0.01
    marked_sum = np.sum(np.where(markers == 1.0, values, 0.0), axis=1, dtype=np.float64)
    np.testing.assert_allclose(y[:, 0], 0.5 + marked_sum / 4.0, atol=1e-7)
    assert y.min() >= 0.0 and y.max() <= 1.0
    assert task.target_range == 1.0


def test_chance_is_the_target_variance(hs97_sample):
    task, _, y = hs97_sample
    # By hand for T = 100: E[X1^2] = 0.9 / 3, E[X2^2] = (1 - 0.9 / 49) / 3, over 16.
    by_hand = (0.9 / 3 + (1 - 0.9 / 49) / 3) / 16
    assert task.chance == pytest.approx(by_hand, rel=1e-12)
    assert task.baseline_loss == task.chance
    assert float(np.var(y, dtype=np.float64)) == pytest.approx(task.chance, rel=0.03)
    assert float(np.mean(y, dtype=np.float64)) == pytest.approx(0.5, abs=0.003)


def test_determinism_per_seed():
    def make(seed):
        return datasets.make("adding", length=T, seed=seed, variant="hs97")

    x1, y1 = make(7).sample(64)
    x2, y2 = make(7).sample(64)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, make(8).sample(64)[0])
    stream_a = make(7).dataset(batch_size=16, steps_per_epoch=2, seed=3)
    stream_b = make(7).dataset(batch_size=16, steps_per_epoch=2, seed=3)
    for index in range(2):
        np.testing.assert_array_equal(stream_a[index][0], stream_b[index][0])
    assert not np.array_equal(stream_a[0][0], stream_a[1][0])


def _digest(arrays):
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def test_standard_adding_unchanged():
    # The digest was computed on the code before the variant existed (main at 92cbfd0):
    # samples, a validation draw, stream batches and a fixed set, at two lengths.
    task = datasets.make("adding", length=100, seed=3)
    arrays = [*task.sample(64), *task.sample(17, seed=task.split_seeds["val"])]
    stream = task.dataset(batch_size=32, steps_per_epoch=3)
    for index in range(3):
        arrays += stream[index]
    fixed = task.fixed_set(40, seed=5, batch_size=16)
    for index in range(len(fixed)):
        arrays += fixed[index]
    arrays += datasets.make("adding", length=7, seed=0).sample(9)
    assert _digest(arrays) == "ee5f31f505b2fa322c5070d962835d8089c925a5d5c5e67ab49665890e5d7243"
    assert task.params == {} and repr(task) == "datasets.make('adding', length=100, seed=3)"
    assert datasets.make("adding", length=100, seed=3, variant="standard").params == {}
    assert [m.name for m in task.metrics()] == ["mse", "max_abs_error"]
    assert (task.timesteps, task.chance, task.target_range) == (100, 1 / 6, 2.0)


def test_count_wrong_by_hand():
    y_true = np.array([[0.25], [1.0], [1.5], [2.0]])
    y_pred = np.array([[0.32], [0.91], [1.55], [math.nan]])  # errors 0.07, 0.09, 0.05, NaN
    assert count_wrong(y_true, y_pred, threshold=0.08) == 2  # 0.09 and NaN
    assert count_wrong(y_true, y_pred) == 4  # H&S's unscaled 0.04: every one
    # At the threshold is wrong ("correct if below"); exact binary fractions, no rounding.
    assert count_wrong(np.array([[0.5], [0.5]]), np.array([[0.5625], [0.4375]]), 0.0625) == 2
    assert count_wrong(np.array([[0.5]]), np.array([[0.5625]]), 0.0625 + 2**-20) == 0
    # Several outputs: wrong when any one is off.
    assert count_wrong(np.array([[0.0, 0.0]]), np.array([[0.01, 0.05]]), 0.04) == 1
    with pytest.raises(ValueError, match="same shape"):
        count_wrong(np.zeros((3, 1)), np.zeros((3,)))


def test_threshold_rescaled_to_the_target_range():
    assert HS_MAX_ABS_ERROR == 0.04
    # Today's adding target U1 + U2 spans [0, 2]: 4% of it is 0.08.
    standard = datasets.make("adding", length=50)
    assert standard.target_range == 2.0
    assert standard.wrong_threshold == pytest.approx(0.08) == hs_threshold(2.0)
    hs97 = datasets.make("adding", length=50, variant="hs97")
    assert hs97.wrong_threshold == pytest.approx(0.04)
    with pytest.raises(ValueError, match="target_range"):
        hs_threshold(0.0)


def test_keras_metric_matches_count_wrong_over_batches():
    import keras

    from datasets.metrics import WrongPredictions

    task = datasets.make("adding", length=40, seed=1, variant="hs97")
    metrics = task.metrics()
    assert [m.name for m in metrics] == ["mse", "max_abs_error", "wrong_predictions"]
    metric = metrics[2]
    assert metric.threshold == pytest.approx(0.04)
    _, y = task.sample(300)
    noise = np.random.default_rng(0).normal(0.0, 0.03, size=y.shape).astype(np.float32)
    y_pred = y + noise
    y_pred[5] = np.nan
    for begin in range(0, 300, 64):  # batch by batch, the last one short
        metric.update_state(y[begin : begin + 64], y_pred[begin : begin + 64])
    expected = count_wrong(y, y_pred, 0.04)
    assert 0 < expected < 300 and float(metric.result()) == expected
    metric.reset_state()
    assert float(metric.result()) == 0.0
    rebuilt = WrongPredictions.from_config(metric.get_config())
    assert rebuilt.threshold == metric.threshold and rebuilt.name == "wrong_predictions"
    assert keras.saving.get_registered_object("datasets>WrongPredictions") is WrongPredictions


@pytest.mark.parametrize(
    "params, match",
    [
        ({"length": 100, "variant": "hs1997"}, "variant"),
        ({"length": 19, "variant": "hs97"}, ">= 20"),
        ({"length": 1}, ">= 2"),
    ],
)
def test_errors(params, match):
    with pytest.raises(ValueError, match=match):
        datasets.make("adding", **params)
