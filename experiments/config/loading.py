"""Named-experiment configs: the keys, their defaults, loading and validation.

One YAML file per named experiment lives in `experiments/configs/<name>.yaml`.
A file sets only what differs from `DEFAULTS` below (the one place where every
key, its meaning and its default are written down), plus a `profiles` section
with the `smoke` / `quick` / `full` overrides. Loading applies, in order:

    DEFAULTS  <-  the file's top level  <-  profiles[<profile>]  <-  --set key=value

Dictionaries (`grid`, `models`, `task_params`, `resources`) merge key by key;
lists and scalars are replaced. The result is validated: an unknown key or a
value of the wrong type raises `ConfigError` (a `ValueError`) that names the
key and where it came from (the file and section, or the `--set` argument).

The grid (`experiments.grid.expand_grid`): every combination of the `grid` axes is
one grid point (one MLflow child run). `model`, `length` and `seed` are required axes; any other
hyperparameter key (e.g. `units`, `lr`) may be an extra axis. A `model` value
names a model variant: the four kinds `vanilla`, `deep`, `lstm`, `gru`
exist by default, and `models:` adds or changes variants, e.g.

    models:
      deep3: {kind: deep, num_layers: 3, units: 40}
      vanilla_identity: {kind: vanilla, recurrent_initializer: identity}

A grid point's hyperparameters are: the top-level values, then the variant's
overrides, then the point's extra-axis values.

Example:

>>> cfg = load_config("long_dependency", profile="smoke", overrides=["lr=0.01"])
>>> cfg["lr"], cfg["grid"]["length"]
(0.01, [5, 10])
"""

import copy
import dataclasses
import difflib
import hashlib
import json
import pathlib
import re

import yaml

from experiments import checks
from experiments.checks import ConfigError
from experiments.overrides import override_as_section, parse_override
from experiments.probes import PROBES
from experiments.report import REPORT_KINDS

CONFIG_DIR = pathlib.Path(__file__).resolve().parent / "configs"
PROFILES = ("smoke", "quick", "full")
DEFAULT_PROFILE = "quick"
MODEL_KINDS = ("vanilla", "deep", "lstm", "gru")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
HEADS = ("dense", "none")
# Keras backends a sweep can train on (each worker selects one before Keras loads).
BACKENDS = ("tensorflow", "jax")
REQUIRED_AXES = ("model", "length", "seed")
# An experiment name is also a folder name under the output roots: never a path.
EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9_-]+")

# Every key a config may set, with its default. Comments say what it means.
DEFAULTS = {
    # --- what the experiment is -------------------------------------------
    "description": "",  # one line, shown by `python -m experiments list`
    "task": None,  # required: a name from datasets.TASKS, e.g. "adding"
    "task_params": {},  # extra keyword arguments of datasets.make (task-specific)
    "report": "breakdown",  # the report drawn at the end: a name in report.REPORT_KINDS
    "probes": [],  # names in experiments.probes.PROBES (Keras callbacks per run)
    # --- the sweep -----------------------------------------------------------
    "grid": {  # axis -> list of values; every combination is one run
        "model": list(MODEL_KINDS),  # model variant names (see `models`)
        "length": [10],  # dependency lengths passed to datasets.make(length=...)
        "seed": [0],  # run seeds: initialization, training stream, val/test sets
    },
    # Once every seed of a model failed a length, train one longer length (the plateau)
    # and record the longer ones as not run (experiments/skipping.py has the rule).
    "skip_decided_lengths": False,
    "models": {},  # extra/changed variants: name -> {kind: ..., <hyperparameters>}
    # --- model hyperparameters (every variant starts from these) ---------------
    "units": 64,  # hidden units; for `deep`, an int (same per layer) or one int per layer
    "num_layers": 2,  # layers of the `deep` kind (ignored by vanilla/lstm/gru)
    "activation": "tanh",  # recurrent activation ("linear" for the two-weight network)
    "use_bias": True,  # recurrent layer bias
    # Initializers: a Keras name or {class_name, config}.
    "kernel_initializer": "glorot_uniform",  # input weights U
    "recurrent_initializer": "orthogonal",  # recurrent weights W
    # "dense": a Dense(task.output.units) head; "none": the RNN output is the prediction.
    "head": "dense",
    # --- training -----------------------------------------------------------
    "optimizer": "adam",  # adam | rmsprop | sgd
    "lr": 1e-3,  # learning rate
    "clipnorm": 1.0,  # gradient-norm clipping per variable (Keras `clipnorm`); null: none
    "batch_size": 32,  # sequences per batch
    "epochs": 10,  # epochs; every epoch draws fresh sequences
    "steps_per_epoch": 100,  # batches per epoch, at most 100 (validation runs once an epoch)
    # Evaluation runs in batches of 256: multiples of 256 spare every grid point the
    # compilation of one more (smaller) last batch, about half a second each.
    "val_samples": 512,  # fixed validation set (own seed), evaluated after every epoch
    "test_samples": 2048,  # fixed test set (own seed): the final metric and `solved`
    "jit_compile": True,  # XLA; Keras turns it off itself for layers that do not support it
    "stop_when_solved": False,  # stop once the validation metric has reached the solved threshold
    # ... and stayed there this many epochs in a row (1: stop at the first crossing, which
    # leaves the model right at the threshold, where the test set often judges it short).
    "solved_patience": 3,
    # --- execution ------------------------------------------------------------
    # The Keras backend of every grid point: tensorflow | jax. Part of the sweep's identity
    # (the same config on another backend is another sweep); runs record it.
    "backend": "tensorflow",
    "resources": {  # per grid point, for executors that schedule (Ray)
        "num_cpus": 1,
        "num_gpus": 0,
    },
    "profiles": {},  # smoke | quick | full (required), long, ... -> overrides of any key above
}

