"""Models for a task: one recurrent body (vanilla, deep vanilla, LSTM or GRU), one head.

Every kind gets the same head, chosen by the task's `output`: a linear
`Dense(task.output.units)` applied to the last state (per-sequence tasks) or
to every step (per-step tasks, the body then returns sequences). The head
stays linear: classification losses take logits.
"""

import keras

import rnn_layers
from experiments.config import DEFAULTS, MODEL_KINDS, ConfigError


def _initializer(spec):
    # A name ("orthogonal") or a serialized initializer ({class_name, config}).
    return keras.initializers.get(spec)


def check_model_settings(config, points):
    """Checks the Keras names of a sweep's grid points before any run exists.

    Raises:
        ConfigError: an activation or initializer Keras does not know, naming the `--set`
            argument or the file it came from.
    """
    lookups = {
        "activation": (keras.activations.get, "a Keras activation (e.g. tanh, relu, linear)"),
        "kernel_initializer": (_initializer, "a Keras initializer"),
        "recurrent_initializer": (_initializer, "a Keras initializer"),
    }
    seen = set()
    for point in points:
        for key, (lookup, what) in lookups.items():
            value = point.hparams[key]
            marker = (key, repr(value))
            if marker in seen:
                continue
            seen.add(marker)
            try:
                lookup(value)
            except (ValueError, TypeError) as error:
                reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
                raise ConfigError(
                    f"{config.source_of(key)}: `{key}` {value!r} is not {what}"
                    f"{' (' + reason[:200] + ')' if reason else ''}."
                ) from None


def build_body(model_spec, return_sequences):
    """The recurrent part of the model.

    Args:
        model_spec: a grid point's hyperparameters (see `config.GridPoint.hparams`);
            reads `kind`, `units`, `num_layers`, `activation`, `use_bias`,
            `kernel_initializer`, `recurrent_initializer`.
        return_sequences: whether the body returns every step's state.

    Returns:
        A Keras layer.
    """
    spec = {**DEFAULTS, **model_spec}
    kind = spec["kind"]
    units = spec["units"]
    if kind not in MODEL_KINDS:
        raise ValueError(f"Unknown model kind {kind!r}; known kinds: {', '.join(MODEL_KINDS)}.")
    if isinstance(units, list) and kind != "deep":
        raise ValueError(
            f"`units`={units!r} is a per-layer list, which only the `deep` kind accepts; "
            f"give {kind!r} a single integer."
        )
    common = dict(
        activation=spec["activation"],
        use_bias=spec["use_bias"],
        kernel_initializer=_initializer(spec["kernel_initializer"]),
        recurrent_initializer=_initializer(spec["recurrent_initializer"]),
        return_sequences=return_sequences,
        name=kind,
    )
    if kind == "vanilla":
        return rnn_layers.VanillaRNN(units, **common)
    if kind == "deep":
        num_layers = None if isinstance(units, list) else spec["num_layers"]
        return rnn_layers.DeepVanillaRNN(units, num_layers=num_layers, **common)
    if kind == "lstm":
        return keras.layers.LSTM(units, **common)
    return keras.layers.GRU(units, **common)


def build_optimizer(model_spec):
    """The optimizer named by `optimizer`, with `lr` and `clipnorm` (None: no clipping)."""
    spec = {**DEFAULTS, **model_spec}
    classes = {
        "adam": keras.optimizers.Adam,
        "rmsprop": keras.optimizers.RMSprop,
        "sgd": keras.optimizers.SGD,
    }
    if spec["optimizer"] not in classes:
        raise ValueError(f"Unknown optimizer {spec['optimizer']!r}; known: {', '.join(classes)}.")
    return classes[spec["optimizer"]](learning_rate=spec["lr"], clipnorm=spec["clipnorm"])


def build_model(model_spec, task, seed, *, jit_compile=None):
    """Builds and compiles the model of one grid point.

    Args:
        model_spec: a grid point's hyperparameters (`config.GridPoint.hparams`:
            `kind`, `units`, ..., `optimizer`, `lr`, `clipnorm`, `jit_compile`).
            Missing keys take `config.DEFAULTS`.
        task: a `datasets` task; its `timesteps`, `input_dim`, `output`,
            `loss` and `metrics()` shape the model.
        seed: seeds the weight initialization (`keras.utils.set_random_seed`).
        jit_compile: overrides `model_spec["jit_compile"]` when not None.

    Returns:
        A compiled `keras.Model` named after the kind.

    Example:

    >>> task = datasets.make("adding", length=50)
    >>> model = build_model({"kind": "vanilla", "units": 32}, task, seed=0)
    >>> model.output_shape
    (None, 1)
    """
    spec = {**DEFAULTS, **model_spec}
    keras.utils.set_random_seed(int(seed))
    output = task.output
    inputs = keras.Input(shape=(task.timesteps, task.input_dim), name="sequences")
    hidden = build_body(spec, return_sequences=output.per_step)(inputs)
    if spec["head"] == "dense":
        outputs = keras.layers.Dense(output.units, name="head")(hidden)
    else:
        # The two-weight network: the recurrent state itself is the prediction.
        width = spec["units"][-1] if isinstance(spec["units"], list) else spec["units"]
        if output.kind != "regression" or width != output.units:
            raise ValueError(
                f"`head: none` needs a regression task and units == task.output.units "
                f"({output.units}); got a {output.kind} task and units={spec['units']!r}. "
                f"Use `head: dense` or set `units: {output.units}`."
            )
        outputs = hidden
    model = keras.Model(inputs, outputs, name=f"{spec['kind']}_{task.name}")
    model.compile(
        optimizer=build_optimizer(spec),
        loss=task.loss,
        metrics=task.metrics(),
        jit_compile=spec["jit_compile"] if jit_compile is None else jit_compile,
    )
    return model
