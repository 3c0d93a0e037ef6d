"""Factories of recurrent layers "of the user's own", for the tests of
`experiments/models/factories.py` (named as `tests.experiments.user_cell:<name>`).

`make_cell` is a good one: a cell defined here, registered with Keras, in a
`keras.layers.RNN`. The others each break one thing the sweep checks before any run
exists, and `fails_in_training` one thing it cannot check: its layer raises once it
trains.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="vrl_tests")
class LeakyCell(keras.layers.Layer):
    """h_t = (1 - leak) h_{t-1} + leak tanh(x_t U + h_{t-1} W): a cell of the user's own."""

    def __init__(self, units, leak=0.5, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.leak = leak
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units), initializer="orthogonal", name="recurrent_kernel"
        )

    def call(self, inputs, states, training=False):
        previous = states[0]
        update = ops.tanh(
            ops.matmul(inputs, self.kernel) + ops.matmul(previous, self.recurrent_kernel)
        )
        state = (1.0 - self.leak) * previous + self.leak * update
        return state, [state]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "leak": self.leak}


@keras.saving.register_keras_serializable(package="vrl_tests")
class FailsWhenTraining(keras.layers.Layer):
    """The last step's first feature, repeated `units` times; raises when training."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.scale = None

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(self.units,), initializer="ones", name="scale")

    def call(self, inputs, training=False):
        if training:
            raise RuntimeError("this layer cannot train (on purpose)")
        return inputs[:, -1, :1] * self.scale

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class Unregistered(keras.layers.Layer):
    """A layer Keras cannot rebuild from its config: its class is not registered."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def call(self, inputs):
        return inputs[:, -1, :1] * ops.ones((1, self.units))


def make_cell(hyperparameters):
    return keras.layers.RNN(
        LeakyCell(hyperparameters["units"]),
        return_sequences=hyperparameters["return_sequences"],
        name="leaky",
    )


def fails_in_training(hyperparameters):
    return FailsWhenTraining(hyperparameters["units"])


def wrong_rank(hyperparameters):
    return keras.layers.RNN(LeakyCell(hyperparameters["units"]), return_sequences=True)


def wrong_size(hyperparameters):
    return keras.layers.RNN(LeakyCell(hyperparameters["units"] + 1))


def non_finite(hyperparameters):
    return keras.layers.RNN(LeakyCell(hyperparameters["units"], leak=float("nan")))


def not_a_layer(hyperparameters):
    return "a layer, promised"


def raises(hyperparameters):
    raise KeyError("no_such_hyperparameter")


def unregistered(hyperparameters):
    return Unregistered(hyperparameters["units"])


not_callable = 42
