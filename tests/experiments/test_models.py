"""`build_model`: the four kinds, one head per task output, the two-weight network."""

import keras
import numpy as np
import pytest

import datasets
import rnn_layers
from experiments.config import Hyperparameters
from experiments.models import build_model

BODY_CLASSES = {
    "vanilla": rnn_layers.VanillaRNN,
    "deep": rnn_layers.DeepVanillaRNN,
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
}


def spec(**values):
    return Hyperparameters(**{"jit_compile": False, **values})


@pytest.mark.parametrize("kind", list(BODY_CLASSES))
def test_per_sequence_regression_head(kind):
    task = datasets.make("adding", length=6)
    model = build_model(kind, spec(units=4), task, seed=0)
    body = model.get_layer(kind)
    assert isinstance(body, BODY_CLASSES[kind])
    head = model.get_layer("head")
    assert (
        isinstance(head, keras.layers.Dense)
        and head.units == 1
        and head.activation is keras.activations.linear
    )
    assert model.output_shape == (None, 1)
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert (
        np.isclose(float(model.optimizer.learning_rate), 1e-3) and model.optimizer.clipnorm == 1.0
    )
    x, _ = task.sample(3, seed=1)
    assert model.predict(x, verbose=0).shape == (3, 1)


def test_per_step_classification_head_returns_logits_per_step():
    task = datasets.make("delayed_recall", length=3)
    assert task.output.per_step and task.output.kind == "classification"
    model = build_model("lstm", spec(units=5), task, seed=0)
    assert model.output_shape == (None, task.timesteps, task.output.units)
    x, y = task.sample(4, seed=2)
    weights = task.sample_weight(4)
    loss = model.evaluate(x, y, sample_weight=weights, verbose=0, return_dict=True)["loss"]
    # The loss reads the outputs as logits: cross-entropy of their softmax, per step,
    # averaged over the scored steps, computed here in float64.
    logits = model.predict(x, verbose=0).astype(np.float64)
    assert not np.allclose(logits.sum(axis=-1), 1.0)  # not probabilities already
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    per_step = -np.take_along_axis(log_softmax, y[..., None].astype(int), axis=-1)[..., 0]
    expected = (per_step * weights).sum() / weights.sum()
    assert np.isclose(loss, expected, rtol=1e-4), (loss, expected)


def test_deep_layers_and_per_layer_units():
    task = datasets.make("adding", length=5)
    model = build_model("deep", spec(units=[6, 3]), task, seed=0)
    assert [layer.units for layer in model.get_layer("deep").rnn_layers] == [6, 3]
    model = build_model("deep", spec(units=4, num_layers=3), task, seed=0)
    assert len(model.get_layer("deep").rnn_layers) == 3
    with pytest.raises(ValueError, match="only the `deep` kind"):
        build_model("vanilla", spec(units=[4, 4]), task, seed=0)


def test_same_seed_same_weights_other_seed_differs():
    task = datasets.make("adding", length=5)
    first = build_model("vanilla", spec(units=4), task, seed=7).get_weights()
    again = build_model("vanilla", spec(units=4), task, seed=7).get_weights()
    other = build_model("vanilla", spec(units=4), task, seed=8).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_two_weight_network_without_head():
    task = datasets.make("ewma", length=5)
    model = build_model(
        "vanilla",
        spec(units=1, use_bias=False, activation="linear", head="none"),
        task,
        seed=0,
    )
    assert model.count_params() == 2  # u (input) and w (recurrent), nothing else
    layer = model.get_layer("vanilla")
    x, _ = task.sample(2, seed=0)
    u, w = float(layer.kernel[0, 0]), float(layer.recurrent_kernel[0, 0])
    # h_t = w h_{t-1} + u x_t, computed by hand in float64.
    h = np.zeros((2, 1))
    expected = []
    for t in range(task.timesteps):
        h = w * h + u * x[:, t, :1].astype(np.float64)
        expected.append(h.copy())
    predicted = model.predict(x, verbose=0).reshape(2, -1)
    wanted = np.concatenate(expected, axis=1)
    if not task.output.per_step:
        wanted = wanted[:, -1:]
    np.testing.assert_allclose(predicted, wanted, rtol=1e-5, atol=1e-6)


def test_other_optimizers_and_initializers():
    task = datasets.make("adding", length=4)
    model = build_model(
        "vanilla",
        spec(
            units=3,
            optimizer="rmsprop",
            lr=0.01,
            clipnorm=None,
            recurrent_initializer={"class_name": "Identity", "config": {"gain": 0.5}},
        ),
        task,
        seed=0,
    )
    assert (
        isinstance(model.optimizer, keras.optimizers.RMSprop) and model.optimizer.clipnorm is None
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model.get_layer("vanilla").recurrent_kernel), 0.5 * np.eye(3)
    )
