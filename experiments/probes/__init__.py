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

The measurements are pure functions in `probes/measure.py` (arrays) and
`probes/state_gradients.py` (a model's state gradients); the figures are in
`experiments/plots`. Adding a probe: a module with a callback class taking
`(task, label, run_logger)`, and one entry in `config.registries.PROBES`.
"""

import importlib

from experiments.config.registries import PROBES


def probe_class(name):
    """The callback class of a probe name, or a ValueError listing the known ones."""
    if name not in PROBES:
        raise ValueError(f"Unknown probe {name!r}; known probes: {', '.join(PROBES)}.")
    module, attribute = PROBES[name].split(":")
    return getattr(importlib.import_module(module), attribute)


def make_probes(names, task, label, run_logger):
    """Builds the probe callbacks a config asks for.

    Args:
        names: probe names from the config's `probes` key (keys of `PROBES`).
        task: the grid point's `datasets` task.
        label: what the figures call the model (the grid point's model variant).
        run_logger: the runner's `tracking.RunLogger` (`log_metrics`, `log_params`,
            `log_dict`, `log_figure`), or None to keep results in the callbacks.

    Returns:
        A list of `keras.callbacks.Callback`, one per name, in order.

    Example:

    >>> callbacks = make_probes(["gradient_flow"], task, "vanilla", run_logger)
    >>> model.fit(dataset, callbacks=callbacks + other_callbacks)
    """
    if isinstance(names, str):
        raise TypeError(
            f"probes must be a list of names, e.g. ['{names}']; got the string {names!r}."
        )
    unknown = [name for name in names or () if name not in PROBES]
    if unknown:
        raise ValueError(f"Unknown probe(s) {unknown}; known probes: {list(PROBES)}.")
    return [probe_class(name)(task, label, run_logger) for name in names or ()]
