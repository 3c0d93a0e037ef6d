"""Probes: Keras callbacks that look inside a recurrent model while it trains.

Two probes explain *why* a vanilla RNN forgets:

- `weights` (the `two_weights` experiment): the course's univariate network has exactly
  two weights, the input weight `u` and the recurrent weight `w`. The probe logs both every
  epoch and, when training ends, draws the task loss over the whole (u, w) plane with the
  training trajectory on top. The surface is computed by a NumPy float64 implementation of
  the one-unit RNN, so it is exact and independent of Keras.
- `gradient_flow` (the `gradient_flow` experiment): the norm of the gradient of the loss
  taken at the last step with respect to the recurrent state h_t, as a function of the
  distance T - t, at initialization and after training. A per-step decay factor is fitted
  (slope of log-norm against distance) and set beside the largest singular value of the
  recurrent matrix W and the bound max|act'| * sigma_max(W): for a vanilla RNN the gradient
  can shrink no slower than that bound to the power of the distance.

The runner builds the callbacks with `make_probes(names, task, model_spec, run_logger)`.
The math lives in small pure functions (`one_unit_rnn_loss_surface`, `state_gradient_norms`,
`fit_decay_factor`, ...) that the tests compare with float64 NumPy references.
"""

import copy
import io
import math

import keras
import numpy as np

PROBE_NAMES = ("weights", "gradient_flow")

# Seed of the fixed batch every probe evaluates on: the same sequences at initialization
# and after training, so the two measurements differ only by the weights.
PROBE_BATCH_SEED = 20_240_601

# max |act'(z)| over z, for the bound |dh_t/dh_{t-1}| <= max|act'| * sigma_max(W).
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


# --------------------------------------------------------------------------------------
# Pure math
# --------------------------------------------------------------------------------------


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
                    f"{layer.name!r} comes after non-recurrent layers {[l.name for l in after]}."
                )
            recurrent.extend(sublayers)
        elif recurrent:
            after.append(layer)
        else:
            before.append(layer)
    if not recurrent:
        raise ValueError(
            f"Model {model.name!r} has no recurrent layer (layers: {[l.name for l in model.layers]}); "
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
        np.asarray(keras.ops.convert_to_numpy(_cell_of(layer).recurrent_kernel))
        for layer in recurrent
    ]


def _cell_of(layer):
    return getattr(layer, "cell", layer)


def _initial_states(layer, batch_size):
    cell = _cell_of(layer)
    if hasattr(cell, "get_initial_state"):
        states = cell.get_initial_state(batch_size=batch_size)
    else:
        units = int(keras.ops.shape(cell.recurrent_kernel)[0])
        states = [keras.ops.zeros((batch_size, units))]
    if not isinstance(states, (list, tuple)):
        states = [states]
    return list(states)


def _step(layer, inputs, states):
    cell = _cell_of(layer)
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
    """Norm of d loss_T / d state_t for every step t of a recurrent model (TensorFlow).

    The model's recurrent stack is unrolled step by step with its own cells (so the
    gradient flows exactly as in training) inside a `tf.GradientTape`; the loss is the
    task loss of the prediction at the LAST step only, and the gradient is taken with
    respect to the full recurrent state at each step (h for a vanilla RNN or GRU, (h, c)
    for an LSTM, all layers concatenated for a stack). Each example's loss gives that
    example's gradient (the batch loss is a sum, not a mean).

    Args:
        model: a built Keras model: optional pre-layers, a recurrent stack, a head.
        inputs: float array (n, T, D).
        targets: the task's targets for these inputs.
        loss: a Keras loss object (the task's loss).
        per_step: whether the task predicts at every step (the head then sees one step).

    Returns:
        float64 array (n, T + 1): column d is the norm at distance d = T - t between the
        state h_t and the loss step (d = T is the initial state h_0).
    """
    import tensorflow as tf  # The probes need TensorFlow's tape; the layers do not.

    before, recurrent, after = find_recurrent_layers(model)
    x = tf.convert_to_tensor(np.asarray(inputs, dtype=np.float32))
    for layer in before:
        x = layer(x, training=False)
    batch_size, steps = int(x.shape[0]), int(x.shape[1])
    targets = np.asarray(targets)
    last_targets = targets[:, -1] if per_step else targets
    summed = _summed_loss(loss)

    # The gradient is taken with respect to zero "perturbations" added to every state, not
    # with respect to the state tensors themselves: an LSTM computes h_t from c_t within the
    # same step, so the tape's derivative w.r.t. the tensor c_t would also count the path
    # c_t -> h_t. A perturbation added after the step gives the adjoint of the state as
    # the next step sees it (the same as the gradient w.r.t. an initial_state). Every Keras
    # cell's output is its first state, so the perturbed first state is passed upward.
    initial = [[tf.convert_to_tensor(s) for s in _initial_states(l, batch_size)] for l in recurrent]
    perturbations = [
        [[tf.zeros_like(s) for s in layer_states] for layer_states in initial]
        for _ in range(steps + 1)
    ]
    with tf.GradientTape() as tape:
        tape.watch(perturbations)
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
        loss_value = summed(tf.convert_to_tensor(last_targets), prediction)

    gradients = tape.gradient(loss_value, perturbations, unconnected_gradients="zero")
    squared = np.zeros((batch_size, steps + 1), dtype=np.float64)
    for t, step_gradients in enumerate(gradients):
        for layer_gradients in step_gradients:
            for gradient in layer_gradients:
                g = np.asarray(gradient, dtype=np.float64).reshape(batch_size, -1)
                squared[:, t] += np.sum(g * g, axis=1)
    # Column t holds h_t; reverse so that column d holds distance d = T - t.
    return np.sqrt(squared)[:, ::-1].copy()


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------


