"""`VanillaRNN`: the vanilla recurrent layer over whole sequences."""

import keras
from keras import ops

# Keras's own RNN layer creates its stateful-mode state variables without
# tracking them as weights (so `get_weights()` holds only kernel,
# recurrent_kernel and bias); we do the same to stay weight-compatible.
from keras.src.utils.tracking import no_automatic_dependency_tracking

from rnn_layers.cell import VanillaRNNCell
from rnn_layers.recurrence import run_recurrence


def output_mask(mask, return_sequences, return_state):
    """The mask of a recurrent layer's outputs: the input's on the sequence output, none on
    the last output or the state (Keras's RNN layers do the same)."""
    sequences_mask = mask if return_sequences else None
    return [sequences_mask, None] if return_state else sequences_mask


def check_sequences_shape(shape, layer_name):
    """Raises a ValueError unless `shape` is (batch, time, known features)."""
    shape = tuple(shape)
    if len(shape) != 3:
        raise ValueError(
            f"Layer '{layer_name}' expects sequences of rank 3 "
            f"(batch, timesteps, features); received shape {shape} (rank {len(shape)}). "
            "Add a time axis (e.g. x[:, :, None] for one feature per step, or "
            "x[:, None, :] for a single step)."
        )
    if shape[-1] is None:
        raise ValueError(
            f"Layer '{layer_name}' needs a known feature dimension (last axis) to "
            f"size its kernel; received shape {shape}. Give the input a static "
            "last dimension, e.g. keras.Input((None, 3))."
        )
    return shape


