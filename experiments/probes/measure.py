"""The probes' measurements on arrays, as pure functions checked against float64 references.

- The two-weight network: `one_unit_rnn_states` and `one_unit_rnn_loss_surface`, the
  one-unit RNN h_t = act(u x_t + w h_{t-1} + b) in float64 NumPy, vectorised over a grid
  of (u, w).
- Gradient flow: `fit_decay_factor` (the per-step factor by which the gradient norm
  shrinks), `largest_singular_value` and `activation_derivative_bound` (for the bound
  max|act'| * sigma_max(W)). The norms themselves come from `probes.state_gradients`.
- `task_batch`: the fixed batch every probe evaluates on.
"""

import math

import keras
import numpy as np

# Seed of the fixed batch every probe evaluates on: the same sequences at initialization
# and after training, so the two measurements differ only by the weights.
PROBE_BATCH_SEED = 20_240_601


def task_batch(task, size):
    """The fixed batch `(inputs, targets)` of `size` sequences every probe evaluates on."""
    inputs, targets = task.sample(size, seed=PROBE_BATCH_SEED)[:2]
    return inputs, targets


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