# Keys that describe one grid point's model or training: they may be grid axes,
# model-variant overrides, and they become the child run's params.
MODEL_KEYS = (
    "units",
    "num_layers",
    "activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "head",
)
TRAIN_KEYS = (
    "optimizer",
    "lr",
    "clipnorm",
    "batch_size",
    "epochs",
    "steps_per_epoch",
    "val_samples",
    "test_samples",
    "jit_compile",
    "stop_when_solved",
    "solved_patience",
)
HYPERPARAMETER_KEYS = MODEL_KEYS + TRAIN_KEYS


__all__ = ["ConfigError", "ExperimentConfig", "DEFAULTS", "load_config", "parse_override"]

# How each hyperparameter (and scalar key) is checked and normalised.
VALIDATORS = {
    "description": checks.string,
    "task": checks.optional_string,
    "task_params": checks.mapping,
    "report": checks.choice(tuple(REPORT_KINDS)),
    "probes": checks.choice_list(tuple(PROBES)),
    "units": checks.units,
    "num_layers": checks.positive_int,
    "activation": checks.activation,
    "use_bias": checks.boolean,
    "kernel_initializer": checks.initializer,
    "recurrent_initializer": checks.initializer,
    "head": checks.choice(HEADS),
    "optimizer": checks.choice(OPTIMIZERS),
    "lr": checks.positive_float,
    "clipnorm": checks.optional_positive_float,
    "batch_size": checks.positive_int,
    "epochs": checks.positive_int,
    "steps_per_epoch": checks.steps_per_epoch,
    "val_samples": checks.positive_int,
    "test_samples": checks.positive_int,
    "jit_compile": checks.boolean,
    "stop_when_solved": checks.boolean,
    "solved_patience": checks.positive_int,
    "skip_decided_lengths": checks.boolean,
    "backend": checks.choice(BACKENDS),
}
RESOURCE_VALIDATORS = {"num_cpus": checks.positive_int, "num_gpus": checks.non_negative_float}
AXIS_VALIDATORS = {
    "model": checks.string,
    "length": checks.length,
    "seed": checks.non_negative_int,
}


