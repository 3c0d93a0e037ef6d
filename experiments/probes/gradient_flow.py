"""The `gradient_flow` probe: how the loss gradient fades with distance through the state."""

import functools
import math

import keras
import numpy as np

from experiments import schema
from experiments.plots import pyplot
from experiments.plots.gradient_flow import plot_gradient_norms
from experiments.probes.measure import (
    activation_derivative_bound,
    fit_decay_factor,
    largest_singular_value,
    task_batch,
)
from experiments.probes.state_gradients import (
    cell_of,
    find_recurrent_layers,
    recurrent_matrices,
    state_gradient_norms,
)

TENSORBOARD_TAG = "probes/gradient_flow"


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
        label: what the figure calls the model (the grid point's model variant).
        run_logger: the runner's run logger (or `None`: results stay in `self.results`).
        batch_size: number of sequences in the fixed probe batch.
        max_logged_points: how many distances are logged as metrics.
    """

    def __init__(self, task, label, run_logger, *, batch_size=64, max_logged_points=64):
        super().__init__()
        self.task = task
        self.label = label or "model"
        self.run_logger = run_logger
        self.batch_size = batch_size
        self.max_logged_points = max_logged_points
        self.results = {}
        self.skipped = ""  # why the model could not be measured, if it could not

    def measure(self, when):
        """Measures the gradient flow now and logs it with the suffix `when`."""
        inputs, targets = task_batch(self.task, self.batch_size)
        norms = state_gradient_norms(
            self.model, inputs, targets, self.task.loss, per_step=self.task.output.per_step
        ).mean(axis=0)
        distances = np.arange(norms.shape[0])
        _, recurrent, _ = find_recurrent_layers(self.model)
        matrices = recurrent_matrices(self.model)
        sigma = max((largest_singular_value(matrix) for matrix in matrices), default=math.nan)
        is_vanilla = all(_is_vanilla(layer) for layer in recurrent)
        derivative_bound = (
            max(
                activation_derivative_bound(getattr(cell_of(layer), "activation", None))
                for layer in recurrent
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
            self._log(when, result, is_vanilla)
        return result

    def _log(self, when, result, is_vanilla):
        name = functools.partial(schema.probe_metric_name, when=when)
        metrics = {
            name(schema.GRAD_DECAY): result["decay"],
            name(schema.SIGMA_MAX_W): result["sigma_max_W"],
        }
        if is_vanilla:
            metrics[name(schema.DECAY_BOUND)] = result["decay_bound"]
        self.run_logger.log_metrics({k: v for k, v in metrics.items() if math.isfinite(v)}, step=0)
        norms = result["norms"]
        for d in _spread(len(norms), self.max_logged_points):
            if math.isfinite(norms[d]):
                self.run_logger.log_metrics({name(schema.GRAD_NORM): float(norms[d])}, step=int(d))

    def on_train_begin(self, logs=None):
        try:
            find_recurrent_layers(self.model)
        except ValueError as error:
            # A layer of the user's own that shows neither a Keras `cell` nor its weights:
            # nothing to unroll. The run trains on; the tag says why it has no measurement.
            self.skipped = str(error)
            if self.run_logger is not None:
                self.run_logger.set_tags({schema.GRADIENT_FLOW_SKIPPED: self.skipped[:500]})
            return
        self.measure(schema.PROBE_INIT)

    def on_train_end(self, logs=None):
        if self.skipped:
            return
        self.measure(schema.PROBE_TRAINED)
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
            schema.GRADIENT_FLOW_JSON,
        )
        curves = [
            (
                f"{when} (decay {r['decay']:.3f}, sigma_max {r['sigma_max_W']:.3f})",
                r["distances"],
                r["norms"],
                {},
            )
            for when, r in self.results.items()
        ]
        figure = plot_gradient_norms(
            curves, title=f"{self.label} on {self.task.name}, T={self.task.timesteps}"
        )
        self.run_logger.log_figure(figure, schema.GRADIENT_FLOW_PNG, TENSORBOARD_TAG)
        pyplot().close(figure)


def _is_vanilla(layer):
    cell = cell_of(layer)
    if getattr(cell, "recurrent_kernel", None) is None:
        return False
    # A vanilla cell has one state and a square recurrent kernel; LSTM and GRU kernels are
    # (H, 4H) and (H, 3H).
    shape = tuple(cell.recurrent_kernel.shape)
    return len(shape) == 2 and shape[0] == shape[1]


def _spread(count, limit):
    if count <= limit:
        return list(range(count))
    return sorted(set(np.linspace(0, count - 1, limit).round().astype(int).tolist()))
