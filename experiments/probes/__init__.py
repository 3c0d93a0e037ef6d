"""Probes: Keras callbacks that look inside a recurrent model while it trains.

Two probes explain *why* a vanilla RNN forgets:

- `weights` (the `two_weights` experiment): the course's univariate network has exactly
  two weights, the input weight `u` and the recurrent weight `w`. The probe logs both
  every epoch and, when training ends, draws the task loss over the whole (u, w) plane
  with the training trajectory on top (`probes/weights.py`).
- `gradient_flow` (the `gradient_flow` experiment): the norm of the gradient of the loss
  taken at the last step with respect to the recurrent state h_t, against the distance
  T - t, at initialization and after training, beside the bound
  max|act'| * sigma_max(W) (`probes/gradient_flow.py`).

The measurements are pure functions in `probes/measure.py`, the figures are in
`experiments/plots`. Adding a probe: a module with a callback class taking
`(task, model_spec, run_logger)`, and one entry in `PROBES`.
"""

import importlib

# Probe name (the config's `probes` list) -> "module:class". Resolved only when a run
# builds its callbacks, so that checking a config's names needs neither Keras nor
# TensorFlow.
PROBES = {
    "weights": "experiments.probes.weights:WeightsProbe",
    "gradient_flow": "experiments.probes.gradient_flow:GradientFlowProbe",
}

# Seed of the fixed batch every probe evaluates on: the same sequences at initialization
# and after training, so the two measurements differ only by the weights.
PROBE_BATCH_SEED = 20_240_601


def probe_class(name):
    """The callback class of a probe name, or a ValueError listing the known ones."""
    if name not in PROBES:
        raise ValueError(f"Unknown probe {name!r}; known probes: {', '.join(PROBES)}.")
    module, attribute = PROBES[name].split(":")
    return getattr(importlib.import_module(module), attribute)


def make_probes(names, task, model_spec, run_logger):
    """Builds the probe callbacks a config asks for.

    Args:
        names: probe names from the config's `probes` key (keys of `PROBES`).
        task: the grid point's `datasets` task.
        model_spec: the grid point's model spec (dict).
        run_logger: the runner's `tracking.RunLogger` (`log_metrics`, `log_params`,
            `log_dict`, `log_figure`, `tb_dir`), or None to keep results in the callbacks.

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
    unknown = [name for name in names or () if name not in PROBES]
    if unknown:
        raise ValueError(f"Unknown probe(s) {unknown}; known probes: {list(PROBES)}.")
    return [probe_class(name)(task, model_spec, run_logger) for name in names or ()]


def task_batch(task, size):
    """The fixed batch `(inputs, targets)` of `size` sequences every probe evaluates on."""
    inputs, targets = task.sample(size, seed=PROBE_BATCH_SEED)[:2]
    return inputs, targets


def log_figure(run_logger, figure, artifact_file, tensorboard_tag):
    """Logs a figure as a run artifact and a TensorBoard image, then closes it."""
    from experiments import plots, tracking

    if run_logger is not None:
        run_logger.log_figure(figure, artifact_file)
        if getattr(run_logger, "tb_dir", None):
            png = plots.figure_to_png(figure)
            tracking.write_images(run_logger.tb_dir, {tensorboard_tag: png})
    plots.pyplot().close(figure)
