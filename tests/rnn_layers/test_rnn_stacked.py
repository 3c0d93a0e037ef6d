"""DeepVanillaRNN: the stack equals its layers applied one after another."""

import keras
import numpy as np
import pytest
from keras import ops

from rnn_layers import DeepVanillaRNN, VanillaRNN


def sequences(batch=3, timesteps=6, features=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, timesteps, features)).astype("float32")


@pytest.mark.parametrize("return_sequences", [False, True])
def test_stack_equals_layers_applied_in_turn(return_sequences):
    x = sequences()
    deep = DeepVanillaRNN([5, 4, 3], return_sequences=return_sequences, activation="relu")
    result = ops.convert_to_numpy(deep(x))
    assert len(deep.rnn_layers) == 3
    assert len(deep.weights) == 9

    hidden = x
    for i, units in enumerate([5, 4, 3]):
        single = VanillaRNN(units, activation="relu", return_sequences=(i < 2) or return_sequences)
        single.build(hidden.shape)
        single.set_weights(deep.rnn_layers[i].get_weights())
        hidden = single(hidden)
    np.testing.assert_allclose(result, hidden, atol=1e-6)


def test_int_units_with_num_layers_and_all_states():
    x = sequences()
    initial = [np.full((3, 4), 0.1, "float32") for _ in range(3)]
    deep = DeepVanillaRNN(4, num_layers=3, return_sequences=True, return_all_states=True)
    output, *states = deep(x, initial_state=initial)
    assert [layer.units for layer in deep.rnn_layers] == [4, 4, 4]
    assert len(states) == 3
    np.testing.assert_allclose(states[-1], output[:, -1], atol=1e-6)
    # Bottom state = last output of the bottom layer run on its own.
    bottom = deep.rnn_layers[0](x, initial_state=initial[0])[1]
    np.testing.assert_allclose(states[0], bottom, atol=1e-6)


def test_return_state_and_mask_propagate():
    x = sequences()
    mask = np.ones(x.shape[:2], bool)
    mask[0, 3:] = False
    deep = DeepVanillaRNN([4, 3], return_state=True)
    output, state = deep(x, mask=mask)
    np.testing.assert_allclose(output, state, atol=1e-6)
    # With the tail of sequence 0 masked, the result equals the shorter sequence.
    short_output, _ = deep(x[:1, :3])
    np.testing.assert_allclose(output[:1], short_output, atol=1e-6)


def test_dropout_between_only_in_training():
    x = sequences()
    deep = DeepVanillaRNN(8, num_layers=2, dropout_between=0.5, seed=3)
    inference = ops.convert_to_numpy(deep(x))
    np.testing.assert_array_equal(inference, deep(x, training=False))
    assert not np.allclose(inference, deep(x, training=True))


def test_symbolic_shapes():
    inputs = keras.Input((None, 2))
    output, *states = DeepVanillaRNN([6, 5], return_sequences=True, return_all_states=True)(inputs)
    assert tuple(output.shape) == (None, None, 5)
    assert [tuple(s.shape) for s in states] == [(None, 6), (None, 5)]
