"""The probes' measurements, as pure functions checked against float64 NumPy references.

- The two-weight network: `one_unit_rnn_states` and `one_unit_rnn_loss_surface`, the
  one-unit RNN h_t = act(u x_t + w h_{t-1} + b) in float64 NumPy, vectorised over a grid
  of (u, w).
- Gradient flow: `state_gradient_norms` (the norm of d loss_T / d h_t for every step t,
  with the model's own cells unrolled and differentiated by the Keras backend, TensorFlow
  or JAX), `fit_decay_factor` (the per-step factor by which it shrinks),
  `largest_singular_value` and `activation_derivative_bound` (for the bound
  max|act'| * sigma_max(W)).
- `find_recurrent_layers` / `recurrent_matrices`: the recurrent stack of a Keras model.
"""

import copy
import math

import keras
import numpy as np

_ACTIVATION_DERIVATIVE_MAX = {
    "linear": 1.0,
    "tanh": 1.0,
    "relu": 1.0,
    "sigmoid": 0.25,
    "hard_sigmoid": 1.0 / 6.0,
    "softsign": 1.0,
    "elu": 1.0,
    "selu": 1.0507009873554805 * 1.6732632423543772,
    "leaky_relu": 1.0,
}


def activation_name(activation):
    """Returns the Keras name of an activation (`None` counts as "linear").

    Args:
        activation: a string, a Keras activation function, or `None`.

    Returns:
        A string such as `"tanh"` or `"linear"`.
    """
    if activation is None:
        return "linear"
    if isinstance(activation, str):
        return activation
    return keras.activations.serialize(activation)


def activation_derivative_bound(activation):
    """Returns max over z of |act'(z)|, or NaN when it is not known.

    Args:
        activation: a string, a Keras activation function, or `None` (linear).

    Returns:
        A float: 1.0 for tanh, linear and relu; 0.25 for sigmoid; NaN otherwise.
    """
    return _ACTIVATION_DERIVATIVE_MAX.get(activation_name(activation), math.nan)


