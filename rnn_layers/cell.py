"""The vanilla recurrent cell: one step h_t = act(x_t·U + h_{t-1}·W + b)."""

import keras
from keras import ops

# Keras's RNN layer prepares the dropout masks of a cell before its loop only
# for cells that mix in this class (so that JAX never draws random numbers
# inside the loop). It is not exported in `keras.layers`, so we import it from
# its module; Keras's own SimpleRNNCell does the same.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell


def check_units(units):
    """Returns `units` as an int, or raises a ValueError that says what to pass."""
    if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
        raise ValueError(
            f"`units` must be a positive integer (the size of the hidden state); "
            f"received units={units!r}. Pass e.g. units=32."
        )
    return int(units)


def check_rate(name, rate):
    """Returns a dropout `rate` as a float, or raises a ValueError."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        raise ValueError(f"`{name}` must be a float in [0, 1); received {name}={rate!r}.")
    if not 0.0 <= rate < 1.0:
        raise ValueError(
            f"`{name}` must be in [0, 1) (the fraction of units to drop); "
            f"received {name}={rate!r}. Use 0 for no dropout."
        )
    return float(rate)


def get_activation(activation):
    """Resolves a Keras activation (name, callable or None = linear)."""
    try:
        return keras.activations.get(activation)
    except ValueError:
        raise ValueError(
            f"Unknown activation {activation!r}. Pass the name of a Keras "
            "activation (e.g. 'tanh', 'relu', 'sigmoid', 'linear'), a callable, "
            "or None for a linear recurrence."
        ) from None


@keras.saving.register_keras_serializable(package="rnn_layers")
class VanillaRNNCell(keras.layers.Layer, DropoutRNNCell):
    """One step of a vanilla (Elman) recurrent network.

    Computes `h_t = activation(x_t · kernel + h_{t-1} · recurrent_kernel + bias)`.
    The cell follows Keras's cell protocol (`state_size`, `output_size`,
    `call(inputs, states, training)`, `get_initial_state`), so it runs inside
    `keras.layers.RNN` and `keras.layers.StackedRNNCells`. For whole sequences
    prefer `VanillaRNN`, which computes the input projection of all steps in
    one matrix product.

    Args:
        units: Positive integer, size of the hidden state.
        activation: Activation of the new state. Default `"tanh"`.
            `None` means linear (`a(x) = x`).
        use_bias: Whether to add a bias vector. Default `True`.
        kernel_initializer: Initializer of `kernel` (input weights U).
            Default `"glorot_uniform"`.
        recurrent_initializer: Initializer of `recurrent_kernel`
            (recurrent weights W). Default `"orthogonal"`.
        bias_initializer: Initializer of `bias`. Default `"zeros"`.
        kernel_regularizer: Regularizer of `kernel`. Default `None`.
        recurrent_regularizer: Regularizer of `recurrent_kernel`.
            Default `None`.
        bias_regularizer: Regularizer of `bias`. Default `None`.
        kernel_constraint: Constraint of `kernel`. Default `None`.
        recurrent_constraint: Constraint of `recurrent_kernel`.
            Default `None`.
        bias_constraint: Constraint of `bias`. Default `None`.
        dropout: Float in [0, 1): fraction of the input features to drop.
            One mask per sequence, reused at every step. Default 0.
        recurrent_dropout: Float in [0, 1): fraction of the state units to
            drop before the recurrent product. One mask per sequence.
            Default 0.
        seed: Integer seed of the dropout masks. Default `None`.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: A 2D tensor `(batch, features)`: the input of one step.
        states: The previous state, a 2D tensor `(batch, units)` or a list
            holding it.
        training: Whether dropout is active. Default `False`.

    Returns:
        `(output, new_states)`, where `output` is the new state
        `(batch, units)` and `new_states` has the structure of `states`.

    Example:

    ```python
    cell = VanillaRNNCell(4)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    outputs = rnn(np.zeros((2, 10, 3), "float32"))  # shape (2, 10, 4)
    ```
    """

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_units(units)
        self.activation = get_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.dropout = check_rate("dropout", dropout)
        self.recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.state_size = self.units
        self.output_size = self.units

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise ValueError(
                "The feature dimension (last axis) of the input must be known "
                f"to create the kernel; received input shape {tuple(input_shape)}. "
                "Give the input a static last dimension, e.g. keras.Input((None, 3))."
            )
        # Same names, shapes and creation order as SimpleRNNCell, so that
        # `set_weights(simple_rnn.get_weights())` ports a SimpleRNN.
        self.kernel = self.add_weight(
            shape=(features, self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,),
                name="bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None

    def call(self, inputs, states, training=False):
        previous = states[0] if isinstance(states, (list, tuple)) else states
        input_mask = self.get_dropout_mask(inputs)
        state_mask = self.get_recurrent_dropout_mask(previous)
        if training and input_mask is not None:
            inputs = inputs * input_mask
        if training and state_mask is not None:
            previous = previous * state_mask
        pre_activation = ops.matmul(inputs, self.kernel) + ops.matmul(
            previous, self.recurrent_kernel
        )
        if self.bias is not None:
            pre_activation = pre_activation + self.bias
        output = self.activation(pre_activation)
        new_states = [output] if isinstance(states, (list, tuple)) else output
        return output, new_states

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype)]

    def get_config(self):
        config = {
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": keras.regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": keras.constraints.serialize(self.recurrent_constraint),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}