def figure_to_png(figure):
    """Renders a matplotlib figure to PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def write_tensorboard_image(figure, logdir, tag, step=0):
    """Writes a matplotlib figure as a TensorBoard image summary under `logdir`."""
    import tensorflow as tf

    image = tf.image.decode_png(figure_to_png(figure), channels=4)[None]
    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default():
        tf.summary.image(tag, image, step=step)
    writer.flush()
    writer.close()


def plot_loss_surface(u_values, w_values, surface, trajectory, *, optimum=None, title=""):
    """Draws log10(loss) over the (u, w) plane with the training trajectory on top.

    Args:
        u_values, w_values: 1-D grids (x and y axes).
        surface: array (len(w_values), len(u_values)) of losses.
        trajectory: array (k, 2) of (u, w) points, the first at initialization.
        optimum: optional (u, w) point to mark (e.g. (alpha, 1 - alpha) for ewma).
        title: figure title.

    Returns:
        A matplotlib `Figure`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    surface = np.asarray(surface, dtype=np.float64)
    finite = surface[np.isfinite(surface)]
    floor = max(finite.min(), 1e-12) if finite.size else 1e-12
    # Cap the colour scale at the 75th percentile: the exploding corners (|w| > 1) are
    # orders of magnitude above the rest and would flatten the valley into one colour.
    cap = np.percentile(np.log10(np.clip(finite, floor, None)), 75) if finite.size else 1.0
    log_surface = np.clip(
        np.log10(np.clip(np.nan_to_num(surface, posinf=1e300), floor, None)), None, cap
    )
    figure, axes = plt.subplots(figsize=(6.4, 5.2))
    contour = axes.contourf(u_values, w_values, log_surface, levels=30, cmap="viridis")
    figure.colorbar(contour, ax=axes, label="log10 loss (capped)")
    trajectory = np.asarray(trajectory, dtype=np.float64).reshape(-1, 2)
    if optimum is not None:
        axes.plot(
            *optimum,
            "*",
            markerfacecolor="none",
            markeredgecolor="magenta",
            markersize=18,
            markeredgewidth=1.5,
            label="(alpha, 1 - alpha)",
        )
    axes.plot(
        trajectory[:, 0],
        trajectory[:, 1],
        "-o",
        color="white",
        markersize=3,
        label="after each epoch",
    )
    axes.plot(*trajectory[0], "s", color="orange", markersize=8, label="initial")
    axes.plot(*trajectory[-1], "o", color="red", markersize=6, label="trained")
    axes.set_xlabel("u (input weight)")
    axes.set_ylabel("w (recurrent weight)")
    axes.set_title(title)
    axes.legend(loc="best", fontsize=8)
    figure.tight_layout()
    return figure


