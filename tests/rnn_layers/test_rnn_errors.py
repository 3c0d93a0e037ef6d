"""Bad input raises a ValueError that names the problem and the fix."""

import keras
import numpy as np
import pytest

from rnn_layers import DeepVanillaRNN, VanillaRNN, VanillaRNNCell


def test_input_not_rank_3():
    with pytest.raises(ValueError, match=r"rank 3.*received shape \(4, 5\)"):
        VanillaRNN(3)(np.zeros((4, 5), "float32"))
    layer = VanillaRNN(3)
    layer(np.zeros((2, 4, 5), "float32"))
    with pytest.raises(ValueError, match="rank 3"):
        layer(np.zeros((2, 4, 5, 1), "float32"))


def test_unknown_feature_dimension():
    with pytest.raises(ValueError, match="feature dimension"):
        VanillaRNN(3)(keras.Input((None, None)))
    with pytest.raises(ValueError, match="feature dimension"):
        VanillaRNNCell(3).build((None, None))


@pytest.mark.parametrize("units", [0, -2, 2.5, "8", True])
def test_units_not_positive_integer(units):
    with pytest.raises(ValueError, match="`units` must be a positive integer"):
        VanillaRNN(units)
    with pytest.raises(ValueError, match="`units` must be a positive integer"):
        DeepVanillaRNN([4, units])


def test_unknown_activation():
    with pytest.raises(ValueError, match="Unknown activation 'tanhh'.*'tanh'"):
        VanillaRNN(3, activation="tanhh")


@pytest.mark.parametrize("shape", [(2, 4), (2, 3, 1), (5, 3)])
def test_initial_state_wrong_shape(shape):
    layer = VanillaRNN(3)
    with pytest.raises(ValueError, match=r"initial_state.*\(2, 3\)"):
        layer(np.zeros((2, 4, 5), "float32"), initial_state=np.zeros(shape, "float32"))


def test_initial_state_list_of_wrong_length():
    with pytest.raises(ValueError, match="one state"):
        VanillaRNN(3)(np.zeros((2, 4, 5), "float32"), initial_state=[np.zeros((2, 3))] * 2)
    with pytest.raises(ValueError, match="list of 2 tensors"):
        DeepVanillaRNN(3, num_layers=2)(
            np.zeros((2, 4, 5), "float32"), initial_state=[np.zeros((2, 3))]
        )


@pytest.mark.parametrize("argument", ["dropout", "recurrent_dropout"])
@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_outside_unit_interval(argument, rate):
    with pytest.raises(ValueError, match=rf"`{argument}` must be in \[0, 1\)"):
        VanillaRNN(3, **{argument: rate})


def test_dropout_between_outside_unit_interval():
    with pytest.raises(ValueError, match=r"`dropout_between` must be in \[0, 1\)"):
        DeepVanillaRNN(3, num_layers=2, dropout_between=1.0)


@pytest.mark.parametrize("num_layers", [0, -1, 1.5])
def test_num_layers_below_one(num_layers):
    with pytest.raises(ValueError, match="`num_layers` must be an integer >= 1"):
        DeepVanillaRNN(3, num_layers=num_layers)


def test_num_layers_disagrees_with_units_list():
    with pytest.raises(ValueError, match="disagrees"):
        DeepVanillaRNN([3, 4], num_layers=3)
    with pytest.raises(ValueError, match="empty"):
        DeepVanillaRNN([])


def test_unroll_needs_known_timesteps():
    with pytest.raises(ValueError, match="unroll=True"):
        VanillaRNN(3, unroll=True)(keras.Input((None, 2)))


def test_stateful_needs_fixed_batch_size():
    with pytest.raises(ValueError, match="fixed batch size"):
        VanillaRNN(3, stateful=True)(keras.Input((5, 2)))
