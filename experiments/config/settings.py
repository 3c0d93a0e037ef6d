"""Every config key, declared once: its default, its check, what it means, who reads it.

A key is a field of one of two frozen dataclasses, declared with `setting(default, check,
doc)`; everything else is derived from these declarations: `DEFAULTS`, the validation in
`config.loading`, the `--set` help of `python -m experiments run`, and the key table of
`docs/config_keys.md` (`key_table_markdown`).

- `SweepSettings`: what the experiment is and how it is swept (read by `config` and
  `sweep`, and `resources` by the executors).
- `Hyperparameters`: one grid point's model and training (read by `training`). These keys
  may also be grid axes and model-variant overrides, and each grid point logs them as
  its params. `part` says which: `model` (the network `experiments.models` builds) or
  `training` (the loop that trains and evaluates it).

The grid axes `model`, `length` and `seed` are declared in `AXES`.
"""

import copy
import dataclasses

from experiments.config import checks
from experiments.config.registries import PROBES, REPORT_KINDS

PROFILES = ("smoke", "quick", "full")
DEFAULT_PROFILE = "quick"
MODEL_KINDS = ("vanilla", "deep", "lstm", "gru")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
CLIPNORM_SCOPES = ("per_variable", "global")
HEADS = ("dense", "none")
TRAINING_LOOPS = ("compiled", "keras_fit")
# Keras backends a sweep can train on (each worker selects one before Keras loads).
BACKENDS = ("tensorflow", "jax")

SWEEP, EXECUTION, MODEL, TRAINING = "sweep", "execution", "model", "training"


