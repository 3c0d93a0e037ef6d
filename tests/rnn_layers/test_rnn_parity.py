"""VanillaRNN against keras.layers.SimpleRNN with identical weights: forward
outputs and gradients w.r.t. inputs, initial state and weights agree to 1e-5
(float32). Backend-agnostic: test_rnn_other_backends.py reruns this file under JAX and PyTorch."""

import keras
import numpy as np
import pytest
from rnn_grad_utils import max_abs_difference, outputs_and_gradients

from rnn_layers import DeepVanillaRNN, VanillaRNN, VanillaRNNCell

TOLERANCE = 1e-5
BATCH, TIMESTEPS, FEATURES, UNITS = 3, 6, 4, 5


def make_inputs(seed=0):
    rng = np.random.default_rng(seed)
    sequences = rng.normal(scale=0.5, size=(BATCH, TIMESTEPS, FEATURES)).astype("float32")
    initial_state = rng.normal(scale=0.5, size=(BATCH, UNITS)).astype("float32")
    return sequences, initial_state


def step_mask():
    # Sequence 0 ends early, sequence 1 starts late, sequence 2 has a hole.
    mask = np.ones((BATCH, TIMESTEPS), dtype=bool)
    mask[0, 4:] = False
    mask[1, :2] = False
    mask[2, 2:4] = False
    # A backend tensor: Keras's torch RNN (the reference) does not accept NumPy masks.
    return keras.ops.convert_to_tensor(mask)


def random_weights(layer, seed=1):
    """Random non-trivial weights (the default bias is zero)."""
    rng = np.random.default_rng(seed)
    return [rng.normal(scale=0.4, size=w.shape).astype("float32") for w in layer.get_weights()]


def paired_layers(reference_layer, candidate_layer, shape=(BATCH, TIMESTEPS, FEATURES)):
    reference_layer.build(shape)
    candidate_layer.build(shape)
    weights = random_weights(reference_layer)
    reference_layer.set_weights(weights)
    candidate_layer.set_weights(weights)
    return reference_layer, candidate_layer


def assert_parity(reference_layer, candidate_layer, sequences, initial_state=None, **call_kwargs):
    expected = outputs_and_gradients(reference_layer, sequences, initial_state, **call_kwargs)
    actual = outputs_and_gradients(candidate_layer, sequences, initial_state, **call_kwargs)
    assert len(expected[0]) == len(actual[0])
    assert max_abs_difference(expected[0], actual[0]) <= TOLERANCE
    assert max_abs_difference(expected[1], actual[1]) <= TOLERANCE


CASES = {
    "last_output": {},
    "return_sequences": {"return_sequences": True},
    "return_state": {"return_state": True},
    "sequences_and_state": {"return_sequences": True, "return_state": True},
    "go_backwards": {"go_backwards": True},
    "go_backwards_sequences": {"go_backwards": True, "return_sequences": True},
    "unroll": {"unroll": True, "return_sequences": True},
    "linear": {"activation": None, "return_sequences": True},
    "no_bias": {"use_bias": False, "return_state": True},
    "relu": {"activation": "relu", "return_sequences": True},
    "sigmoid": {"activation": "sigmoid"},
    # No hand-written gradient for softplus: the automatic-differentiation path.
    "softplus": {"activation": "softplus", "return_sequences": True},
}


@pytest.mark.parametrize("options", CASES.values(), ids=CASES.keys())
def test_matches_simple_rnn(options):
    reference, candidate = paired_layers(
        keras.layers.SimpleRNN(UNITS, **options), VanillaRNN(UNITS, **options)
    )
    sequences, _ = make_inputs()
    assert_parity(reference, candidate, sequences)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_initial_state_matches_simple_rnn(go_backwards, return_sequences):
    options = {"go_backwards": go_backwards, "return_sequences": return_sequences}
    reference, candidate = paired_layers(
        keras.layers.SimpleRNN(UNITS, **options), VanillaRNN(UNITS, **options)
    )
    sequences, initial_state = make_inputs()
    assert_parity(reference, candidate, sequences, initial_state)


MASK_CASES = {
    "last_output": {},
    "sequences": {"return_sequences": True},
    "zero_output": {"return_sequences": True, "zero_output_for_mask": True},
    "zero_output_last": {"zero_output_for_mask": True, "return_state": True},
    "backwards": {"return_sequences": True, "go_backwards": True},
    "backwards_zero_output": {
        "return_sequences": True,
        "go_backwards": True,
        "zero_output_for_mask": True,
    },
    "unroll": {"return_sequences": True, "unroll": True},
    "linear": {"return_sequences": True, "activation": None},
    "softplus": {"return_sequences": True, "activation": "softplus"},
}


