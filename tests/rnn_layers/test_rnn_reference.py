"""VanillaRNN against references that do not use Keras's RNN code: the golden
constant-initializer values of Keras's own SimpleRNN tests, a float64 NumPy
loop, and the closed form of the two-weight linear network."""

import numpy as np
import pytest
from keras import initializers
from rnn_grad_utils import outputs_and_gradients

from rnn_layers import VanillaRNN

CONSTANT_INIT = dict(
    kernel_initializer=initializers.Constant(0.01),
    recurrent_initializer=initializers.Constant(0.02),
    bias_initializer=initializers.Constant(0.03),
)


def row(*values, width=4):
    return np.array([[v] * width for v in values])


# Values from keras/src/layers/rnn/simple_rnn_test.py (Keras 3), on
# np.arange(24) inputs, W=0.02, U=0.01, b=0.03 everywhere.
@pytest.mark.parametrize(
    "options, expected",
    [
        ({}, row(0.405432, 0.73605347)),
        ({"unroll": True}, row(0.405432, 0.73605347)),
        ({"go_backwards": True}, row(0.11144729, 0.5528889)),
        ({"go_backwards": True, "unroll": True}, row(0.11144729, 0.5528889)),
    ],
)
def test_golden_constant_init(options, expected):
    sequence = np.arange(24).reshape((2, 3, 4)).astype("float32")
    output = VanillaRNN(4, **CONSTANT_INIT, **options)(sequence)
    np.testing.assert_allclose(output, expected, atol=1e-6)


def test_golden_stateful():
    sequence = np.arange(24).reshape((2, 3, 4)).astype("float32")
    layer = VanillaRNN(4, stateful=True, **CONSTANT_INIT)
    layer(sequence)
    np.testing.assert_allclose(layer(sequence), row(0.40559256, 0.7361247), atol=1e-6)
    layer.reset_state()
    layer(sequence)
    np.testing.assert_allclose(layer(sequence), row(0.40559256, 0.7361247), atol=1e-6)


@pytest.mark.parametrize(
    "go_backwards, expected",
    [(False, row(0.33621645, 0.6262637)), (True, row(0.07344437, 0.43043602))],
)
def test_golden_initial_state(go_backwards, expected):
    sequence = np.arange(24).reshape((2, 4, 3)).astype("float32")
    initial_state = np.arange(8).reshape((2, 4)).astype("float32")
    layer = VanillaRNN(4, go_backwards=go_backwards, **CONSTANT_INIT)
    np.testing.assert_allclose(layer(sequence, initial_state=initial_state), expected, atol=1e-6)


def test_golden_masking():
    sequence = np.arange(24).reshape((2, 4, 3)).astype("float32")
    mask = np.array([[True, True, False, True], [True, False, False, True]])
    layer = VanillaRNN(4, unroll=True, **CONSTANT_INIT)
    np.testing.assert_allclose(layer(sequence, mask=mask), row(0.32951632, 0.61799484), atol=1e-6)

    first = [[0.0599281] * 2, [0.15122814] * 2, [0.15122814] * 2, [0.32394567] * 2]
    second = [[0.3969304] * 2] * 3 + [[0.608085] * 2]
    layer = VanillaRNN(2, return_sequences=True, **CONSTANT_INIT)
    output = layer(sequence, mask=mask)
    np.testing.assert_allclose(output[0], first, atol=1e-6)
    np.testing.assert_allclose(output[1], second, atol=1e-6)

    layer = VanillaRNN(2, return_sequences=True, zero_output_for_mask=True, **CONSTANT_INIT)
    output = layer(sequence, mask=mask)
    first[2], second[1], second[2] = [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]
    np.testing.assert_allclose(output[0], first, atol=1e-6)
    np.testing.assert_allclose(output[1], second, atol=1e-6)

    layer = VanillaRNN(4, go_backwards=True, **CONSTANT_INIT)
    np.testing.assert_allclose(layer(sequence, mask=mask), row(0.07376196, 0.43645123), atol=1e-6)


def numpy_vanilla_rnn(
    x, kernel, recurrent_kernel, bias, initial_state, mask=None, activation=np.tanh
):
    """float64 loop: returns (outputs (B, T, H) as SimpleRNN, final state)."""
    x, kernel, recurrent_kernel = (np.asarray(a, np.float64) for a in (x, kernel, recurrent_kernel))
    state = np.asarray(initial_state, np.float64)
    last_output = np.zeros_like(state)
    outputs = []
    for t in range(x.shape[1]):
        new = activation(x[:, t] @ kernel + state @ recurrent_kernel + bias)
        keep = np.ones((x.shape[0], 1), bool) if mask is None else mask[:, t, None]
        state = np.where(keep, new, state)
        last_output = np.where(keep, new, last_output)
        outputs.append(last_output)
    return np.stack(outputs, axis=1), state