# ------------------------------------------------------------------ merging
def _merge(base, override):
    """Returns `base` updated by `override`; nested dicts merge, the rest replaces."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _check_section_keys(section, source, path, *, allow_profiles):
    """Unknown-key check of one override section (file top level or a profile)."""
    if not isinstance(section, dict):
        raise checks.type_error(source, path, section, "a mapping (key: value)")
    known = [k for k in DEFAULTS if allow_profiles or k != "profiles"]
    for key, value in section.items():
        if key not in known:
            if key == "profiles":
                raise ConfigError(f"{source}: `{path}.profiles` is not allowed inside a profile.")
            raise checks.unknown_key(source, path, key, known)
        if key == "resources" and isinstance(value, dict):
            for sub in value:
                if sub not in RESOURCE_VALIDATORS:
                    raise checks.unknown_key(
                        source, f"{path + '.' if path else ''}resources", sub, RESOURCE_VALIDATORS
                    )


# ---------------------------------------------------------------- the config
@dataclasses.dataclass
class ExperimentConfig:
    """A loaded, merged and validated experiment config.

    Attributes:
        name: the named experiment (the file stem).
        profile: the profile applied.
        path: the YAML file.
        values: every key of `DEFAULTS` (minus `profiles`), resolved.
        overrides: the `--set` arguments applied, as given.
        profiles: the profile names the file defines.
    """

    name: str
    profile: str
    path: pathlib.Path
    values: dict
    overrides: tuple = ()
    profiles: tuple = PROFILES

    def __getitem__(self, key):
        return self.values[key]

    @property
    def variants(self):
        """Model variant name -> its overrides (with `kind`)."""
        variants = {kind: {"kind": kind} for kind in MODEL_KINDS}
        for name, spec in self.values["models"].items():
            variants[name] = _merge(variants.get(name, {}), spec)
        return variants

    def source_of(self, key):
        """Where a key's value came from, for messages: its last `--set`, else the file."""
        for text in reversed(self.overrides):
            dotted = text.split("=", 1)[0].strip()
            if key in dotted.split("."):
                return f"--set {text!r}"
        return f"{self.path} (profile {self.profile})"

    def hashed_values(self):
        """What identifies a sweep: every value but the description and `resources`.

        `resources` say where the sweep runs, not what it computes. The default backend
        is left out too, so sweeps logged before `backend` existed keep their hash (and
        resume); another backend computes other numbers and makes another sweep.
        """
        values = {k: v for k, v in self.values.items() if k not in ("description", "resources")}
        if values.get("backend") == DEFAULTS["backend"]:
            del values["backend"]
        return {"experiment": self.name, "profile": self.profile, **values}

    @property
    def config_hash(self):
        """12 hex digits of a SHA-256 over `hashed_values()`."""
        return stable_hash(self.hashed_values())

    def to_yaml(self):
        """The resolved config (after profile and `--set`) as YAML text."""
        header = {
            "experiment": self.name,
            "profile": self.profile,
            "overrides": list(self.overrides),
        }
        return yaml.safe_dump({**header, **self.values}, sort_keys=False)


