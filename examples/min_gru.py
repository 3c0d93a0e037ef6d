"""A recurrent cell of your own, compared with the lab's: the minimal GRU.

The lab trains any Keras layer you hand it, beside its built-in kinds, under the same
budget, grid, seeds and report. This module is the worked example: the minGRU of Feng et
al. (2024), "Were RNNs All We Needed?", a GRU whose update gate and candidate state read
the input only,

    z_t = sigmoid(x_t W_z + b_z)
    h~_t = x_t W_h + b_h
    h_t = (1 - z_t) * h_{t-1} + z_t * h~_t

so nothing but the gate's leak carries the state from step to step. Compare it with the
vanilla RNN and the LSTM on the adding problem, from the repository root:

    .venv/bin/python -m experiments run long_dependency --profile smoke \\
        --set 'grid.model=[vanilla, lstm, examples.min_gru:min_gru]'

Its runs are named `min_gru-L10-s0`, ...; it has its own curve in the breakdown plot,
its own rows in every table and its own `horizon_min_gru` metric. To sweep it in a
config of your own, declare it as a variant (its name is then yours, and it may override
hyperparameters):

    models:
      min_gru: {kind: examples.min_gru:min_gru, units: 64}
    grid:
      model: [vanilla, lstm, min_gru]

What the lab asks of a factory (`experiments/models/factories.py`):

- it is importable from the working directory (here: `examples/` under the repository
  root) or from an installed package, as `package.module:function`;
- it takes one argument, the grid point's hyperparameters as a read-only mapping (every
  config key of the model and its training: `units`, `activation`,
  `kernel_initializer`, `recurrent_initializer`, `use_bias`, ..., and
  `return_sequences`), and returns a Keras layer;
- the layer maps `(batch, time, features)` to the last state `(batch, units)`, or to
  every state `(batch, time, units)` when `return_sequences` is true;
- its classes are registered with `keras.saving.register_keras_serializable` and have a
  `get_config`: each run logs its trained model, and this module's file travels inside
  it, so `mlflow.pyfunc.load_model("runs:/<run id>/min_gru-L50-s0")` (the model is named
  for its run) predicts on a machine without this repository.

The sweep tries every factory on a zero batch before any run exists, and stops with one
line naming the value and where it came from when it cannot be imported, is not callable,
or returns a layer of the wrong output shape or non-finite output.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="examples")
class MinGRUCell(keras.layers.Layer):
    """One step of the minimal GRU (Feng et al. 2024), for `keras.layers.RNN`.

    Args:
        units: the state's size.
        kernel_initializer: the input weights' initializer.
        use_bias: whether the gate and the candidate have biases.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).

    Call arguments:
        inputs: `(batch, features)`, one step.
        states: `[h]`, the previous state `(batch, units)`.

    Example:

    >>> layer = keras.layers.RNN(MinGRUCell(32))
    >>> layer(keras.ops.zeros((4, 10, 2))).shape
    (4, 32)
    """

    def __init__(self, units, kernel_initializer="glorot_uniform", use_bias=True, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, int) or units < 1:
            raise ValueError(f"units must be an integer >= 1; got {units!r}.")
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.use_bias = use_bias
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        features = input_shape[-1]
        # The gate's and the candidate's input weights side by side: one product a step.
        self.kernel = self.add_weight(
            shape=(features, 2 * self.units), initializer=self.kernel_initializer, name="kernel"
        )
        self.bias = (
            self.add_weight(shape=(2 * self.units,), initializer="zeros", name="bias")
            if self.use_bias
            else None
        )

    def call(self, inputs, states, training=False):
        previous = states[0] if isinstance(states, (list, tuple)) else states
        projected = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            projected = projected + self.bias
        gate = ops.sigmoid(projected[:, : self.units])
        candidate = projected[:, self.units :]
        state = (1.0 - gate) * previous + gate * candidate
        return state, [state]

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype)]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "use_bias": self.use_bias,
        }


def min_gru(hyperparameters):
    """The lab's factory: a minGRU layer for one grid point.

    Args:
        hyperparameters: the grid point's hyperparameters (a read-only mapping); this
            layer reads `units`, `kernel_initializer`, `use_bias` and `return_sequences`
            (it has no recurrent weights, so `recurrent_initializer` and `activation` do
            not apply).

    Returns:
        A `keras.layers.RNN` over a `MinGRUCell`.
    """
    cell = MinGRUCell(
        hyperparameters["units"],
        kernel_initializer=hyperparameters["kernel_initializer"],
        use_bias=hyperparameters["use_bias"],
    )
    return keras.layers.RNN(
        cell, return_sequences=hyperparameters["return_sequences"], name="min_gru"
    )
