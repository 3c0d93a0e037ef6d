"""Recurrent layers of the user's own: a model kind `package.module:factory`.

A factory is a callable, importable from the working directory or an installed package,
that receives a grid point's hyperparameters as a read-only mapping (every key of
`config.Hyperparameters`, e.g. `units`, `activation`, `recurrent_initializer`, plus
`return_sequences`) and returns a Keras layer mapping `(batch, time, features)` to the
last state `(batch, units)`, or to every state `(batch, time, units)` when
`return_sequences` is true. The lab puts its head on top and trains it like the built-in
kinds.

- `check_factories(config, points, tasks)`: every factory a sweep names, imported and
  tried on a zero batch before any run exists; a factory that cannot be used is one
  `ConfigError` line naming the value, its config key and where it came from.
- `build_layer(spec, hyperparameters, return_sequences)`: the layer, for a model.
- `log_source(logger, spec)`: the factory's source file as an artifact of a run, its
  SHA-256 as a tag.

Example (`examples/min_gru.py`):

    models:
      min_gru: {kind: examples.min_gru:min_gru}
"""

import dataclasses
import hashlib
import importlib
import json
import os
import sys
import types

from experiments import schema
from experiments.config.checks import is_factory
from experiments.errors import ConfigError, one_line

# The batch every factory's layer is tried on before a sweep: zeros, two sequences.
CHECK_BATCH = 2


def factory_hyperparameters(hyperparameters, return_sequences):
    """What a factory receives: the point's hyperparameters and `return_sequences`, read-only."""
    values = {**hyperparameters.as_params(), "return_sequences": bool(return_sequences)}
    return types.MappingProxyType(values)


def load_factory(spec):
    """The callable `package.module:factory` names.

    The working directory is searched too (as `python -m` does), after the installed
    packages.

    Raises:
        ImportError: the module cannot be imported (or raised while importing).
        AttributeError: the module has no such name.
        TypeError: the name is not callable.
    """
    module_name, _, attribute = spec.partition(":")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise
    except Exception as error:  # a module that raises while it is imported: the same to us
        raise ImportError(one_line(error)) from error
    factory = getattr(module, attribute)  # AttributeError: no such name
    if not callable(factory):
        raise TypeError(f"{spec} is a {type(factory).__name__}, not a callable")
    return factory


def build_layer(spec, hyperparameters, return_sequences):
    """The layer `spec`'s factory returns for these hyperparameters.

    Raises:
        TypeError: the factory returned something that is not a Keras layer.
    """
    import keras

    layer = load_factory(spec)(factory_hyperparameters(hyperparameters, return_sequences))
    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(
            f"{spec} returned {type(layer).__name__}, not a Keras layer (keras.layers.Layer)."
        )
    return layer


def source_file(spec):
    """The file of the factory's module (what a run logs and hashes)."""
    module = sys.modules.get(spec.partition(":")[0])
    if module is None:
        load_factory(spec)
        module = sys.modules[spec.partition(":")[0]]
    return getattr(module, "__file__", None)


def log_source(logger, spec):
    """Logs the factory's source file as an artifact of the run and its SHA-256 as a tag."""
    path = source_file(spec)
    if path is None or not os.path.isfile(path):
        return
    with open(path, "rb") as file:
        digest = hashlib.sha256(file.read()).hexdigest()
    logger.set_tags({schema.MODEL_SOURCE_SHA256: digest}, wait=False)
    logger.log_artifact(path, schema.MODEL_SOURCE_DIR)


# ----------------------------------------------------------- before a sweep
@dataclasses.dataclass
class _Tried:
    """One factory and one set of hyperparameters to try, and how to name it in errors."""

    spec: str
    key: str  # `grid.model` or `models.<variant>.kind`
    source: str  # `--set '...'` or the file and profile
    hyperparameters: object
    task: object

    def error(self, problem):
        return ConfigError(f"{self.source}: `{self.key}` {self.spec!r}: {problem}")


