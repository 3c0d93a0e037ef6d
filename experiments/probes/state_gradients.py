"""The norm of the loss gradient with respect to every recurrent state of a Keras model.

`state_gradient_norms` unrolls the model's recurrent stack step by step with its own
cells and differentiates the loss of the last step with the Keras backend's autodiff
(TensorFlow or JAX); `find_recurrent_layers` and `recurrent_matrices` find that stack.
"""

import copy

import keras
import numpy as np

from experiments.probes import autodiff


def find_recurrent_layers(model):
    """Splits a model into the layers before, inside and after its recurrent stack.

    A recurrent layer is one with a Keras `cell` (SimpleRNN, LSTM, GRU, VanillaRNN) or a
    stack exposing `rnn_layers` (DeepVanillaRNN), or a layer with `kernel`,
    `recurrent_kernel` and `activation` attributes (a plain vanilla RNN).

    Args:
        model: a built Keras `Sequential` or functional model whose layers form a chain.

    Returns:
        `(before, recurrent, after)`: three lists of layers; `recurrent` lists the single
        recurrent layers in order (a stack is expanded).

    Raises:
        ValueError: when the model has no recurrent layer.
    """
    before, recurrent, after = [], [], []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        sublayers = _recurrent_sublayers(layer)
        if sublayers:
            if after:
                raise ValueError(
                    "The probes need one contiguous recurrent stack; layer "
                    f"{layer.name!r} comes after non-recurrent layers {[a.name for a in after]}."
                )
            recurrent.extend(sublayers)
        elif recurrent:
            after.append(layer)
        else:
            before.append(layer)
    if not recurrent:
        raise ValueError(
            f"Model {model.name!r} has no recurrent layer "
            f"(layers: {[layer.name for layer in model.layers]}); "
            "the probes need a VanillaRNN, DeepVanillaRNN, SimpleRNN, LSTM or GRU."
        )
    return before, recurrent, after


def _recurrent_sublayers(layer):
    if hasattr(layer, "rnn_layers"):
        return list(layer.rnn_layers)
    if hasattr(layer, "cell") or (hasattr(layer, "recurrent_kernel") and hasattr(layer, "kernel")):
        return [layer]
    return []


def recurrent_matrices(model):
    """Returns the recurrent kernel of each recurrent layer that has one, as a NumPy array
    (a cell of the user's own may have none)."""
    _, recurrent, _ = find_recurrent_layers(model)
    return [
        np.asarray(keras.ops.convert_to_numpy(cell_of(layer).recurrent_kernel))
        for layer in recurrent
        if getattr(cell_of(layer), "recurrent_kernel", None) is not None
    ]


def cell_of(layer):
    return getattr(layer, "cell", layer)


def _initial_states(layer, batch_size):
    cell = cell_of(layer)
    if hasattr(cell, "get_initial_state"):
        states = cell.get_initial_state(batch_size=batch_size)
    elif hasattr(cell, "state_size"):
        sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
        states = [keras.ops.zeros((batch_size, int(size))) for size in sizes]
    else:
        units = int(keras.ops.shape(cell.recurrent_kernel)[0])
        states = [keras.ops.zeros((batch_size, units))]
    if not isinstance(states, (list, tuple)):
        states = [states]
    return list(states)


def _step(layer, inputs, states):
    cell = cell_of(layer)
    if cell is not layer or hasattr(cell, "state_size"):
        output, new_states = cell(inputs, states, training=False)
    else:
        # A layer that only exposes its weights: h_t = act(x_t K + h_{t-1} R + b).
        z = keras.ops.matmul(inputs, cell.kernel) + keras.ops.matmul(
            states[0], cell.recurrent_kernel
        )
        if getattr(cell, "bias", None) is not None:
            z = z + cell.bias
        activation = getattr(cell, "activation", None)
        output = activation(z) if activation is not None else z
        new_states = [output]
    if not isinstance(new_states, (list, tuple)):
        new_states = [new_states]
    return output, list(new_states)