def stable_hash(obj, length=12):
    """A short SHA-256 of a JSON-serialisable object (keys sorted)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def experiment_names(config_dir=CONFIG_DIR):
    """The named experiments: stems of `configs/*.yaml`, sorted."""
    return sorted(p.stem for p in pathlib.Path(config_dir).glob("*.yaml"))


def config_path(name, config_dir=CONFIG_DIR):
    """The YAML file of a named experiment, or `ConfigError` listing the known names."""
    if not isinstance(name, str) or not EXPERIMENT_NAME.fullmatch(name):
        raise ConfigError(
            f"Experiment name {name!r} must be letters, digits, `_` or `-` (a name from "
            "`python -m experiments list`, not a path); new experiments go in "
            f"{CONFIG_DIR.relative_to(CONFIG_DIR.parents[1])}/<name>.yaml."
        )
    path = pathlib.Path(config_dir) / f"{name}.yaml"
    if not path.is_file():
        names = experiment_names(config_dir)
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean `{close[0]}`?" if close else ""
        raise ConfigError(
            f"Unknown experiment {name!r}.{hint} Known experiments: "
            f"{', '.join(names) or '(none)'}. `python -m experiments list` describes them."
        )
    return path


def read_yaml(path):
    """The top-level mapping of a YAML file, or `ConfigError` naming the file."""
    path = pathlib.Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping (key: value); got {type(data).__name__}."
        )
    return data


def describe(name, config_dir=CONFIG_DIR):
    """The one-line description of a named experiment (read, not validated).

    Raises:
        ConfigError: the file is missing or not a YAML mapping.
    """
    return str(read_yaml(config_path(name, config_dir)).get("description", "")).strip()


def load_config(name, profile=DEFAULT_PROFILE, overrides=(), config_dir=CONFIG_DIR):
    """Loads, merges and validates a named experiment.

    Args:
        name: the experiment (file stem in `config_dir`).
        profile: `smoke`, `quick` or `full` (or another profile the file defines).
        overrides: `--set` strings, `"key=value"`, applied last.
        config_dir: where the YAML files are.

    Returns:
        An `ExperimentConfig`.

    Raises:
        ConfigError: unknown name, profile or key; a wrong type; a bad override.
    """
    path = config_path(name, config_dir)
    source = str(path)
    data = read_yaml(path)
    _check_section_keys(data, source, "", allow_profiles=True)

    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise checks.type_error(source, "profiles", profiles, "a mapping profile -> overrides")
    missing = [p for p in PROFILES if p not in profiles]
    if missing:
        raise ConfigError(
            f"{source}: `profiles` must define {', '.join(PROFILES)} (an empty mapping `{{}}` "
            f"is fine); missing: {', '.join(missing)}."
        )
    if profile not in profiles:
        raise ConfigError(
            f"Unknown profile {profile!r} for experiment {name!r}. "
            f"Known profiles: {', '.join(profiles)}."
        )
    for profile_name, section in profiles.items():
        _check_section_keys(section or {}, source, f"profiles.{profile_name}", allow_profiles=False)

    values = _merge(
        {k: v for k, v in DEFAULTS.items() if k != "profiles"},
        {k: v for k, v in data.items() if k != "profiles"},
    )
    # A file's `grid` replaces the default grid's axes it names, keeps the others.
    values = _merge(values, profiles[profile] or {})
    _validate(values, source, profile)

    overrides = tuple(overrides)
    for text in overrides:
        key, value = parse_override(text)
        section = override_as_section(key, value)
        try:
            _check_section_keys(section, f"--set {text}", "", allow_profiles=False)
        except ConfigError as error:
            raise ConfigError(
                str(error).replace(f"--set {text}: unknown key", f"--set {text!r}: unknown key")
            ) from None
        values = _merge(values, section)
        _validate(values, f"--set {text!r}", profile)
    return ExperimentConfig(
        name=name,
        profile=profile,
        path=path,
        values=values,
        overrides=overrides,
        profiles=tuple(profiles),
    )


def _validate(values, source, profile):
    """Validates a merged config in place (normalising numbers); raises `ConfigError`."""
    where = f"{source} (profile {profile})"
    for key, check in VALIDATORS.items():
        values[key] = check(where, key, values[key])
    if values["task"] is None:
        raise ConfigError(f"{where}: `task` is required, e.g. `task: adding`.")

    resources = checks.mapping(where, "resources", values["resources"])
    for key, value in resources.items():
        if key not in RESOURCE_VALIDATORS:
            raise checks.unknown_key(where, "resources", key, RESOURCE_VALIDATORS)
        resources[key] = RESOURCE_VALIDATORS[key](where, f"resources.{key}", value)
    values["resources"] = resources

    models = checks.mapping(where, "models", values["models"])
    for variant, spec in models.items():
        path = f"models.{variant}"
        if not isinstance(variant, str) or not variant.replace("_", "").isalnum():
            raise ConfigError(
                f"{where}: model variant name {variant!r} must be letters, digits and `_`."
            )
        spec = checks.mapping(where, path, spec if spec is not None else {})
        for key, value in spec.items():
            if key == "kind":
                checks.choice(MODEL_KINDS)(where, f"{path}.kind", value)
            elif key in VALIDATORS and key in HYPERPARAMETER_KEYS:
                spec[key] = VALIDATORS[key](where, f"{path}.{key}", value)
            else:
                raise checks.unknown_key(where, path, key, ("kind",) + HYPERPARAMETER_KEYS)
        if "kind" not in spec and variant not in MODEL_KINDS:
            raise ConfigError(
                f"{where}: `{path}` needs `kind: <{'|'.join(MODEL_KINDS)}>` "
                "(it is not a built-in kind)."
            )
        models[variant] = spec
    values["models"] = models
    known_variants = list(MODEL_KINDS) + [v for v in models if v not in MODEL_KINDS]

    grid = checks.mapping(where, "grid", values["grid"])
    for axis in REQUIRED_AXES:
        if axis not in grid:
            raise ConfigError(f"{where}: `grid.{axis}` is required (a list of values).")
    for axis, axis_values in grid.items():
        path = f"grid.{axis}"
        if axis not in AXIS_VALIDATORS and axis not in HYPERPARAMETER_KEYS:
            raise checks.unknown_key(where, "grid", axis, REQUIRED_AXES + HYPERPARAMETER_KEYS)
        if not isinstance(axis_values, list) or not axis_values:
            raise checks.type_error(
                where, path, axis_values, "a non-empty list", f"Example: `{path}: [1, 2]`."
            )
        check = AXIS_VALIDATORS.get(axis) or VALIDATORS[axis]
        checked = [check(where, f"{path}[{i}]", v) for i, v in enumerate(axis_values)]
        if len({json.dumps(v, sort_keys=True) for v in checked}) != len(checked):
            raise ConfigError(f"{where}: `{path}` lists a value twice: {axis_values!r}.")
        grid[axis] = checked
    for variant in grid["model"]:
        if variant not in known_variants:
            raise ConfigError(
                f"{where}: `grid.model` names unknown model {variant!r}. Known: "
                f"{', '.join(known_variants)} (add variants under `models:`)."
            )
    values["grid"] = grid
