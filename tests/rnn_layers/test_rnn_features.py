"""Dropout, seeds, regularizers, constraints, mixed precision and compiled
training of VanillaRNN."""

import keras
import numpy as np
import pytest
from keras import ops

from rnn_layers import VanillaRNN


def identity_input_layer(units, **options):
    """Linear layer with kernel = I, W = 0, b = 0: output_t = x_t (masked)."""
    layer = VanillaRNN(units, activation=None, return_sequences=True, **options)
    layer.build((None, None, units))
    layer.set_weights([np.eye(units), np.zeros((units, units)), np.zeros(units)])
    return layer


def test_input_dropout_one_mask_per_sequence_reused_every_step():
    rate, units = 0.5, 64
    layer = identity_input_layer(units, dropout=rate, seed=1)
    x = np.ones((8, 5, units), "float32")
    outputs = ops.convert_to_numpy(layer(x, training=True))
    # Values are 0 or 1/(1-rate), the same at every step of a sequence,
    # different between sequences.
    assert set(np.unique(np.round(outputs, 5))) <= {0.0, 2.0}
    np.testing.assert_array_equal(outputs, np.repeat(outputs[:, :1], 5, axis=1))
    assert not np.array_equal(outputs[0, 0], outputs[1, 0])
    assert 0.3 < np.mean(outputs == 0) < 0.7
    # No dropout outside training.
    np.testing.assert_array_equal(layer(x, training=False), x)


def test_recurrent_dropout_one_mask_per_sequence():
    rate, units = 0.5, 64
    layer = VanillaRNN(
        units, activation=None, return_sequences=True, recurrent_dropout=rate, seed=2
    )
    layer.build((None, None, 1))
    layer.set_weights([np.zeros((1, units)), np.eye(units), np.zeros(units)])
    initial_state = np.ones((4, units), "float32")
    outputs = ops.convert_to_numpy(
        layer(np.zeros((4, 3, 1), "float32"), initial_state=initial_state, training=True)
    )
    # h_1 = r, h_2 = r·r, h_3 = r·r·r with the same mask r at every step.
    mask = outputs[:, 0]
    assert set(np.unique(np.round(mask, 5))) <= {0.0, 2.0}
    np.testing.assert_allclose(outputs[:, 1], mask * mask, rtol=1e-6)
    np.testing.assert_allclose(outputs[:, 2], mask**3, rtol=1e-6)


def test_dropout_seed_reproducible():
    x = np.random.default_rng(0).normal(size=(4, 6, 3)).astype("float32")

    def run(seed):
        keras.utils.set_random_seed(0)  # same weights
        layer = VanillaRNN(8, dropout=0.3, recurrent_dropout=0.3, seed=seed)
        return ops.convert_to_numpy(layer(x, training=True))

    np.testing.assert_array_equal(run(7), run(7))
    assert not np.array_equal(run(7), run(8))


def test_weight_regularizers_and_activity_regularizer_add_losses():
    layer = VanillaRNN(
        3,
        kernel_regularizer="l2",
        recurrent_regularizer="l2",
        bias_regularizer="l1",
        activity_regularizer=keras.regularizers.L1(0.1),
        bias_initializer="ones",
    )
    x = np.ones((2, 4, 2), "float32")
    output = layer(x)
    assert len(layer.losses) == 4
    # Keras's L1 activity regularizer divides by the batch size.
    activity = 0.1 * np.sum(np.abs(ops.convert_to_numpy(output))) / 2
    weight_losses = (
        0.01 * np.sum(layer.get_weights()[0] ** 2)
        + 0.01 * np.sum(layer.get_weights()[1] ** 2)
        + 0.01 * np.sum(np.abs(layer.get_weights()[2]))
    )
    total = sum(float(ops.convert_to_numpy(loss)) for loss in layer.losses)
    np.testing.assert_allclose(total, activity + weight_losses, rtol=1e-5)


def test_constraints_apply_after_update():
    inputs = keras.Input((5, 2))
    layer = VanillaRNN(
        4,
        kernel_constraint=keras.constraints.NonNeg(),
        recurrent_constraint=keras.constraints.MaxNorm(0.5),
        bias_constraint=keras.constraints.NonNeg(),
    )
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    model.compile(keras.optimizers.SGD(1.0), "mse")
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(16, 5, 2)), rng.normal(size=(16, 1)), epochs=2, verbose=0)
    kernel, recurrent, bias = layer.get_weights()
    assert kernel.min() >= 0 and bias.min() >= 0
    assert np.linalg.norm(recurrent, axis=0).max() <= 0.5 + 1e-5


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_close_to_float32(policy):
    x = np.random.default_rng(0).normal(scale=0.5, size=(4, 10, 3)).astype("float32")
    reference = VanillaRNN(8, return_sequences=True)
    reference.build(x.shape)
    expected = ops.convert_to_numpy(reference(x))
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        layer = VanillaRNN(8, return_sequences=True, return_state=True)
        layer.build(x.shape)
        layer.set_weights(reference.get_weights())
        output, state = layer(x)
    finally:
        keras.config.set_dtype_policy(previous)
    compute_dtype = policy.split("_")[1]
    assert ops.convert_to_numpy(output).dtype.name == compute_dtype
    assert layer.kernel.dtype == "float32"
    tolerance = 2e-2 if compute_dtype == "float16" else 6e-2
    np.testing.assert_allclose(
        ops.convert_to_numpy(ops.cast(output, "float32")), expected, atol=tolerance
    )