def random_problem(seed=0, batch=3, timesteps=7, features=2, units=4):
    rng = np.random.default_rng(seed)
    return dict(
        x=rng.normal(size=(batch, timesteps, features)),
        kernel=rng.normal(scale=0.5, size=(features, units)),
        recurrent_kernel=rng.normal(scale=0.5, size=(units, units)),
        bias=rng.normal(scale=0.1, size=(units,)),
        initial_state=rng.normal(scale=0.5, size=(batch, units)),
    )


def layer_for(problem, **options):
    units = problem["kernel"].shape[1]
    layer = VanillaRNN(units, return_sequences=True, return_state=True, **options)
    layer.build(problem["x"].shape)
    layer.set_weights([problem[k] for k in ("kernel", "recurrent_kernel", "bias")])
    return layer


@pytest.mark.parametrize("with_mask", [False, True])
def test_matches_float64_numpy_loop(with_mask):
    problem = random_problem()
    mask = None
    if with_mask:
        mask = np.ones(problem["x"].shape[:2], bool)
        mask[0, :3] = False  # leading masked steps: outputs 0, state kept
        mask[1, 2:5] = False
        mask[2, :] = False  # all masked: final state = initial state
    expected_outputs, expected_state = numpy_vanilla_rnn(mask=mask, **problem)
    layer = layer_for(problem)
    outputs, state = layer(
        problem["x"].astype("float32"),
        initial_state=problem["initial_state"].astype("float32"),
        mask=mask,
    )
    np.testing.assert_allclose(outputs, expected_outputs, atol=1e-5)
    np.testing.assert_allclose(state, expected_state, atol=1e-5)


def test_recurrent_kernel_gradient_matches_finite_differences():
    """dL/dW of L = sum(outputs * cos(outputs)) (the loss of rnn_grad_utils)
    against central differences of the float64 loop."""
    problem = random_problem(seed=3)
    mask = np.ones(problem["x"].shape[:2], bool)
    mask[1, 2:4] = False

    def loss(recurrent_kernel):
        outputs, state = numpy_vanilla_rnn(
            **{**problem, "recurrent_kernel": recurrent_kernel}, mask=mask
        )
        return np.sum(outputs * np.cos(outputs)) + 2.0 * np.sum(state * np.cos(state))

    epsilon = 1e-6
    numeric = np.zeros_like(problem["recurrent_kernel"])
    for index in np.ndindex(numeric.shape):
        step = np.zeros_like(numeric)
        step[index] = epsilon
        base = problem["recurrent_kernel"]
        numeric[index] = (loss(base + step) - loss(base - step)) / (2 * epsilon)

    layer = layer_for(problem)
    _, gradients = outputs_and_gradients(
        layer,
        problem["x"].astype("float32"),
        problem["initial_state"].astype("float32"),
        mask=mask,
    )
    # gradients: inputs, initial state, kernel, recurrent_kernel, bias.
    np.testing.assert_allclose(gradients[3], numeric, atol=1e-4)


def test_two_weight_network_closed_form():
    """VanillaRNN(1, use_bias=False, activation=None): h_T = Σ_t u·w^(T-1-t)·x_t."""
    u, w, timesteps = 0.7, 0.9, 6
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, timesteps, 1)).astype("float32")
    layer = VanillaRNN(1, use_bias=False, activation=None)
    layer.build(x.shape)
    assert [tuple(v.shape) for v in layer.weights] == [(1, 1), (1, 1)]
    layer.set_weights([np.array([[u]]), np.array([[w]])])
    powers = w ** np.arange(timesteps - 1, -1, -1)
    expected = u * (x[:, :, 0] @ powers)
    np.testing.assert_allclose(layer(x)[:, 0], expected, rtol=1e-5)

    # d h_T / d w = Σ_t u·(T-1-t)·w^(T-2-t)·x_t; loss = Σ h·cos(h).
    h = expected
    exponents = np.arange(timesteps - 1, -1, -1)
    dh_dw = u * (x[:, :, 0] @ (exponents * w ** np.maximum(exponents - 1, 0)))
    expected_grad_w = np.sum((np.cos(h) - h * np.sin(h)) * dh_dw)
    _, gradients = outputs_and_gradients(layer, x)
    np.testing.assert_allclose(gradients[2][0, 0], expected_grad_w, rtol=1e-4)