@pytest.mark.parametrize("options", MASK_CASES.values(), ids=MASK_CASES.keys())
def test_masking_matches_simple_rnn(options):
    reference, candidate = paired_layers(
        keras.layers.SimpleRNN(UNITS, **options), VanillaRNN(UNITS, **options)
    )
    sequences, _ = make_inputs()
    assert_parity(reference, candidate, sequences, mask=step_mask())


@pytest.mark.parametrize("options", MASK_CASES.values(), ids=MASK_CASES.keys())
def test_masking_with_initial_state_matches_simple_rnn(options):
    # No sequence starts with masked steps here: there Keras's JAX backend
    # outputs the initial state and its TensorFlow backend zeros (VanillaRNN
    # outputs zeros on every backend, see test_rnn_reference.py).
    # (Neither the first nor the last step is masked, so also not the first
    # processed one with go_backwards.)
    mask = np.ones((BATCH, TIMESTEPS), dtype=bool)
    mask[0, 2:4] = False
    mask[1, 1] = False
    mask[2, 4] = False
    mask = keras.ops.convert_to_tensor(mask)
    reference, candidate = paired_layers(
        keras.layers.SimpleRNN(UNITS, **options), VanillaRNN(UNITS, **options)
    )
    sequences, initial_state = make_inputs()
    assert_parity(reference, candidate, sequences, initial_state, mask=mask)


def test_masking_layer_upstream_matches_simple_rnn():
    """A keras.layers.Masking upstream sets the mask; both models agree."""
    sequences, _ = make_inputs()
    sequences[0, 4:] = 0.0
    sequences[2, 1] = 0.0

    def model(rnn_layer):
        inputs = keras.Input((TIMESTEPS, FEATURES))
        masked = keras.layers.Masking(0.0)(inputs)
        return keras.Model(inputs, rnn_layer(masked))

    reference = model(keras.layers.SimpleRNN(UNITS, return_sequences=True))
    candidate = model(VanillaRNN(UNITS, return_sequences=True))
    candidate.set_weights(reference.get_weights())
    expected = outputs_and_gradients(reference, sequences)
    actual = outputs_and_gradients(candidate, sequences)
    assert max_abs_difference(expected[0], actual[0]) <= TOLERANCE
    assert max_abs_difference(expected[1], actual[1]) <= TOLERANCE


@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_matches_simple_rnn(return_sequences):
    reference, candidate = paired_layers(
        keras.layers.Bidirectional(
            keras.layers.SimpleRNN(UNITS, return_sequences=return_sequences)
        ),
        keras.layers.Bidirectional(VanillaRNN(UNITS, return_sequences=return_sequences)),
    )
    sequences, _ = make_inputs()
    assert_parity(reference, candidate, sequences)
    assert_parity(reference, candidate, sequences, mask=step_mask())


def test_stateful_two_calls_then_reset_matches_simple_rnn():
    options = {"stateful": True, "return_sequences": True}
    reference, candidate = paired_layers(
        keras.layers.SimpleRNN(UNITS, **options), VanillaRNN(UNITS, **options)
    )
    first, _ = make_inputs(seed=0)
    second, _ = make_inputs(seed=1)
    # The first call carries its final state into the second.
    to_numpy = keras.ops.convert_to_numpy
    np.testing.assert_allclose(
        to_numpy(reference(first)), to_numpy(candidate(first)), atol=TOLERANCE
    )
    assert_parity(reference, candidate, second)
    carried = to_numpy(candidate(second))
    candidate.reset_state()
    reference.reset_state()
    fresh = to_numpy(candidate(second))
    np.testing.assert_allclose(fresh, to_numpy(reference(second)), atol=TOLERANCE)
    assert np.abs(carried - fresh).max() > 1e-3  # the reset changed something
    np.testing.assert_allclose(
        to_numpy(candidate.states[0].value),
        fresh[:, -1],
        atol=TOLERANCE,
    )


def test_cell_in_keras_rnn_matches_simple_rnn():
    reference, candidate = paired_layers(
        keras.layers.SimpleRNN(UNITS, return_sequences=True),
        keras.layers.RNN(VanillaRNNCell(UNITS), return_sequences=True),
    )
    sequences, _ = make_inputs()
    assert_parity(reference, candidate, sequences, mask=step_mask())


def test_stacked_cells_match_deep_vanilla_rnn():
    reference, candidate = paired_layers(
        keras.layers.RNN([VanillaRNNCell(UNITS), VanillaRNNCell(3)], return_sequences=True),
        DeepVanillaRNN([UNITS, 3], return_sequences=True),
    )
    sequences, _ = make_inputs()
    assert_parity(reference, candidate, sequences)


def test_runs_on_the_requested_backend():
    """Guards test_rnn_other_backends.py.

    The child process really runs on the backend it asked for.
    """
    import os

    requested = os.environ.get("KERAS_BACKEND")
    if requested:
        assert keras.backend.backend() == requested
