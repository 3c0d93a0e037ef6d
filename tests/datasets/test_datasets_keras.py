"""The Keras side of the tasks: losses, metrics and the streamed PyDataset."""

import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

import datasets


def logits_for(classes, num_classes):
    """Logits that put all mass on `classes`."""
    return np.eye(num_classes, dtype=np.float32)[classes] * 20.0


@pytest.mark.parametrize("name", datasets.TASKS)
def test_fresh_losses_and_metrics(name):
    task = datasets.make(name, length=12)
    assert task.loss is not task.loss
    metrics = task.metrics()
    assert metrics[0].name == task.metric
    assert task.metrics()[0] is not metrics[0]
    if task.output.kind == "classification":
        assert task.loss.get_config()["from_logits"] is True


def test_delayed_recall_metric_scores_only_lagged_steps():
    task = datasets.make("delayed_recall", length=4, alphabet_size=3, sequence_length=10)
    _, y = task.sample(32, seed=1)
    wrong_early = y.copy()
    wrong_early[:, :4] = (y[:, :4] + 1) % 3  # errors only on masked steps
    metric = task.metrics()[0]
    metric.update_state(y, logits_for(wrong_early, 3), sample_weight=np.zeros((32, 10)))
    assert float(metric.result()) == pytest.approx(1.0)
    half_wrong = y.copy()
    half_wrong[:, 4:7] = (y[:, 4:7] + 1) % 3  # 3 of 6 scored steps wrong
    metric.reset_state()
    metric.update_state(y, logits_for(half_wrong, 3))
    assert float(metric.result()) == pytest.approx(0.5)


def test_delayed_recall_loss_is_mean_over_scored_steps():
    task = datasets.make("delayed_recall", length=5, alphabet_size=4, sequence_length=9)
    _, y = task.sample(16, seed=2)
    uniform = np.zeros((16, 9, 4), dtype=np.float32)
    loss = float(task.loss(y, uniform, sample_weight=task.sample_weight(16)))
    assert loss == pytest.approx(task.baseline_loss, rel=1e-5)
    assert task.baseline_loss == pytest.approx(math.log(4))


def test_copy_memory_metric_and_baseline_loss():
    task = datasets.make("copy_memory", length=5)
    _, y = task.sample(64, seed=3)
    # The memoryless strategy: certain blank, then uniform over the 8 symbols.
    memoryless = np.full((64, 25, 10), -30.0, dtype=np.float32)
    memoryless[:, :15, 0] = 0.0
    memoryless[:, 15:, 1:9] = 0.0
    assert float(task.loss(y, memoryless)) == pytest.approx(10 * math.log(8) / 25, rel=1e-4)
    # Blanks right and symbols right -> 1; only blanks right -> 0 (blanks are not scored).
    metric = task.metrics()[0]
    metric.update_state(y, logits_for(y, 10))
    assert float(metric.result()) == pytest.approx(1.0)
    metric.reset_state()
    metric.update_state(y, logits_for(np.zeros_like(y), 10))
    assert float(metric.result()) == 0.0


def test_adding_max_abs_error_is_hochreiter_and_schmidhubers_criterion_by_hand():
    """Errors 0.03, 0.0 in one batch and 0.05, 0.039 in the next: the largest over the set,
    0.05, fails "below 0.04 on every sequence"; without the 0.05 sequence, 0.039 meets it."""
    from datasets.adding import HS_MAX_ABS_ERROR

    task = datasets.make("adding", length=10)
    assert [metric.name for metric in task.metrics()] == ["mse", "max_abs_error"]
    metric = task.metrics()[1]
    targets = np.array([[1.0], [0.5], [1.5], [0.2]], dtype=np.float32)
    predictions = np.array([[1.03], [0.5], [1.45], [0.239]], dtype=np.float32)
    metric.update_state(targets[:2], predictions[:2])
    assert float(metric.result()) == pytest.approx(0.03, abs=1e-6)
    metric.update_state(targets[2:], predictions[2:], sample_weight=np.zeros(2))  # not weighed out
    assert float(metric.result()) == pytest.approx(0.05, abs=1e-6)
    assert not float(metric.result()) < HS_MAX_ABS_ERROR
    metric.reset_state()
    metric.update_state(targets[[0, 1, 3]], predictions[[0, 1, 3]])
    assert float(metric.result()) == pytest.approx(0.039, abs=1e-6) and HS_MAX_ABS_ERROR == 0.04
    assert float(metric.result()) < HS_MAX_ABS_ERROR
    # Stateless, as the compiled loop evaluates it: the same largest error.
    values = [np.zeros(()) for _ in metric.variables]
    for batch in ((0, 1), (2, 3)):
        values = metric.stateless_update_state(
            values, targets[list(batch)], predictions[list(batch)]
        )
    assert float(metric.stateless_result(values)) == pytest.approx(0.05, abs=1e-6)