def plot_gradient_flow(curves, *, title=""):
    """Draws gradient norm against distance (log y) for named curves.

    Args:
        curves: dict label -> (distances, norms).
        title: figure title.

    Returns:
        A matplotlib `Figure`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    for label, (distances, norms) in curves.items():
        norms = np.asarray(norms, dtype=np.float64)
        axes.plot(distances, np.where(norms > 0, norms, np.nan), label=label)
    axes.set_yscale("log")
    axes.set_xlabel("distance T - t between the state and the loss step")
    axes.set_ylabel("|d loss / d h_t| (mean over examples)")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    return figure


# --------------------------------------------------------------------------------------
# Callbacks
# --------------------------------------------------------------------------------------


def _log_figure(run_logger, figure, artifact_file, tag):
    import matplotlib.pyplot as plt

    if run_logger is not None:
        run_logger.log_figure(figure, artifact_file)
        tb_dir = getattr(run_logger, "tb_dir", None)
        if tb_dir:
            write_tensorboard_image(figure, tb_dir, tag)
    plt.close(figure)


def _task_batch(task, size):
    sample = task.sample(size, seed=PROBE_BATCH_SEED)
    return sample[0], sample[1]


class WeightsProbe(keras.callbacks.Callback):
    """Logs the two weights (u, w) of a one-unit RNN and draws its loss surface.

    Every epoch: metrics `u` and `w` (step = epoch index, as the runner's metrics); the
    values at initialization as params `u_init`, `w_init`. When training
    ends: the loss over a grid of (u, w) on a fixed batch of the task, computed with the
    float64 NumPy one-unit RNN, drawn with the trajectory (`probes/loss_surface.png`,
    `probes/loss_surface.json`, TensorBoard image `probes/loss_surface`).

    Args:
        task: the grid point's task (input_dim must be 1).
        run_logger: the runner's run logger (or `None` to only keep the trajectory).
        batch_size: number of sequences the surface is evaluated on.
        grid_points: points per axis of the (u, w) grid.
    """

    def __init__(self, task, run_logger, *, batch_size=128, grid_points=41):
        super().__init__()
        if getattr(task, "input_dim", 1) != 1:
            raise ValueError(
                f"The 'weights' probe needs a task with one input feature; {task.name!r} has "
                f"input_dim={task.input_dim}. Use it with the ewma task (two_weights experiment)."
            )
        self.task = task
        self.run_logger = run_logger
        self.batch_size = batch_size
        self.grid_points = grid_points
        self.trajectory = []

    def _weights(self):
        _, recurrent, after = find_recurrent_layers(self.model)
        if len(recurrent) != 1:
            raise ValueError(
                f"The 'weights' probe needs one recurrent layer; got {len(recurrent)}."
            )
        cell = _cell_of(recurrent[0])
        kernel = np.asarray(keras.ops.convert_to_numpy(cell.kernel), dtype=np.float64)
        recurrent_kernel = np.asarray(
            keras.ops.convert_to_numpy(cell.recurrent_kernel), dtype=np.float64
        )
        if kernel.shape != (1, 1) or recurrent_kernel.shape != (1, 1):
            raise ValueError(
                "The 'weights' probe needs a one-unit RNN on one input feature (kernel and "
                f"recurrent_kernel of shape (1, 1)); got {kernel.shape} and {recurrent_kernel.shape}. "
                "Set units: 1 in the model spec."
            )
        bias = getattr(cell, "bias", None)
        bias = 0.0 if bias is None else float(keras.ops.convert_to_numpy(bias).reshape(-1)[0])
        head_scale, head_bias = 1.0, 0.0
        dense = [l for l in after if l.weights]
        if len(dense) > 1:
            raise ValueError(
                "The 'weights' probe supports at most one Dense read-out after the RNN."
            )
        if dense:
            head_scale = float(keras.ops.convert_to_numpy(dense[0].kernel).reshape(-1)[0])
            if getattr(dense[0], "bias", None) is not None:
                head_bias = float(keras.ops.convert_to_numpy(dense[0].bias).reshape(-1)[0])
        return {
            "u": float(kernel[0, 0]),
            "w": float(recurrent_kernel[0, 0]),
            "bias": bias,
            "head_scale": head_scale,
            "head_bias": head_bias,
            "activation": activation_name(getattr(cell, "activation", None)),
        }

    def on_train_begin(self, logs=None):
        weights = self._weights()
        self.trajectory = [(weights["u"], weights["w"])]
        if self.run_logger is not None:
            self.run_logger.log_params({"u_init": weights["u"], "w_init": weights["w"]})

    def on_epoch_end(self, epoch, logs=None):
        weights = self._weights()
        self.trajectory.append((weights["u"], weights["w"]))
        if self.run_logger is not None:
            self.run_logger.log_metrics({"u": weights["u"], "w": weights["w"]}, step=epoch)

    def on_train_end(self, logs=None):
        weights = self._weights()
        inputs, targets = _task_batch(self.task, self.batch_size)
        trajectory = np.asarray(self.trajectory)
        alpha = (getattr(self.task, "params", None) or {}).get("alpha")
        optimum = None if alpha is None else (float(alpha), 1.0 - float(alpha))
        u_values, w_values = _surface_grid(trajectory, optimum, self.grid_points)
        surface = one_unit_rnn_loss_surface(
            inputs,
            targets,
            u_values,
            w_values,
            activation=weights["activation"],
            bias=weights["bias"],
            head_scale=weights["head_scale"],
            head_bias=weights["head_bias"],
            step_weights=getattr(self.task, "step_weights", None),
            per_step=self.task.output.per_step,
        )
        if self.run_logger is None:
            return
        self.run_logger.log_dict(
            {
                "activation": weights["activation"],
                "u_values": u_values.tolist(),
                "w_values": w_values.tolist(),
                "loss": [
                    [v if math.isfinite(v) else None for v in row] for row in surface.tolist()
                ],
                "trajectory": trajectory.tolist(),
                "optimum": optimum,
            },
            "probes/loss_surface.json",
        )
        figure = plot_loss_surface(
            u_values,
            w_values,
            surface,
            trajectory,
            optimum=optimum,
            title=f"{self.task.name}: loss over (u, w), {weights['activation']} unit",
        )
        _log_figure(self.run_logger, figure, "probes/loss_surface.png", "probes/loss_surface")


def _surface_grid(trajectory, optimum, grid_points):
    points = [trajectory]
    if optimum is not None:
        points.append(np.asarray([optimum]))
    points = np.concatenate(points)
    # Always show the stable square |u|, |w| <= 1.2 around the origin, plus wherever training went.
    low = np.minimum(points.min(axis=0), [-0.2, -0.2]) - 0.15
    high = np.maximum(points.max(axis=0), [1.2, 1.2]) + 0.15
    return np.linspace(low[0], high[0], grid_points), np.linspace(low[1], high[1], grid_points)


class GradientFlowProbe(keras.callbacks.Callback):
    """Measures how the loss gradient decays with distance through the recurrent state.

    At the start and at the end of training it computes `state_gradient_norms` on a
    fixed batch and logs:

    - metrics `grad_decay_init` / `grad_decay_trained` (fitted per-step factor),
      `sigma_max_W_init` / `sigma_max_W_trained` (largest singular value of the recurrent
      kernel; the largest over layers for a stack), and for vanilla units
      `decay_bound_init` / `decay_bound_trained` = max|act'| * sigma_max(W);
    - metrics `grad_norm_init` / `grad_norm_trained` with step = distance (at most
      `max_logged_points` distances, spread evenly) so the report can redraw the curves;
    - artifacts `probes/gradient_flow.json` (every distance) and `probes/gradient_flow.png`,
      and the figure as the TensorBoard image `probes/gradient_flow`.

    Args:
        task: the grid point's task.
        model_spec: the grid point's model spec (dict); its `model` names the kind.
        run_logger: the runner's run logger (or `None`: results stay in `self.results`).
        batch_size: number of sequences in the fixed probe batch.
        max_logged_points: how many distances are logged as metrics.
    """

    def __init__(self, task, model_spec, run_logger, *, batch_size=64, max_logged_points=64):
        super().__init__()
        self.task = task
        self.model_spec = dict(model_spec or {})
        self.run_logger = run_logger
        self.batch_size = batch_size
        self.max_logged_points = max_logged_points
        self.results = {}

    def measure(self, when):
        """Measures the gradient flow now and logs it with the suffix `when`."""
        inputs, targets = _task_batch(self.task, self.batch_size)
        norms = state_gradient_norms(
            self.model, inputs, targets, self.task.loss, per_step=self.task.output.per_step
        ).mean(axis=0)
        distances = np.arange(norms.shape[0])
        _, recurrent, _ = find_recurrent_layers(self.model)
        sigma = max(largest_singular_value(m) for m in recurrent_matrices(self.model))
        is_vanilla = all(_is_vanilla(layer) for layer in recurrent)
        derivative_bound = (
            max(
                activation_derivative_bound(getattr(_cell_of(l), "activation", None))
                for l in recurrent
            )
            if is_vanilla
            else math.nan
        )
        result = {
            "distances": distances,
            "norms": norms,
            "decay": fit_decay_factor(distances, norms),
            "sigma_max_W": sigma,
            "decay_bound": derivative_bound * sigma,
        }
        self.results[when] = result
        if self.run_logger is not None:
            metrics = {f"grad_decay_{when}": result["decay"], f"sigma_max_W_{when}": sigma}
            if is_vanilla:
                metrics[f"decay_bound_{when}"] = result["decay_bound"]
            self.run_logger.log_metrics(
                {k: v for k, v in metrics.items() if math.isfinite(v)}, step=0
            )
            for d in _spread(len(distances), self.max_logged_points):
                if math.isfinite(norms[d]):
                    self.run_logger.log_metrics({f"grad_norm_{when}": float(norms[d])}, step=int(d))
        return result

    def on_train_begin(self, logs=None):
        self.measure("init")

    def on_train_end(self, logs=None):
        self.measure("trained")
        if self.run_logger is None:
            return
        self.run_logger.log_dict(
            {
                when: {
                    "distances": r["distances"].tolist(),
                    "norms": [float(v) for v in r["norms"]],
                    "decay": r["decay"],
                    "sigma_max_W": r["sigma_max_W"],
                    "decay_bound": r["decay_bound"],
                }
                for when, r in self.results.items()
            },
            "probes/gradient_flow.json",
        )
        curves = {
            f"{when} (decay {r['decay']:.3f}, sigma_max {r['sigma_max_W']:.3f})": (
                r["distances"],
                r["norms"],
            )
            for when, r in self.results.items()
        }
        kind = self.model_spec.get("model", self.model_spec.get("kind", "model"))
        figure = plot_gradient_flow(
            curves, title=f"{kind} on {self.task.name}, T={self.task.timesteps}"
        )
        _log_figure(self.run_logger, figure, "probes/gradient_flow.png", "probes/gradient_flow")


def _is_vanilla(layer):
    cell = _cell_of(layer)
    # A vanilla cell has one state and a square recurrent kernel; LSTM/GRU kernels are (H, 4H)/(H, 3H).
    shape = tuple(cell.recurrent_kernel.shape)
    return len(shape) == 2 and shape[0] == shape[1]


def _spread(count, limit):
    if count <= limit:
        return list(range(count))
    return sorted(set(np.linspace(0, count - 1, limit).round().astype(int).tolist()))


_PROBES = {
    "weights": lambda task, model_spec, run_logger: WeightsProbe(task, run_logger),
    "gradient_flow": lambda task, model_spec, run_logger: GradientFlowProbe(
        task, model_spec, run_logger
    ),
}


def make_probes(names, task, model_spec, run_logger):
    """Builds the probe callbacks a config asks for.

    Args:
        names: list of probe names from the config's `probes` key (see `PROBE_NAMES`).
        task: the grid point's `datasets` task.
        model_spec: the grid point's model spec (dict).
        run_logger: the runner's run logger (`log_metrics`, `log_params`, `log_dict`,
            `log_figure`, `tb_dir`).

    Returns:
        A list of `keras.callbacks.Callback`, one per name, in order.

    Example:

    >>> callbacks = make_probes(["gradient_flow"], task, {"model": "vanilla"}, run_logger)
    >>> model.fit(dataset, callbacks=callbacks + other_callbacks)
    """
    if isinstance(names, str):
        raise TypeError(
            f"probes must be a list of names, e.g. ['{names}']; got the string {names!r}."
        )
    unknown = [name for name in names or () if name not in _PROBES]
    if unknown:
        raise ValueError(f"Unknown probe(s) {unknown}; known probes: {list(PROBE_NAMES)}.")
    return [_PROBES[name](task, model_spec, run_logger) for name in names or ()]