def check_factories(config, points, tasks):
    """Imports and tries every factory the sweep's grid points name.

    Each distinct factory and set of hyperparameters is called once, and its layer run
    on a zero batch of the point's task (`CHECK_BATCH` sequences).

    Args:
        config: the `ExperimentConfig` (where each value came from).
        points: the sweep's grid points.
        tasks: length -> the task built at that length.

    Raises:
        ConfigError: one line naming the value, its key and where it came from: the
            module cannot be imported, has no such name, the name is not callable, the
            layer is not a Keras layer, its output has the wrong rank or size or is not
            finite, or the layer is not Keras-serializable.
    """
    seen = set()
    for point in points:
        if not is_factory(point.kind):
            continue
        marker = json.dumps([point.kind, point.hyperparameters.as_params()], sort_keys=True)
        if marker in seen:
            continue
        seen.add(marker)
        key = _key_of(config, point)
        tried = _Tried(
            point.kind, key, config.source_of(key), point.hyperparameters, tasks[point.length]
        )
        _try(tried)


def _key_of(config, point):
    """The config key a point's factory came from: its variant's `kind`, or `grid.model`."""
    for variant, spec in config.values["models"].items():
        if variant == point.model and spec.get("kind") == point.kind:
            return f"models.{variant}.kind"
    return "grid.model"


def _try(tried):
    """Imports the factory, builds its layer and checks it on a zero batch."""
    import keras
    import numpy as np

    try:
        factory = load_factory(tried.spec)
    except ImportError as error:
        module = tried.spec.partition(":")[0]
        raise tried.error(
            f"cannot import module {module!r} ({one_line(error, 200)}); it must be "
            f"importable from the working directory ({os.getcwd()}) or an installed package."
        ) from None
    except AttributeError:
        module, _, name = tried.spec.partition(":")
        raise tried.error(f"module {module!r} has no name {name!r}.") from None
    except TypeError as error:
        raise tried.error(f"{error}; name a function that returns a Keras layer.") from None
    task = tried.task
    per_step = task.output.per_step
    try:
        layer = factory(factory_hyperparameters(tried.hyperparameters, per_step))
    except Exception as error:
        raise tried.error(f"calling it raised {one_line(error, 200)}.") from None
    if not isinstance(layer, keras.layers.Layer):
        raise tried.error(f"it returned {type(layer).__name__}, not a Keras layer.")
    zeros = np.zeros((CHECK_BATCH, task.timesteps, task.input_dim), dtype="float32")
    try:
        output = layer(zeros, training=False)
    except Exception as error:
        raise tried.error(
            f"its layer raised on a zero batch of shape {zeros.shape}: {one_line(error, 200)}."
        ) from None
    _check_output(tried, output, per_step, zeros.shape)
    _check_serializable(tried, layer)


def _check_output(tried, output, per_step, input_shape):
    """The layer's output: one tensor, of rank 3 (every state) or 2 (the last), `units`
    features, finite."""
    import keras
    import numpy as np

    if isinstance(output, (list, tuple)):
        raise tried.error(
            f"its layer returned {len(output)} tensors; return the states only (no `return_state`)."
        )
    shape = tuple(keras.ops.shape(output))
    units = tried.hyperparameters.units
    units = units[-1] if isinstance(units, list) else units
    batch, steps, _ = input_shape
    expected = (batch, steps, units) if per_step else (batch, units)
    what = "every state" if per_step else "the last state"
    if len(shape) != len(expected):
        raise tried.error(
            f"its layer's output has rank {len(shape)} (shape {shape}) on input {input_shape}; "
            f"expected rank {len(expected)}, {what} (return_sequences={per_step}): "
            f"shape {expected}."
        )
    if shape != expected:
        raise tried.error(
            f"its layer's output has shape {shape} on input {input_shape}; expected "
            f"{expected}, {what} with `units` = {units} features."
        )
    if not np.isfinite(keras.ops.convert_to_numpy(output)).all():
        raise tried.error(
            f"its layer's output on a zero batch of shape {input_shape} is not finite (NaN or inf)."
        )


def _check_serializable(tried, layer):
    """The layer survives Keras's serialization (how a run's model is saved and loaded)."""
    import keras

    try:
        config = keras.saving.serialize_keras_object(layer)
        keras.saving.deserialize_keras_object(config)
    except Exception as error:
        raise tried.error(
            f"its layer is not Keras-serializable ({one_line(error, 200)}): register its "
            "class with @keras.saving.register_keras_serializable() and give it get_config() "
            "returning its constructor's arguments."
        ) from None