def test_ewma_is_solved_by_linear_simple_rnn():
    alpha = 0.2
    task = datasets.make("ewma", length=30, alpha=alpha)
    x, y = task.sample(8, seed=4)
    rnn = keras.layers.SimpleRNN(1, activation=None, use_bias=False, return_sequences=True)
    rnn.build((None, 30, 1))
    rnn.set_weights([np.array([[alpha]]), np.array([[1 - alpha]])])
    np.testing.assert_allclose(np.asarray(rnn(x)), y, atol=1e-5)
    mse = task.metrics()[0]
    mse.update_state(y, rnn(x))
    assert task.is_solved(float(mse.result()))


def test_stream_is_deterministic_per_seed_and_epoch():
    task = datasets.make("delayed_recall", length=3, sequence_length=8)
    stream = task.dataset(batch_size=5, steps_per_epoch=4, seed=9)
    assert len(stream) == 4
    x0, y0, w0 = stream[0]
    assert x0.shape == (5, 8, 8) and y0.shape == (5, 8) and w0.shape == (5, 8)
    np.testing.assert_array_equal(w0, np.tile(task.step_weights, (5, 1)))
    again = task.dataset(batch_size=5, steps_per_epoch=4, seed=9)
    np.testing.assert_array_equal(again[0][0], x0)
    np.testing.assert_array_equal(stream[0][0], x0)  # not consumed by reading
    assert not np.array_equal(stream[1][0], x0)
    stream.on_epoch_begin()  # the first epoch is epoch 0
    np.testing.assert_array_equal(stream[0][0], x0)
    stream.on_epoch_end()
    stream.on_epoch_begin()
    assert stream.epoch == 1
    assert not np.array_equal(stream[0][0], x0)
    again.epoch = 1
    np.testing.assert_array_equal(again[0][0], stream[0][0])
    assert not np.array_equal(task.dataset(5, 4, seed=10)[0][0], x0)
    # Streamed batches never coincide with sampled sets of the same seed.
    assert not np.array_equal(task.sample(5, seed=9)[0], x0)
    with pytest.raises(IndexError):
        stream[4]
    with pytest.raises(ValueError, match="batch_size"):
        task.dataset(batch_size=0, steps_per_epoch=2, seed=0)
    # Without step weights the stream yields (x, y).
    assert len(datasets.make("adding", length=6).dataset(2, 1, seed=0)[0]) == 2


def test_stream_trains_with_model_fit():
    keras.utils.set_random_seed(0)
    task = datasets.make("delayed_recall", length=1, alphabet_size=3, sequence_length=6)
    model = keras.Sequential(
        [
            keras.Input((task.timesteps, task.input_dim)),
            keras.layers.SimpleRNN(16, return_sequences=True),
            keras.layers.Dense(task.output.units),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss=task.loss, metrics=task.metrics())
    stream = task.dataset(batch_size=32, steps_per_epoch=20, seed=1, workers=1)
    x_val, y_val = task.sample(256, seed=task.split_seeds["val"])
    history = model.fit(
        stream,
        epochs=3,
        validation_data=(x_val, y_val, task.sample_weight(256)),
        verbose=0,
    )
    assert stream.epoch == 2  # epochs 0, 1, 2
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    # A lag of one step is easy: the model learns well beyond chance (1/3).
    assert history.history["val_accuracy"][-1] > 0.9
    assert history.history["loss"][0] < 1.2 * task.baseline_loss


def test_stream_with_threads():
    task = datasets.make("adding", length=10)
    model = keras.Sequential(
        [keras.Input((10, 2)), keras.layers.SimpleRNN(4), keras.layers.Dense(1)]
    )
    model.compile(optimizer="adam", loss=task.loss, metrics=task.metrics())
    history = model.fit(task.dataset(16, 5, seed=0, workers=2), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["mse"]))