def test_mixed_precision_model_trains():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        inputs = keras.Input((6, 2))
        hidden = VanillaRNN(8, recurrent_dropout=0.1, seed=0)(inputs)
        outputs = keras.layers.Dense(1, dtype="float32")(hidden)
        model = keras.Model(inputs, outputs)
        model.compile("adam", "mse")
        rng = np.random.default_rng(0)
        history = model.fit(
            rng.normal(size=(32, 6, 2)), rng.normal(size=(32, 1)), epochs=2, verbose=0
        )
    finally:
        keras.config.set_dtype_policy(previous)
    assert np.all(np.isfinite(history.history["loss"]))


def test_compiled_training_matches_uncompiled():
    """jit_compile=True (XLA on TensorFlow, jit on JAX) gives the same step."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 7, 3)), rng.normal(size=(16, 1))
    mask_inputs = x.copy()
    mask_inputs[:4, 5:] = 0.0

    def train(jit_compile):
        keras.utils.set_random_seed(1)
        inputs = keras.Input((7, 3))
        masked = keras.layers.Masking(0.0)(inputs)
        hidden = VanillaRNN(5, return_sequences=True)(masked)
        hidden = VanillaRNN(4, go_backwards=True)(hidden)
        model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
        model.compile(keras.optimizers.SGD(0.1), "mse", jit_compile=jit_compile)
        model.fit(mask_inputs, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
        return model.get_weights()

    for compiled, plain in zip(train(True), train(False)):
        np.testing.assert_allclose(compiled, plain, atol=1e-5)


def test_unknown_timesteps_in_functional_model():
    inputs = keras.Input((None, 3))
    output, state = VanillaRNN(4, return_sequences=True, return_state=True)(inputs)
    assert tuple(output.shape) == (None, None, 4)
    assert tuple(state.shape) == (None, 4)
    model = keras.Model(inputs, output)
    assert model.predict(np.zeros((2, 9, 3)), verbose=0).shape == (2, 9, 4)
    assert model.predict(np.zeros((2, 4, 3)), verbose=0).shape == (2, 4, 4)


def test_embedding_mask_zero_upstream():
    tokens = np.array([[3, 1, 2, 0, 0], [4, 4, 0, 0, 0]])
    inputs = keras.Input((5,), dtype="int32")
    embedded = keras.layers.Embedding(5, 3, mask_zero=True)(inputs)
    output = VanillaRNN(4, return_sequences=True)(embedded)
    model = keras.Model(inputs, output)
    result = model.predict(tokens, verbose=0)
    # Masked steps repeat the last unmasked output.
    np.testing.assert_array_equal(result[0, 3], result[0, 2])
    np.testing.assert_array_equal(result[1, 4], result[1, 1])


@pytest.mark.parametrize("return_sequences", [False, True])
def test_dropout_gradients_match_automatic_differentiation(return_sequences):
    """With dropout active, the hand-written gradient equals automatic
    differentiation of the unrolled loop (same seed, so the same masks)."""
    from rnn_grad_utils import max_abs_difference, outputs_and_gradients

    x = np.random.default_rng(0).normal(scale=0.5, size=(3, 5, 4)).astype("float32")
    mask = np.ones((3, 5), bool)
    mask[1, 3:] = False
    layers = []
    for unroll in (False, True):
        layer = VanillaRNN(
            6,
            dropout=0.3,
            recurrent_dropout=0.4,
            seed=5,
            unroll=unroll,
            return_sequences=return_sequences,
            return_state=True,
        )
        layer.build(x.shape)
        layers.append(layer)
    layers[1].set_weights(layers[0].get_weights())
    fast = outputs_and_gradients(layers[0], x, mask=mask, training=True)
    reference = outputs_and_gradients(layers[1], x, mask=mask, training=True)
    assert max_abs_difference(fast[0], reference[0]) <= 1e-5
    assert max_abs_difference(fast[1], reference[1]) <= 1e-5
    # Dropout was really active.
    plain = outputs_and_gradients(layers[0], x, mask=mask, training=False)
    assert max_abs_difference(fast[0], plain[0]) > 1e-3