def state_gradient_norms(model, inputs, targets, loss, *, per_step):
    """Norm of d loss_T / d state_t for every step t of a recurrent model.

    The model's recurrent stack is unrolled step by step with its own cells (so the
    gradient flows exactly as in training) and differentiated with the Keras backend's own
    autodiff (`tf.GradientTape` on TensorFlow, `jax.grad` on JAX); the loss is the task loss
    of the prediction at the LAST step only, and the gradient is taken with respect to the
    full recurrent state at each step (h for a vanilla RNN or GRU, (h, c) for an LSTM, all
    layers concatenated for a stack). Each example's loss gives that example's gradient
    (the batch loss is a sum, not a mean).

    Args:
        model: a built Keras model: optional pre-layers, a recurrent stack, a head.
        inputs: float array (n, T, D).
        targets: the task's targets for these inputs.
        loss: a Keras loss object (the task's loss).
        per_step: whether the task predicts at every step (the head then sees one step).

    Returns:
        float64 array (n, T + 1): column d is the norm at distance d = T - t between the
        state h_t and the loss step (d = T is the initial state h_0).

    Raises:
        ValueError: on a Keras backend other than TensorFlow or JAX.
    """
    autodiff.check_backend("state_gradient_norms (the gradient_flow probe)")
    before, recurrent, after = find_recurrent_layers(model)
    x = keras.ops.convert_to_tensor(np.asarray(inputs, dtype=np.float32))
    for layer in before:
        x = layer(x, training=False)
    batch_size, steps = int(x.shape[0]), int(x.shape[1])
    targets = np.asarray(targets)
    last_targets = keras.ops.convert_to_tensor(targets[:, -1] if per_step else targets)
    initial = [
        [keras.ops.convert_to_tensor(s) for s in _initial_states(layer, batch_size)]
        for layer in recurrent
    ]
    perturbations = [
        [[keras.ops.zeros_like(s) for s in layer_states] for layer_states in initial]
        for _ in range(steps + 1)
    ]
    unrolled = _UnrolledLoss(x, recurrent, after, initial, last_targets, loss, per_step)
    gradients = autodiff.gradients(unrolled, perturbations)
    return _distance_norms(gradients, batch_size, steps)


class _UnrolledLoss:
    """The loss at the last step as a function of zero perturbations added to every state.

    The gradient is taken with respect to these perturbations, not the state tensors
    themselves: an LSTM computes h_t from c_t within the same step, so the derivative
    w.r.t. the tensor c_t would also count the path c_t -> h_t. A perturbation added after
    the step gives the adjoint of the state as the next step sees it (the same as the
    gradient w.r.t. an initial_state). Every Keras cell's output is its first state, so
    the perturbed first state is passed upward. The loss is summed over the batch, so each
    example's gradient is its own.
    """

    def __init__(self, x, recurrent, after, initial, targets, loss, per_step):
        self.x, self.recurrent, self.after = x, recurrent, after
        self.initial, self.targets, self.per_step = initial, targets, per_step
        self.summed = copy.copy(loss)
        self.summed.reduction = "sum"

    def __call__(self, perturbations):
        states = [[s + p for s, p in zip(ls, lp)] for ls, lp in zip(self.initial, perturbations[0])]
        for t in range(int(self.x.shape[1])):
            output, states = self._step_all(self.x[:, t], states, perturbations[t + 1])
        prediction = output[:, None, :] if self.per_step else output
        for layer in self.after:
            prediction = layer(prediction, training=False)
        if self.per_step:
            prediction = prediction[:, 0]
        return self.summed(self.targets, prediction)

    def _step_all(self, output, states, step_perturbations):
        new_states = []
        for layer, layer_states, layer_perturbations in zip(
            self.recurrent, states, step_perturbations
        ):
            _, layer_new = _step(layer, output, layer_states)
            layer_new = [s + p for s, p in zip(layer_new, layer_perturbations)]
            output = layer_new[0]
            new_states.append(layer_new)
        return output, new_states


def _distance_norms(gradients, batch_size, steps):
    """Per example, the norm of every step's state gradient, by distance from the end."""
    squared = np.zeros((batch_size, steps + 1), dtype=np.float64)
    for t, step_gradients in enumerate(gradients):
        for layer_gradients in step_gradients:
            for gradient in layer_gradients:
                g = np.asarray(keras.ops.convert_to_numpy(gradient), dtype=np.float64)
                g = g.reshape(batch_size, -1)
                squared[:, t] += np.sum(g * g, axis=1)
    # Column t holds h_t; reverse so that column d holds distance d = T - t.
    return np.sqrt(squared)[:, ::-1].copy()