def test_fit_sees_new_batches_every_epoch():
    from datasets.stream import TaskStream

    class RecordingStream(TaskStream):
        def __getitem__(self, index):
            self.seen.append((self.epoch, index))
            return super().__getitem__(index)

    task = datasets.make("first_symbol", length=4, alphabet_size=2)
    stream = RecordingStream(task, batch_size=8, steps_per_epoch=3, seed=0)
    stream.seen = []
    model = keras.Sequential(
        [keras.Input((5, 2)), keras.layers.SimpleRNN(2), keras.layers.Dense(2)]
    )
    model.compile(optimizer="sgd", loss=task.loss, metrics=task.metrics())
    model.fit(stream, epochs=3, verbose=0, shuffle=False)
    assert {(e, i) for e in range(3) for i in range(3)} <= set(stream.seen)
    assert max(e for e, _ in stream.seen) == 2


def test_fixed_set_is_the_same_on_every_read_and_streamed_by_batch():
    task = datasets.make("delayed_recall", length=3, sequence_length=8)
    fixed = task.fixed_set(10, seed=4, batch_size=4)
    assert len(fixed) == 3
    batches = [fixed[i] for i in range(3)]
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    assert all(
        len(b) == 3 and b[2].shape == (b[0].shape[0], 8) for b in batches
    )  # with step weights
    # Any order of access, any number of reads, a new object: the same sequences.
    again = task.fixed_set(10, seed=4, batch_size=4)
    for i in (2, 0, 1, 2):
        np.testing.assert_array_equal(again[i][0], batches[i][0])
        np.testing.assert_array_equal(again[i][1], batches[i][1])
    fixed.on_epoch_begin()
    fixed.on_epoch_end()
    fixed.on_epoch_begin()
    np.testing.assert_array_equal(fixed[0][0], batches[0][0])
    # Other seeds, and the other seed domains, give other sequences.
    assert not np.array_equal(task.fixed_set(10, seed=5, batch_size=4)[0][0], batches[0][0])
    assert not np.array_equal(task.sample(4, seed=4)[0], batches[0][0])
    assert not np.array_equal(task.dataset(4, 1, seed=4)[0][0], batches[0][0])
    with pytest.raises(IndexError):
        fixed[3]
    with pytest.raises(ValueError, match="n"):
        task.fixed_set(0, seed=0)
    assert (
        len(datasets.make("adding", length=6).fixed_set(3, seed=0)[0]) == 2
    )  # (x, y) without weights


def test_fixed_set_evaluates_like_the_same_arrays():
    # evaluate() over the streamed set equals evaluate() over its batches concatenated,
    # including the step weights and a smaller last batch.
    keras.utils.set_random_seed(0)
    task = datasets.make("delayed_recall", length=2, alphabet_size=3, sequence_length=6)
    model = keras.Sequential(
        [
            keras.Input((task.timesteps, task.input_dim)),
            keras.layers.SimpleRNN(4, return_sequences=True),
            keras.layers.Dense(task.output.units),
        ]
    )
    model.compile(optimizer="sgd", loss=task.loss, metrics=task.metrics())
    fixed = task.fixed_set(70, seed=1, batch_size=32)
    streamed = model.evaluate(fixed, return_dict=True, verbose=0)
    x, y, w = (np.concatenate([fixed[i][k] for i in range(len(fixed))]) for k in range(3))
    whole = model.evaluate(x, y, sample_weight=w, batch_size=32, return_dict=True, verbose=0)
    assert streamed.keys() == whole.keys()
    for key in whole:
        assert math.isclose(streamed[key], whole[key], rel_tol=1e-5), key