@keras.saving.register_keras_serializable(package="rnn_layers")
class VanillaRNN(keras.layers.Layer):
    """Vanilla (Elman) recurrent layer: h_t = act(x_t·U + h_{t-1}·W + b).

    A drop-in replacement for `keras.layers.SimpleRNN` (same arguments, same
    weights `kernel` U, `recurrent_kernel` W, `bias` b, in the same order,
    same outputs) written only with `keras.ops`, so it runs on every Keras
    backend. It differs in how it computes: the input projection x·U + b of
    all time steps is one matrix product before the loop, and the loop does
    only the recurrent product h·W and the activation.

    Args:
        units: Positive integer, size of the hidden state.
        activation: Activation of the new state. Default `"tanh"`;
            `None` means linear.
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
        activity_regularizer: Regularizer of the layer's outputs.
            Default `None`.
        kernel_constraint: Constraint of `kernel`. Default `None`.
        recurrent_constraint: Constraint of `recurrent_kernel`.
            Default `None`.
        bias_constraint: Constraint of `bias`. Default `None`.
        dropout: Float in [0, 1): fraction of the input features to drop
            during training; one mask per sequence, reused at every step.
        recurrent_dropout: Float in [0, 1): fraction of the state units
            dropped before the recurrent product; one mask per sequence.
        seed: Integer seed of the dropout masks. Default `None`.
        return_sequences: Return the output of every step
            `(batch, timesteps, units)` instead of the last `(batch, units)`.
        return_state: Also return the final state.
        go_backwards: Process the sequence backwards and return the
            outputs in processing order (as SimpleRNN does).
        stateful: Carry the final state of each batch over as the initial
            state of the next (needs a fixed batch size); `reset_state()`
            sets it back to zeros.
        unroll: Unroll the time loop in the graph (needs a fixed number of
            steps; for short sequences).
        zero_output_for_mask: With a mask and `return_sequences`, output
            zeros at masked steps instead of repeating the last output.
        **kwargs: Base layer arguments (`name`, `dtype`, `trainable`, ...).

    Call arguments:
        sequences: A 3D tensor `(batch, timesteps, features)`.
        initial_state: Optional initial state `(batch, units)` (or a list
            holding it). Default zeros, or the carried state if stateful.
        mask: Optional boolean `(batch, timesteps)`; False steps are skipped
            (the state is carried over). Set automatically by an upstream
            `keras.layers.Masking` or `Embedding(mask_zero=True)`.
        training: Whether dropout is active.

    Returns:
        The output `(batch, units)` or `(batch, timesteps, units)`; with
        `return_state`, a tuple `(output, final_state)`.

    Example:

    The two-weight network of the course: one input feature, one unit, no
    bias and no activation, so h_t = u·x_t + w·h_{t-1} with exactly two
    weights.

    ```python
    layer = VanillaRNN(1, use_bias=False, activation=None)
    x = np.ones((1, 3, 1), "float32")
    layer.build(x.shape)
    layer.set_weights([np.array([[1.0]]), np.array([[0.5]])])  # u, w
    layer(x)  # h_3 = 1 + 0.5 + 0.25 = 1.75
    [w.shape for w in layer.weights]  # [(1, 1), (1, 1)]
    ```

    Port a trained SimpleRNN:

    ```python
    simple = keras.layers.SimpleRNN(32)
    simple.build((None, None, 8))
    vanilla = VanillaRNN(32)
    vanilla.build((None, None, 8))
    vanilla.set_weights(simple.get_weights())
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
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.cell = VanillaRNNCell(
            units,
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
            seed=seed,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="vanilla_rnn_cell",
        )
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self.states = None

    # The cell owns the weights and the hyperparameters; expose them here
    # under the names SimpleRNN uses.
    units = property(lambda self: self.cell.units)
    activation = property(lambda self: self.cell.activation)
    use_bias = property(lambda self: self.cell.use_bias)
    kernel_initializer = property(lambda self: self.cell.kernel_initializer)
    recurrent_initializer = property(lambda self: self.cell.recurrent_initializer)
    bias_initializer = property(lambda self: self.cell.bias_initializer)
    kernel_regularizer = property(lambda self: self.cell.kernel_regularizer)
    recurrent_regularizer = property(lambda self: self.cell.recurrent_regularizer)
    bias_regularizer = property(lambda self: self.cell.bias_regularizer)
    kernel_constraint = property(lambda self: self.cell.kernel_constraint)
    recurrent_constraint = property(lambda self: self.cell.recurrent_constraint)
    bias_constraint = property(lambda self: self.cell.bias_constraint)
    dropout = property(lambda self: self.cell.dropout)
    recurrent_dropout = property(lambda self: self.cell.recurrent_dropout)
    seed = property(lambda self: self.cell.seed)
    kernel = property(lambda self: self.cell.kernel)
    recurrent_kernel = property(lambda self: self.cell.recurrent_kernel)
    bias = property(lambda self: self.cell.bias)

    def build(self, sequences_shape, initial_state_shape=None):
        shape = check_sequences_shape(sequences_shape, self.name)
        self._check_unroll(shape)
        if not self.cell.built:
            self.cell.build((shape[0], shape[2]))
            self.cell.built = True
        if self.stateful:
            if shape[0] is None:
                raise ValueError(
                    f"A stateful layer ('{self.name}') needs a fixed batch size; "
                    f"received sequences shape {shape}. Pass batch_size=... to "
                    "keras.Input (and the same batch size to fit)."
                )
            self._create_state_variables(shape[0])

    def _check_unroll(self, shape):
        if self.unroll and shape[1] is None:
            raise ValueError(
                f"Layer '{self.name}' has unroll=True but the number of timesteps "
                f"is unknown (sequences shape {shape}). Give a fixed length, e.g. "
                "keras.Input((100, 3)), or use unroll=False."
            )

    @no_automatic_dependency_tracking
    def _create_state_variables(self, batch_size):
        self.states = [
            keras.Variable(
                ops.zeros((batch_size, self.units)),
                trainable=False,
                dtype=self.variable_dtype,
                name="rnn_state",
            )
        ]

    def reset_state(self):
        """Sets the carried state of a stateful layer back to zeros."""
        if self.states is not None:
            for state in self.states:
                state.assign(ops.zeros_like(state.value))

    def reset_states(self):
        # Alias kept for code written for SimpleRNN.
        self.reset_state()

    def _standardize_initial_state(self, initial_state, batch_size):
        if isinstance(initial_state, (list, tuple)):
            if len(initial_state) != 1:
                raise ValueError(
                    f"Layer '{self.name}' has one state; received {len(initial_state)} "
                    "initial states. Pass one tensor of shape (batch, units)."
                )
            initial_state = initial_state[0]
        initial_state = ops.convert_to_tensor(initial_state)
        shape = tuple(initial_state.shape)
        expected = (batch_size, self.units)
        if (
            len(shape) != 2
            or (shape[1] is not None and shape[1] != self.units)
            or (shape[0] is not None and isinstance(batch_size, int) and shape[0] != batch_size)
        ):
            raise ValueError(
                f"Layer '{self.name}' expects `initial_state` of shape {expected} "
                f"(batch, units); received shape {shape}. Pass one state per "
                f"sequence with {self.units} units."
            )
        return ops.cast(initial_state, self.compute_dtype)

    def _initial_state(self, sequences, initial_state):
        """The state before the first step: given, carried over, or zeros."""
        if initial_state is not None:
            return self._standardize_initial_state(initial_state, sequences.shape[0])
        if self.stateful:
            return ops.cast(self.states[0].value, self.compute_dtype)
        batch_size = sequences.shape[0]
        if batch_size is None:
            batch_size = ops.shape(sequences)[0]
        return ops.zeros((batch_size, self.units), dtype=self.compute_dtype)

    def _apply_dropout(self, sequences, initial_state, training):
        """`(sequences, state_dropout_mask)`: the inputs with their dropout
        applied, and the mask of the state (None without recurrent dropout).
        One mask per sequence, the same at every step, as SimpleRNN."""
        cell = self.cell
        if training and cell.dropout > 0:
            input_mask = keras.random.dropout(
                ops.ones_like(sequences[:, 0, :]),
                rate=cell.dropout,
                seed=cell.seed_generator,
            )
            sequences = sequences * ops.expand_dims(input_mask, 1)
        state_dropout_mask = None
        if training and cell.recurrent_dropout > 0:
            state_dropout_mask = keras.random.dropout(
                ops.ones_like(initial_state),
                rate=cell.recurrent_dropout,
                seed=cell.seed_generator,
            )
        return sequences, state_dropout_mask

    def _project_inputs(self, sequences, features):
        """x_t·U + b of all steps in one product, time-major `(T, B, H)`, in
        processing order."""
        cell = self.cell
        # Transpose whichever of x (D wide) and x·U (H wide) is smaller.
        if features <= self.units:
            projected = ops.matmul(ops.transpose(sequences, (1, 0, 2)), cell.kernel)
        else:
            projected = ops.transpose(ops.matmul(sequences, cell.kernel), (1, 0, 2))
        if cell.bias is not None:
            projected = projected + cell.bias
        if self.go_backwards:
            projected = ops.flip(projected, axis=0)
        return projected

    def _step_mask(self, mask):
        """The `(batch, timesteps)` mask as a time-major `(T, B, 1)` boolean,
        in processing order; None without mask."""
        if mask is None:
            return None
        step_mask = ops.expand_dims(ops.transpose(ops.cast(mask, "bool")), -1)
        if self.go_backwards:
            step_mask = ops.flip(step_mask, axis=0)
        return step_mask

    def _layer_output(self, states, final_state, step_mask):
        """The layer's output from the time-major states (or, without
        `return_sequences`, the final state).

        At a masked step the output is zeros with `zero_output_for_mask`;
        otherwise, as in SimpleRNN, the output of the last unmasked step,
        which is the carried state once any step was unmasked and zeros
        before that."""
        if self.return_sequences:
            outputs = states
            if step_mask is not None:
                if self.zero_output_for_mask:
                    keep = step_mask
                else:
                    keep = ops.cumsum(ops.cast(step_mask, "int32"), axis=0) > 0
                outputs = ops.where(keep, outputs, ops.zeros_like(outputs))
            return ops.transpose(outputs, (1, 0, 2))
        output = final_state
        if step_mask is not None:
            if self.zero_output_for_mask:
                keep = step_mask[-1]
            else:
                keep = ops.any(step_mask, axis=0)
            output = ops.where(keep, output, ops.zeros_like(output))
        return output

    def call(self, sequences, initial_state=None, mask=None, training=False):
        shape = check_sequences_shape(sequences.shape, self.name)
        self._check_unroll(shape)
        initial_state = self._initial_state(sequences, initial_state)
        sequences, state_dropout_mask = self._apply_dropout(sequences, initial_state, training)
        projected = self._project_inputs(sequences, features=shape[2])
        step_mask = self._step_mask(mask)

        # Without return_sequences only the final state is needed (the last
        # output is derived from it), which makes the backward pass lighter.
        states = run_recurrence(
            projected,
            initial_state,
            self.cell.recurrent_kernel,
            self.cell.activation,
            step_mask=step_mask,
            state_dropout_mask=state_dropout_mask,
            unroll=self.unroll,
            return_all=self.return_sequences,
        )
        final_state = states[-1] if self.return_sequences else states
        output = self._layer_output(states, final_state, step_mask)

        if self.stateful:
            self.states[0].assign(ops.cast(final_state, self.states[0].dtype))
        if self.return_state:
            return output, final_state
        return output

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch_size, timesteps = sequences_shape[0], sequences_shape[1]
        if self.return_sequences:
            output_shape = (batch_size, timesteps, self.units)
        else:
            output_shape = (batch_size, self.units)
        if self.return_state:
            return output_shape, (batch_size, self.units)
        return output_shape

    def compute_mask(self, sequences, mask=None):
        return output_mask(mask, self.return_sequences, self.return_state)

    def get_config(self):
        cell_config = self.cell.get_config()
        config = {
            key: cell_config[key]
            for key in (
                "units",
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
                "seed",
            )
        }
        config.update(
            activity_regularizer=keras.regularizers.serialize(self.activity_regularizer),
            return_sequences=self.return_sequences,
            return_state=self.return_state,
            go_backwards=self.go_backwards,
            stateful=self.stateful,
            unroll=self.unroll,
            zero_output_for_mask=self.zero_output_for_mask,
        )
        return {**super().get_config(), **config}