def setting(default, check, doc, part):
    """One config key: its default, its check `(source, path, value) -> value`, a one-line
    doc, and the part of the code that reads it."""
    metadata = {"check": check, "doc": doc, "part": part}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SweepSettings:
    """What a named experiment sweeps (one per config; `ExperimentConfig.settings`)."""

    description: str = setting(
        "", checks.string, "one line, shown by `python -m experiments list`", SWEEP
    )
    task: str | None = setting(
        None, checks.optional_string, "required: a name from datasets.TASKS, e.g. adding", SWEEP
    )
    task_params: dict = setting(
        {}, checks.mapping, "extra keyword arguments of datasets.make (task-specific)", SWEEP
    )
    report: str = setting(
        "breakdown",
        checks.choice(tuple(REPORT_KINDS)),
        "the report drawn at the end: " + " | ".join(REPORT_KINDS),
        SWEEP,
    )
    probes: list = setting(
        [],
        checks.choice_list(tuple(PROBES)),
        "measurement callbacks of every run: " + ", ".join(PROBES),
        SWEEP,
    )
    grid: dict = setting(
        {"model": list(MODEL_KINDS), "length": [10], "seed": [0]},
        checks.mapping,
        "axis -> list of values; every combination is one run (model, length, seed required)",
        SWEEP,
    )
    max_seeds: int = setting(
        0,
        checks.non_negative_int,
        "seeds a cell may have in all: one whose seeds split or sit within seed_margin of "
        "the threshold gets more, at its chosen rate, until its verdict is decided; 0: the "
        "grid's seeds only",
        SWEEP,
    )
    seed_margin: float = setting(
        0.2,
        checks.non_negative_float,
        "a test metric within this fraction of the threshold leaves its seed's verdict "
        "open (max_seeds)",
        SWEEP,
    )
    skip_decided_lengths: bool = setting(
        False,
        checks.boolean,
        "once every seed of a model failed a length, train one longer length and skip the rest",
        SWEEP,
    )
    models: dict = setting(
        {},
        checks.mapping,
        "extra or changed model variants: name -> {kind: <kind or package.module:factory>, ...}",
        SWEEP,
    )
    backend: str = setting(
        "tensorflow",
        checks.choice(BACKENDS),
        "the Keras backend of every grid point (part of the sweep's identity)",
        EXECUTION,
    )
    resources: dict = setting(
        {"num_cpus": 1, "num_gpus": 0},
        checks.mapping,
        "per grid point, for executors that schedule (Ray): num_cpus, num_gpus",
        EXECUTION,
    )
    # Not part of a sweep's identity: a seed trained in a group reproduces itself alone.
    group_seeds: bool = setting(
        True,
        checks.boolean,
        "train the seeds of a grid cell as one job, one compiled program (compiled loop)",
        EXECUTION,
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class Hyperparameters:
    """One grid point's model and training settings (every variant starts from the top level)."""

    # --- the model ------------------------------------------------------------
    units: int | list = setting(
        64, checks.units, "hidden units; for `deep`, an int (every layer) or one per layer", MODEL
    )
    num_layers: int = setting(2, checks.positive_int, "layers of the `deep` kind", MODEL)
    activation: str = setting(
        "tanh", checks.activation, "recurrent activation (linear: the two-weight network)", MODEL
    )
    use_bias: bool = setting(True, checks.boolean, "recurrent layer bias", MODEL)
    kernel_initializer: str | dict = setting(
        "glorot_uniform",
        checks.initializer,
        "input weights U: a Keras initializer name or {class_name, config}",
        MODEL,
    )
    recurrent_initializer: str | dict = setting(
        "orthogonal",
        checks.initializer,
        "recurrent weights W: a Keras initializer name or {class_name, config}",
        MODEL,
    )
    head: str = setting(
        "dense",
        checks.choice(HEADS),
        "dense: a Dense(task outputs) read-out; none: the RNN state is the prediction",
        MODEL,
    )
    # --- training -----------------------------------------------------------
    training_loop: str = setting(
        "compiled",
        checks.choice(TRAINING_LOOPS),
        "compiled: one program per epoch (training/compiled_loop.py); keras_fit: Keras's fit",
        TRAINING,
    )
    optimizer: str = setting("adam", checks.choice(OPTIMIZERS), " | ".join(OPTIMIZERS), TRAINING)
    lr: float = setting(1e-3, checks.positive_float, "learning rate", TRAINING)
    clipnorm: float | None = setting(
        1.0,
        checks.optional_positive_float,
        "gradient-norm clipping threshold (see clipnorm_scope); null: none",
        TRAINING,
    )
    clipnorm_scope: str = setting(
        "per_variable",
        checks.choice(CLIPNORM_SCOPES),
        "per_variable: each variable's gradient clipped on its own (Keras clipnorm); "
        "global: the norm of all gradients together, as Pascanu et al. (2013) clip "
        "(Keras global_clipnorm)",
        TRAINING,
    )
    batch_size: int = setting(32, checks.positive_int, "sequences per batch", TRAINING)
    epochs: int = setting(
        10, checks.positive_int, "epochs; every epoch draws fresh sequences", TRAINING
    )
    steps_per_epoch: int = setting(
        100,
        checks.steps_per_epoch,
        f"batches per epoch, at most {checks.MAX_STEPS_PER_EPOCH} (validation runs once an epoch)",
        TRAINING,
    )
    # Evaluation runs in batches of 256: multiples of 256 spare every grid point the
    # compilation of one more (smaller) last batch, about half a second each.
    val_samples: int = setting(
        512, checks.positive_int, "fixed validation set, evaluated after every epoch", TRAINING
    )
    test_samples: int = setting(
        2048, checks.positive_int, "fixed test set: the final metric and `solved`", TRAINING
    )
    jit_compile: bool = setting(
        True, checks.boolean, "compile with XLA (off again for layers that cannot)", TRAINING
    )
    stop_when_solved: bool = setting(
        False,
        checks.boolean,
        "stop once the validation metric stayed solved `solved_patience` epochs",
        TRAINING,
    )
    # 1 stops at the first crossing, which leaves the model right at the threshold, where
    # the test set often judges it short.
    solved_patience: int = setting(
        3, checks.positive_int, "epochs in a row the validation metric must stay solved", TRAINING
    )

    def as_params(self):
        """Every hyperparameter by name (values as declared: lists stay lists)."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


# The grid axes every config has: axis -> (check, doc). Any hyperparameter may be an axis too.
AXES = {
    "model": (
        checks.string,
        "model variants: vanilla, deep, lstm, gru, `models:` keys, or `package.module:factory`",
    ),
    "length": (checks.length, "dependency lengths passed to datasets.make(length=...)"),
    "seed": (checks.non_negative_int, "run seeds: initialization, training stream, val/test sets"),
}
REQUIRED_AXES = tuple(AXES)

SWEEP_FIELDS = dataclasses.fields(SweepSettings)
HYPERPARAMETER_FIELDS = dataclasses.fields(Hyperparameters)
HYPERPARAMETER_KEYS = tuple(field.name for field in HYPERPARAMETER_FIELDS)


def _default(field):
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


# Every key a config file may set (besides `profiles`), with its default, in this order.
DEFAULTS = {field.name: _default(field) for field in (*SWEEP_FIELDS, *HYPERPARAMETER_FIELDS)}
CHECKS = {field.name: field.metadata["check"] for field in (*SWEEP_FIELDS, *HYPERPARAMETER_FIELDS)}
RESOURCE_CHECKS = {"num_cpus": checks.positive_int, "num_gpus": checks.non_negative_float}
# Every key a file may set at its top level.
FILE_KEYS = (*DEFAULTS, "profiles")


def key_rows():
    """`(key, default, part, doc)` for every key, grid axes first: the documented table."""
    rows = [(f"grid.{axis}", "", SWEEP, doc) for axis, (_, doc) in AXES.items()]
    for field in (*SWEEP_FIELDS, *HYPERPARAMETER_FIELDS):
        default = "" if field.name == "grid" else _default(field)
        rows.append((field.name, default, field.metadata["part"], field.metadata["doc"]))
    return rows


def key_table_markdown():
    """The Markdown table of every key (`docs/config_keys.md`; `make docs` writes it)."""
    lines = [
        "| key | default | read by | meaning |",
        "|---|---|---|---|",
    ]
    for key, default, part, doc in key_rows():
        shown = "" if default == "" else f"`{checks.yaml_text(default)}`"
        escaped = doc.replace("|", "\\|")  # a `|` inside a cell would end it
        lines.append(f"| `{key}` | {shown} | {part} | {escaped} |")
    return "\n".join(lines) + "\n"


def key_help():
    """The `--set` help: every key with its default, one line each."""
    width = max(len(key) for key, *_ in key_rows())
    lines = ["config keys (--set KEY=VALUE; dotted keys reach into grid, models, ...):"]
    for key, default, _, doc in key_rows():
        shown = "" if default == "" else f" [{checks.yaml_text(default)}]"
        lines.append(f"  {key:<{width}}  {doc}{shown}")
    return "\n".join(lines)
