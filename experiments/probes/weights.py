"""The `weights` probe: the two weights (u, w) of the one-unit RNN and its loss surface."""

import math

import keras
import numpy as np

from experiments import schema
from experiments.plots import pyplot
from experiments.plots.two_weights import plot_loss_surface
from experiments.probes.measure import activation_name, one_unit_rnn_loss_surface, task_batch
from experiments.probes.state_gradients import cell_of, find_recurrent_layers


class WeightsProbe(keras.callbacks.Callback):
    """Logs the two weights (u, w) of a one-unit RNN and draws its loss surface.

    Every epoch: metrics `u` and `w` (step = epoch index, as the runner's metrics); the
    values at initialization as params `u_init`, `w_init`. When training
    ends: the loss over a grid of (u, w) on a fixed batch of the task, computed with the
    float64 NumPy one-unit RNN, drawn with the trajectory (`probes/loss_surface.png`,
    `probes/loss_surface.json`, TensorBoard image `probes/loss_surface`).

    Args:
        task: the grid point's task (input_dim must be 1).
        label: what the figure calls the model (unused: the title names the activation).
        run_logger: the runner's run logger (or `None` to only keep the trajectory).
        batch_size: number of sequences the surface is evaluated on.
        grid_points: points per axis of the (u, w) grid.
    """

    def __init__(self, task, label, run_logger, *, batch_size=128, grid_points=41):
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
        cell = cell_of(recurrent[0])
        kernel = np.asarray(keras.ops.convert_to_numpy(cell.kernel), dtype=np.float64)
        recurrent_kernel = np.asarray(
            keras.ops.convert_to_numpy(cell.recurrent_kernel), dtype=np.float64
        )
        if kernel.shape != (1, 1) or recurrent_kernel.shape != (1, 1):
            raise ValueError(
                "The 'weights' probe needs a one-unit RNN on one input feature (kernel and "
                f"recurrent_kernel of shape (1, 1)); got {kernel.shape} and "
                f"{recurrent_kernel.shape}. "
                "Set units: 1 in the model spec."
            )
        bias = getattr(cell, "bias", None)
        bias = 0.0 if bias is None else float(keras.ops.convert_to_numpy(bias).reshape(-1)[0])
        head_scale, head_bias = 1.0, 0.0
        dense = [layer for layer in after if layer.weights]
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
            self.run_logger.log_params(
                {
                    schema.probe_metric_name(schema.WEIGHT_U, schema.PROBE_INIT): weights["u"],
                    schema.probe_metric_name(schema.WEIGHT_W, schema.PROBE_INIT): weights["w"],
                }
            )

    def on_epoch_end(self, epoch, logs=None):
        weights = self._weights()
        self.trajectory.append((weights["u"], weights["w"]))
        if self.run_logger is not None:
            self.run_logger.log_metrics(
                {schema.WEIGHT_U: weights["u"], schema.WEIGHT_W: weights["w"]}, step=epoch
            )

    def on_train_end(self, logs=None):
        weights = self._weights()
        inputs, targets = task_batch(self.task, self.batch_size)
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
            schema.LOSS_SURFACE_JSON,
        )
        figure = plot_loss_surface(
            u_values,
            w_values,
            surface,
            trajectory,
            optimum=optimum,
            title=f"{self.task.name}: loss over (u, w), {weights['activation']} unit",
        )
        self.run_logger.log_figure(figure, schema.LOSS_SURFACE_PNG, "probes/loss_surface")
        pyplot().close(figure)


def _surface_grid(trajectory, optimum, grid_points):
    points = [trajectory]
    if optimum is not None:
        points.append(np.asarray([optimum]))
    points = np.concatenate(points)
    # Always show the stable square |u|, |w| <= 1.2 around the origin, plus wherever training went.
    low = np.minimum(points.min(axis=0), [-0.2, -0.2]) - 0.15
    high = np.maximum(points.max(axis=0), [1.2, 1.2]) + 0.15
    return np.linspace(low[0], high[0], grid_points), np.linspace(low[1], high[1], grid_points)
