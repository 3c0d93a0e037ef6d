"""`DeepVanillaRNN`: a stack of vanilla recurrent layers."""

import keras

from rnn_layers.cell import check_rate, check_units
from rnn_layers.layer import VanillaRNN, check_sequences_shape

# Arguments handed unchanged to every VanillaRNN of the stack.
_SHARED_LAYER_ARGS = (
    "activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
    "dropout",
    "recurrent_dropout",
    "go_backwards",
    "unroll",
    "zero_output_for_mask",
    "stateful",
)


def _shared_by_layers(name):
    """A property reading `name` from the bottom layer; every layer holds the same."""
    return property(
        lambda self: getattr(self.rnn_layers[0], name),
        doc=f"`{name}` of every layer of the stack (they all share it).",
    )


def resolve_units(units, num_layers):
    """Returns the per-layer unit list from an int (with num_layers) or a list."""
    if isinstance(units, (list, tuple)):
        if len(units) == 0:
            raise ValueError(
                "`units` is an empty list; give one positive integer per layer, "
                "e.g. units=[64, 64]."
            )
        if num_layers is not None and num_layers != len(units):
            raise ValueError(
                f"`num_layers`={num_layers!r} disagrees with `units`={list(units)!r} "
                f"({len(units)} layers). Pass only one of them, or make them agree."
            )
        return [check_units(u) for u in units]
    if num_layers is None:
        num_layers = 1
    if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(
            f"`num_layers` must be an integer >= 1; received num_layers={num_layers!r}."
        )
    return [check_units(units)] * num_layers


