"""Models for a task: one recurrent body (vanilla, deep vanilla, LSTM, GRU, or a layer of
the user's own from `experiments.models.factories`), one head.

Every kind gets the same head, chosen by the task's `output`: a linear
`Dense(task.output.units)` applied to the last state (per-sequence tasks) or
to every step (per-step tasks, the body then returns sequences). The head
stays linear: classification losses take logits.
"""

import keras

import rnn_layers
from experiments.config.checks import factory_name, is_factory
from experiments.config.settings import MODEL_KINDS
from experiments.errors import ConfigError, one_line
from experiments.models import factories


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
            value = getattr(point.hyperparameters, key)
            marker = (key, repr(value))
            if marker in seen:
                continue
            seen.add(marker)
            try:
                lookup(value)
            except (ValueError, TypeError) as error:
                raise ConfigError(
                    f"{config.source_of(key)}: `{key}` {value!r} is not {what} "
                    f"({one_line(error, 200)})."
                ) from None


def build_body(kind, hyperparameters, return_sequences):
    """The recurrent part of the model.

    Args:
        kind: `vanilla`, `deep`, `lstm`, `gru`, or `package.module:factory` (a layer of
            the user's own, `models.factories`).
        hyperparameters: the grid point's `Hyperparameters`; the model part is read
            (`units`, `num_layers`, `activation`, `use_bias`, the initializers; a factory
            receives them all).
        return_sequences: whether the body returns every step's state.

    Returns:
        A Keras layer.
    """
    hp = hyperparameters
    units = hp.units
    if is_factory(kind):
        return factories.build_layer(kind, hp, return_sequences)
    if kind not in MODEL_KINDS:
        raise ValueError(
            f"Unknown model kind {kind!r}; known kinds: {', '.join(MODEL_KINDS)}, or "
            "`package.module:factory`."
        )
    if isinstance(units, list) and kind != "deep":
        raise ValueError(
            f"`units`={units!r} is a per-layer list, which only the `deep` kind accepts; "
            f"give {kind!r} a single integer."
        )
    common = dict(
        activation=hp.activation,
        use_bias=hp.use_bias,
        kernel_initializer=_initializer(hp.kernel_initializer),
        recurrent_initializer=_initializer(hp.recurrent_initializer),
        return_sequences=return_sequences,
        name=kind,
    )
    if kind == "vanilla":
        return rnn_layers.VanillaRNN(units, **common)
    if kind == "deep":
        num_layers = None if isinstance(units, list) else hp.num_layers
        return rnn_layers.DeepVanillaRNN(units, num_layers=num_layers, **common)
    if kind == "lstm":
        return keras.layers.LSTM(units, **common)
    return keras.layers.GRU(units, **common)


OPTIMIZER_CLASSES = {
    "adam": keras.optimizers.Adam,
    "rmsprop": keras.optimizers.RMSprop,
    "sgd": keras.optimizers.SGD,
}


def build_optimizer(hyperparameters):
    """The optimizer named by `optimizer`, with `lr` and `clipnorm` (None: no clipping),
    applied to each variable's gradient or to all of them together (`clipnorm_scope`)."""
    hp = hyperparameters
    if hp.optimizer not in OPTIMIZER_CLASSES:
        raise ValueError(
            f"Unknown optimizer {hp.optimizer!r}; known: {', '.join(OPTIMIZER_CLASSES)}."
        )
    scope = "global_clipnorm" if hp.clipnorm_scope == "global" else "clipnorm"
    return OPTIMIZER_CLASSES[hp.optimizer](learning_rate=hp.lr, **{scope: hp.clipnorm})


def build_model(kind, hyperparameters, task, seed, *, jit_compile=None):
    """Builds and compiles the model of one grid point.

    Args:
        kind: the model kind, `vanilla`, `deep`, `lstm`, `gru` or `package.module:factory`.
        hyperparameters: the grid point's `Hyperparameters` (model and training parts:
            the network, `optimizer`, `lr`, `clipnorm`, `jit_compile`).
        task: a `datasets` task; its `timesteps`, `input_dim`, `output`,
            `loss` and `metrics()` shape the model.
        seed: seeds the weight initialization (`keras.utils.set_random_seed`).
        jit_compile: overrides `hyperparameters.jit_compile` when not None.

    Returns:
        A compiled `keras.Model` named after the kind.

    Example:

    >>> task = datasets.make("adding", length=50)
    >>> model = build_model("vanilla", Hyperparameters(units=32), task, seed=0)
    >>> model.output_shape
    (None, 1)
    """
    hp = hyperparameters
    keras.utils.set_random_seed(int(seed))
    inputs = keras.Input(shape=(task.timesteps, task.input_dim), name="sequences")
    hidden = build_body(kind, hp, return_sequences=task.output.per_step)(inputs)
    outputs = _head(hp, task.output)(hidden)
    body = factory_name(kind) if is_factory(kind) else kind
    model = keras.Model(inputs, outputs, name=f"{body}_{task.name}")
    model.compile(
        optimizer=build_optimizer(hp),
        loss=task.loss,
        metrics=task.metrics(),
        jit_compile=hp.jit_compile if jit_compile is None else jit_compile,
    )
    return model


def _head(hyperparameters, output):
    """The read-out: `Dense(output.units)`, or (`head: none`) the state itself."""
    if hyperparameters.head == "dense":
        return keras.layers.Dense(output.units, name="head")
    # The two-weight network: the recurrent state itself is the prediction.
    units = hyperparameters.units
    width = units[-1] if isinstance(units, list) else units
    if output.kind != "regression" or width != output.units:
        raise ValueError(
            f"`head: none` needs a regression task and units == task.output.units "
            f"({output.units}); got a {output.kind} task and units={units!r}. "
            f"Use `head: dense` or set `units: {output.units}`."
        )
    return lambda state: state
