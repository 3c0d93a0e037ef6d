"""A 2-layer DeepVanillaRNN learns a task no linear model can: the product
(XOR) of the first two ±1 inputs, remembered across later distractor steps."""

import keras
import numpy as np

from rnn_layers import DeepVanillaRNN

TIMESTEPS = 5


def xor_task(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], size=(n, TIMESTEPS, 1)).astype("float32")
    y = (x[:, 0, 0] * x[:, 1, 0])[:, None]
    return x, y


def test_deep_vanilla_rnn_learns_xor_that_a_linear_model_cannot():
    keras.utils.set_random_seed(0)
    x, y = xor_task(512, seed=0)
    x_test, y_test = xor_task(256, seed=1)

    inputs = keras.Input((TIMESTEPS, 1))
    hidden = DeepVanillaRNN(16, num_layers=2, seed=0)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(keras.optimizers.Adam(0.01), "mse", jit_compile=True)
    untrained = model.evaluate(x_test, y_test, verbose=0)
    model.fit(x, y, epochs=20, batch_size=64, verbose=0)
    trained = model.evaluate(x_test, y_test, verbose=0)

    # The best linear function of all inputs predicts 0: the target is
    # uncorrelated with every input, so its MSE is Var(y) = 1.
    linear = keras.Sequential(
        [keras.Input((TIMESTEPS, 1)), keras.layers.Flatten(), keras.layers.Dense(1)]
    )
    linear.compile(keras.optimizers.Adam(0.01), "mse", jit_compile=True)
    linear.fit(x, y, epochs=20, batch_size=64, verbose=0)
    linear_loss = linear.evaluate(x_test, y_test, verbose=0)

    assert untrained > 0.8
    assert linear_loss > 0.9
    assert trained < 0.1, f"trained MSE {trained:.3f} (untrained {untrained:.3f})"