@keras.saving.register_keras_serializable(package="rnn_layers")
class DeepVanillaRNN(keras.layers.Layer):
    """A stack of `VanillaRNN` layers, each feeding its sequence to the next.

    Every layer but the top returns its full sequence; the top layer returns
    what `return_sequences` asks. The layers are in `rnn_layers`, bottom
    first; applying them one after another gives the same output.

    The stack has SimpleRNN's properties. The hyperparameters (`activation`,
    `use_bias`, the three initializers, regularizers and constraints,
    `dropout`, `recurrent_dropout`) are shared by every layer, and the
    properties return them as the layers resolved them (e.g. an `L2`
    object for `kernel_regularizer="l2"`). `units` is what the stack was
    configured with: an int, or the list of sizes. The weights differ per
    layer, so the stack has no `kernel` of its own: read
    `rnn_layers[i].kernel`, `.recurrent_kernel`, `.bias`, or `weights`,
    which lists them all, bottom layer first.

    Args:
        units: Size of the hidden state of every layer (int, with
            `num_layers`), or a list with one size per layer.
        num_layers: Number of layers when `units` is an int. Default 1
            (or `len(units)`).
        activation: Activation of every layer. Default `"tanh"`.
        dropout_between: Float in [0, 1): dropout on the sequence passed
            from one layer to the next (training only). Default 0.
        return_sequences: The top layer returns every step's output.
        return_state: Also return the final state of the top layer.
        return_all_states: Also return the final state of every layer,
            bottom first (takes precedence over `return_state`).
        seed: Integer seed; layer i (and the dropout after it) uses
            `seed + i`. Default `None`.
        use_bias: As in `VanillaRNN`, for every layer.
        kernel_initializer: As in `VanillaRNN`, for every layer.
        recurrent_initializer: As in `VanillaRNN`, for every layer.
        bias_initializer: As in `VanillaRNN`, for every layer.
        kernel_regularizer: As in `VanillaRNN`, for every layer.
        recurrent_regularizer: As in `VanillaRNN`, for every layer.
        bias_regularizer: As in `VanillaRNN`, for every layer.
        kernel_constraint: As in `VanillaRNN`, for every layer.
        recurrent_constraint: As in `VanillaRNN`, for every layer.
        bias_constraint: As in `VanillaRNN`, for every layer.
        dropout: As in `VanillaRNN`, for every layer.
        recurrent_dropout: As in `VanillaRNN`, for every layer.
        go_backwards: As in `VanillaRNN`, for every layer.
        unroll: As in `VanillaRNN`, for every layer.
        zero_output_for_mask: As in `VanillaRNN`, for every layer.
        stateful: As in `VanillaRNN`, for every layer.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        sequences: A 3D tensor `(batch, timesteps, features)`.
        initial_state: Optional list with one `(batch, units_i)` state per
            layer (bottom first).
        mask: Optional boolean `(batch, timesteps)`, passed to every layer.
        training: Whether dropout is active.

    Returns:
        The output of the top layer; with `return_state`, a tuple
        `(output, top_state)`; with `return_all_states`,
        `(output, state_1, ..., state_L)`.

    Example:

    ```python
    deep = DeepVanillaRNN([64, 32], return_sequences=True)
    y = deep(np.zeros((8, 100, 2), "float32"))  # shape (8, 100, 32)
    deep3 = DeepVanillaRNN(64, num_layers=3, dropout_between=0.1)
    ```
    """

    def __init__(
        self,
        units,
        num_layers=None,
        activation="tanh",
        dropout_between=0.0,
        return_sequences=False,
        return_state=False,
        return_all_states=False,
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
        go_backwards=False,
        unroll=False,
        zero_output_for_mask=False,
        stateful=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = units if isinstance(units, int) else list(units)
        self.layer_units = resolve_units(units, num_layers)
        self.num_layers = len(self.layer_units)
        self.dropout_between = check_rate("dropout_between", dropout_between)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.return_all_states = bool(return_all_states)
        self.seed = seed
        self._layer_args = dict(
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            go_backwards=go_backwards,
            unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
            stateful=stateful,
        )
        self.supports_masking = True
        self._create_layers(seed, kwargs.get("dtype"))

    def _create_layers(self, seed, dtype):
        """Creates the VanillaRNN layers, bottom first, and the dropout
        layers between them; layer i and the dropout after it get seed + i."""
        top = self.num_layers - 1
        self.rnn_layers = [
            VanillaRNN(
                layer_units,
                return_sequences=(i < top) or self.return_sequences,
                return_state=True,
                seed=None if seed is None else seed + i,
                dtype=dtype,
                name=f"vanilla_rnn_{i}",
                **self._layer_args,
            )
            for i, layer_units in enumerate(self.layer_units)
        ]
        self.dropout_layers = [
            keras.layers.Dropout(
                self.dropout_between,
                seed=None if seed is None else seed + i,
                name=f"dropout_between_{i}",
            )
            for i in range(top)
        ]

    # SimpleRNN's hyperparameter properties; `units` is set in __init__.
    activation = _shared_by_layers("activation")
    use_bias = _shared_by_layers("use_bias")
    kernel_initializer = _shared_by_layers("kernel_initializer")
    recurrent_initializer = _shared_by_layers("recurrent_initializer")
    bias_initializer = _shared_by_layers("bias_initializer")
    kernel_regularizer = _shared_by_layers("kernel_regularizer")
    recurrent_regularizer = _shared_by_layers("recurrent_regularizer")
    bias_regularizer = _shared_by_layers("bias_regularizer")
    kernel_constraint = _shared_by_layers("kernel_constraint")
    recurrent_constraint = _shared_by_layers("recurrent_constraint")
    bias_constraint = _shared_by_layers("bias_constraint")
    dropout = _shared_by_layers("dropout")
    recurrent_dropout = _shared_by_layers("recurrent_dropout")

    @property
    def state_sizes(self):
        return list(self.layer_units)

    def build(self, sequences_shape, initial_state_shape=None):
        shape = check_sequences_shape(sequences_shape, self.name)
        for layer in self.rnn_layers:
            layer.build(shape)
            shape = (shape[0], shape[1], layer.units)

    def reset_state(self):
        """Sets the carried states of a stateful stack back to zeros."""
        for layer in self.rnn_layers:
            layer.reset_state()

    def call(self, sequences, initial_state=None, mask=None, training=False):
        check_sequences_shape(sequences.shape, self.name)
        if initial_state is not None:
            if (
                not isinstance(initial_state, (list, tuple))
                or len(initial_state) != self.num_layers
            ):
                raise ValueError(
                    f"Layer '{self.name}' has {self.num_layers} layers and expects "
                    f"`initial_state` as a list of {self.num_layers} tensors, one "
                    f"(batch, units_i) state per layer; received {initial_state!r:.200}."
                )
        outputs, final_states = sequences, []
        for i, layer in enumerate(self.rnn_layers):
            if i > 0 and self.dropout_between > 0:
                outputs = self.dropout_layers[i - 1](outputs, training=training)
            state = None if initial_state is None else initial_state[i]
            outputs, final_state = layer(outputs, initial_state=state, mask=mask, training=training)
            final_states.append(final_state)
        if self.return_all_states:
            return (outputs, *final_states)
        if self.return_state:
            return outputs, final_states[-1]
        return outputs

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch_size, timesteps = sequences_shape[0], sequences_shape[1]
        top_units = self.layer_units[-1]
        if self.return_sequences:
            output_shape = (batch_size, timesteps, top_units)
        else:
            output_shape = (batch_size, top_units)
        if self.return_all_states:
            return (output_shape, *[(batch_size, u) for u in self.layer_units])
        if self.return_state:
            return output_shape, (batch_size, top_units)
        return output_shape

    def compute_mask(self, sequences, mask=None):
        output_mask = mask if self.return_sequences else None
        if self.return_all_states:
            return [output_mask] + [None] * self.num_layers
        if self.return_state:
            return [output_mask, None]
        return output_mask

    def get_config(self):
        layer_config = self.rnn_layers[0].get_config()
        config = {key: layer_config[key] for key in _SHARED_LAYER_ARGS}
        config.update(
            units=self.units if isinstance(self.units, int) else list(self.units),
            num_layers=self.num_layers,
            dropout_between=self.dropout_between,
            return_sequences=self.return_sequences,
            return_state=self.return_state,
            return_all_states=self.return_all_states,
            seed=self.seed,
        )
        return {**super().get_config(), **config}