def largest_singular_value(matrix):
    """Returns sigma_max of a matrix (the spectral norm), in float64.

    Args:
        matrix: array-like of shape (m, n).

    Returns:
        A Python float.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.size == 0:
        return math.nan
    return float(np.linalg.svd(matrix, compute_uv=False)[0])


def fit_decay_factor(distances, norms, *, min_norm=1e-30):
    """Fits the per-step factor by which a gradient norm shrinks with distance.

    Fits `log(norm) = a + distance * log(factor)` by least squares and returns `factor`:
    below 1 the gradient vanishes geometrically, above 1 it explodes. Norms that are not
    finite or below `min_norm` (float32 underflow) are left out of the fit.

    Args:
        distances: 1-D array of distances (steps between h_t and the loss).
        norms: 1-D array of gradient norms, same length.
        min_norm: smallest norm used in the fit.

    Returns:
        The fitted factor (a float), or NaN when fewer than two points are usable.

    Example:

    >>> fit_decay_factor([0, 1, 2, 3], [1.0, 0.5, 0.25, 0.125])
    0.5
    """
    distances = np.asarray(distances, dtype=np.float64)
    norms = np.asarray(norms, dtype=np.float64)
    if distances.shape != norms.shape or distances.ndim != 1:
        raise ValueError(
            "distances and norms must be 1-D arrays of the same length; got shapes "
            f"{distances.shape} and {norms.shape}."
        )
    usable = np.isfinite(norms) & (norms > min_norm)
    if np.count_nonzero(usable) < 2 or np.ptp(distances[usable]) == 0:
        return math.nan
    slope, _ = np.polyfit(distances[usable], np.log(norms[usable]), deg=1)
    return round(float(np.exp(slope)), 12)


def one_unit_rnn_states(inputs, u, w, *, activation="linear", bias=0.0):
    """Runs the one-unit RNN h_t = act(u * x_t + w * h_{t-1} + bias) for many (u, w) at once.

    Float64 NumPy, vectorized over a grid of weights: this is the model of the
    `two_weights` experiment (h_0 = 0).

    Args:
        inputs: array (n, T) or (n, T, 1) of inputs x_t.
        u: array of input weights, any shape S.
        w: array of recurrent weights, the same shape S.
        activation: `"linear"` (or `None`) or `"tanh"`.
        bias: a scalar added inside the activation.

    Returns:
        float64 array of shape S + (n, T): the states h_1 ... h_T.
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    if inputs.ndim == 3:
        if inputs.shape[-1] != 1:
            raise ValueError(
                "The two-weight network takes one input feature; got inputs of shape "
                f"{inputs.shape}. Use a task with input_dim 1 (e.g. ewma)."
            )
        inputs = inputs[..., 0]
    if inputs.ndim != 2:
        raise ValueError(f"inputs must have shape (n, T) or (n, T, 1); got {inputs.shape}.")
    u = np.asarray(u, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    if u.shape != w.shape:
        raise ValueError(f"u and w must have the same shape; got {u.shape} and {w.shape}.")
    name = activation_name(activation)
    if name not in ("linear", "tanh"):
        raise ValueError(f"activation must be 'linear' or 'tanh'; got {name!r}.")
    act = np.tanh if name == "tanh" else (lambda z: z)
    u_b = u[..., None]
    w_b = w[..., None]
    n, steps = inputs.shape
    states = np.empty(u.shape + (n, steps), dtype=np.float64)
    h = np.zeros(u.shape + (n,), dtype=np.float64)
    # Linear states grow like w**T for |w| > 1; inf/nan there only means "huge loss".
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            h = act(u_b * inputs[:, t] + w_b * h + bias)
            states[..., t] = h
    return states


def one_unit_rnn_loss_surface(
    inputs,
    targets,
    u_values,
    w_values,
    *,
    activation="linear",
    bias=0.0,
    head_scale=1.0,
    head_bias=0.0,
    step_weights=None,
    per_step=True,
):
    """Mean squared error of the one-unit RNN over a grid of (u, w).

    Prediction y_hat = head_scale * h + head_bias (identity head by default), error
    averaged over examples and steps like Keras's `MeanSquaredError` with a per-step
    `sample_weight`: sum(weight * error**2) / (n * T). Per-sequence tasks use h_T only.

    Args:
        inputs: array (n, T) or (n, T, 1).
        targets: array (n, T) / (n, T, 1) for per-step tasks, (n,) / (n, 1) otherwise.
        u_values: 1-D array of input weights (the x-axis of the surface).
        w_values: 1-D array of recurrent weights (the y-axis).
        activation: `"linear"` or `"tanh"`.
        bias: recurrent-layer bias, fixed.
        head_scale, head_bias: a fixed linear read-out after the unit.
        step_weights: optional array (T,) of loss weights per step (per-step tasks).
        per_step: whether the loss is taken at every step.

    Returns:
        float64 array of shape (len(w_values), len(u_values)); +inf where the states overflow.
    """
    u_grid, w_grid = np.meshgrid(
        np.asarray(u_values, dtype=np.float64), np.asarray(w_values, dtype=np.float64)
    )
    states = one_unit_rnn_states(inputs, u_grid, w_grid, activation=activation, bias=bias)
    targets = np.asarray(targets, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        predictions = head_scale * states + head_bias
        if per_step:
            targets = targets.reshape(targets.shape[0], -1)
            squared = (predictions - targets) ** 2
            if step_weights is not None:
                squared = squared * np.asarray(step_weights, dtype=np.float64)
            loss = squared.mean(axis=(-2, -1))
        else:
            targets = targets.reshape(-1)
            loss = ((predictions[..., -1] - targets) ** 2).mean(axis=-1)
    return np.where(np.isfinite(loss), loss, np.inf)


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
    """Returns the recurrent kernel of each recurrent layer as a NumPy array."""
    _, recurrent, _ = find_recurrent_layers(model)
    return [
        np.asarray(keras.ops.convert_to_numpy(cell_of(layer).recurrent_kernel))
        for layer in recurrent
    ]


def cell_of(layer):
    return getattr(layer, "cell", layer)


def _initial_states(layer, batch_size):
    cell = cell_of(layer)
    if hasattr(cell, "get_initial_state"):
        states = cell.get_initial_state(batch_size=batch_size)
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


def _summed_loss(loss):
    # Sum over the batch, so the gradient for one example is that example's own gradient.
    summed = copy.copy(loss)
    summed.reduction = "sum"
    return summed


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
    _check_gradient_backend()
    before, recurrent, after = find_recurrent_layers(model)
    x = keras.ops.convert_to_tensor(np.asarray(inputs, dtype=np.float32))
    for layer in before:
        x = layer(x, training=False)
    batch_size, steps = int(x.shape[0]), int(x.shape[1])
    targets = np.asarray(targets)
    last_targets = keras.ops.convert_to_tensor(targets[:, -1] if per_step else targets)
    summed = _summed_loss(loss)

    # The gradient is taken with respect to zero "perturbations" added to every state, not
    # with respect to the state tensors themselves: an LSTM computes h_t from c_t within the
    # same step, so the derivative w.r.t. the tensor c_t would also count the path
    # c_t -> h_t. A perturbation added after the step gives the adjoint of the state as
    # the next step sees it (the same as the gradient w.r.t. an initial_state). Every Keras
    # cell's output is its first state, so the perturbed first state is passed upward.
    initial = [
        [keras.ops.convert_to_tensor(s) for s in _initial_states(layer, batch_size)]
        for layer in recurrent
    ]
    perturbations = [
        [[keras.ops.zeros_like(s) for s in layer_states] for layer_states in initial]
        for _ in range(steps + 1)
    ]

    def last_step_loss(perturbations):
        states = [[s + p for s, p in zip(ls, lp)] for ls, lp in zip(initial, perturbations[0])]
        for t in range(steps):
            output = x[:, t]
            new_states = []
            for layer, layer_states, layer_perturbations in zip(
                recurrent, states, perturbations[t + 1]
            ):
                _, layer_new = _step(layer, output, layer_states)
                layer_new = [s + p for s, p in zip(layer_new, layer_perturbations)]
                output = layer_new[0]
                new_states.append(layer_new)
            states = new_states
        prediction = output[:, None, :] if per_step else output
        for layer in after:
            prediction = layer(prediction, training=False)
        if per_step:
            prediction = prediction[:, 0]
        return summed(last_targets, prediction)

    gradients = _gradients(last_step_loss, perturbations)
    squared = np.zeros((batch_size, steps + 1), dtype=np.float64)
    for t, step_gradients in enumerate(gradients):
        for layer_gradients in step_gradients:
            for gradient in layer_gradients:
                g = np.asarray(keras.ops.convert_to_numpy(gradient), dtype=np.float64)
                g = g.reshape(batch_size, -1)
                squared[:, t] += np.sum(g * g, axis=1)
    # Column t holds h_t; reverse so that column d holds distance d = T - t.
    return np.sqrt(squared)[:, ::-1].copy()


_GRADIENT_BACKENDS = ("tensorflow", "jax")


def _check_gradient_backend():
    backend = keras.backend.backend()
    if backend not in _GRADIENT_BACKENDS:
        raise ValueError(
            f"state_gradient_norms (the gradient_flow probe) supports the Keras backends "
            f"{list(_GRADIENT_BACKENDS)}; Keras runs on {backend!r}. Set KERAS_BACKEND to "
            "one of those before Keras is imported, or leave the probe out of the config."
        )


def _gradients(function, arguments):
    """The gradient of the scalar `function(arguments)` w.r.t. every tensor in `arguments`.

    `arguments` is a nested list of tensors; the result has the same structure, with zeros
    for a tensor the value does not depend on. Only this function depends on the backend
    (TensorFlow or JAX: `_check_gradient_backend`).
    """
    if keras.backend.backend() == "jax":
        import jax

        # Keras layers called inside the traced function read the model's variables as
        # constants, so this differentiates with respect to `arguments` only.
        return jax.grad(function)(arguments)
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(arguments)
        value = function(arguments)
    return tape.gradient(value, arguments, unconnected_gradients="zero")
