"""Named-experiment configs: loading, merging and validation.

One YAML file per named experiment lives in `experiments/configs/<name>.yaml`. A file
sets only what differs from the defaults (`config.settings`, where every key is declared
once with its meaning), plus a `profiles` section with the `smoke` / `quick` / `full`
overrides. Loading applies, in order:

    defaults  <-  the file's top level  <-  profiles[<profile>]  <-  --set key=value

Dictionaries (`grid`, `models`, `task_params`, `resources`) merge key by key; lists and
scalars are replaced. The result is validated: an unknown key or a value of the wrong
type raises `ConfigError` (a `ValueError`) that names the key and where it came from
(the file and section, or the `--set` argument).

Example:

>>> cfg = load_config("long_dependency", profile="smoke", overrides=["lr=0.01"])
>>> cfg.hyperparameters.lr, cfg.settings.grid["length"]
(0.01, [5, 10])
"""

import copy
import dataclasses
import difflib
import functools
import hashlib
import json
import pathlib
import re

import yaml

from experiments.config import checks
from experiments.config.overrides import override_as_section, parse_override
from experiments.config.settings import (
    AXES,
    CHECKS,
    DEFAULT_PROFILE,
    DEFAULTS,
    FILE_KEYS,
    HYPERPARAMETER_KEYS,
    MODEL_KINDS,
    PROFILES,
    REQUIRED_AXES,
    RESOURCE_CHECKS,
    SWEEP_FIELDS,
    Hyperparameters,
    SweepSettings,
)
from experiments.errors import ConfigError

CONFIG_DIR = pathlib.Path(__file__).resolve().parents[1] / "configs"
# An experiment name is also a folder name under the output roots: never a path.
EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9_-]+")


# ---------------------------------------------------------------- the config
@dataclasses.dataclass
class ExperimentConfig:
    """A loaded, merged and validated experiment config.

    Attributes:
        name: the named experiment (the file stem).
        profile: the profile applied.
        path: the YAML file.
        values: every key of `DEFAULTS`, resolved (what `to_yaml` writes and the hash covers).
        overrides: the `--set` arguments applied, as given.
        profiles: the profile names the file defines.
    """

    name: str
    profile: str
    path: pathlib.Path
    values: dict
    overrides: tuple = ()
    profiles: tuple = PROFILES

    @functools.cached_property
    def settings(self):
        """The sweep-level keys, typed (`SweepSettings`)."""
        return SweepSettings(**{field.name: self.values[field.name] for field in SWEEP_FIELDS})

    @functools.cached_property
    def hyperparameters(self):
        """The top-level model and training keys, typed: what every variant starts from."""
        return Hyperparameters(**{key: self.values[key] for key in HYPERPARAMETER_KEYS})

    @property
    def variants(self):
        """Model variant name -> its overrides (with `kind`); a `package.module:factory`
        listed in `grid.model` is a variant of its own, named by the spec."""
        variants = {kind: {"kind": kind} for kind in MODEL_KINDS}
        for name, spec in self.values["models"].items():
            variants[name] = merge(variants.get(name, {}), spec)
        for name in self.values["grid"]["model"]:
            if checks.is_factory(name):
                variants[name] = {"kind": name}
        return variants

    def source_of(self, key):
        """Where a key's value came from, for messages: its last `--set`, else the file.

        `key` is a key (`lr`: any `--set` with that part) or a dotted path
        (for the key models.mine.kind: a `--set` of that path, of a part of it or within it)."""
        for text in reversed(self.overrides):
            dotted = text.split("=", 1)[0].strip()
            if key in dotted.split(".") or _nested(dotted, key) or _nested(key, dotted):
                return f"--set {text!r}"
        return f"{self.path} (profile {self.profile})"

    def hashed_values(self):
        """What identifies a sweep: every value but the description, `resources` and
        `group_seeds`.

        `resources` say where the sweep runs, `group_seeds` how its seeds share a
        program, not what it computes. The default backend is left out too, so sweeps
        logged before `backend` existed keep their hash (and resume); another backend
        computes other numbers and makes another sweep.
        """
        unhashed = ("description", "resources", "group_seeds")
        values = {k: v for k, v in self.values.items() if k not in unhashed}
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


def _nested(outer, inner):
    """Whether dotted path `inner` is `outer` or lies within it."""
    return inner == outer or inner.startswith(outer + ".")


def stable_hash(obj, length=12):
    """A short SHA-256 of a JSON-serialisable object (keys sorted)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def merge(base, override):
    """Returns `base` updated by `override`; nested dicts merge, the rest replaces."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# ------------------------------------------------------------------- files
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


# ------------------------------------------------------------------ loading
def load_config(name, profile=DEFAULT_PROFILE, overrides=(), config_dir=CONFIG_DIR):
    """Loads, merges and validates a named experiment.

    Args:
        name: the experiment (file stem in `config_dir`).
        profile: `smoke`, `quick` or `full`, or another profile the file defines (`long`).
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
    check_section_keys(data, source, "", allow_profiles=True)
    profiles = _profiles(data, source, name, profile)
    values = merge(DEFAULTS, {k: v for k, v in data.items() if k != "profiles"})
    # A file's `grid` replaces the default grid's axes it names, keeps the others.
    values = merge(values, profiles[profile] or {})
    validate(values, source, profile)
    overrides = tuple(overrides)
    for text in overrides:
        values = _apply_override(values, text, profile)
    return ExperimentConfig(
        name=name,
        profile=profile,
        path=path,
        values=values,
        overrides=overrides,
        profiles=tuple(profiles),
    )


def _profiles(data, source, name, profile):
    """The file's `profiles`, checked: the required ones exist, `profile` is one of them."""
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
        check_section_keys(section or {}, source, f"profiles.{profile_name}", allow_profiles=False)
    return profiles


def _apply_override(values, text, profile):
    """`values` with one `--set key=value` merged in, validated; errors name the argument."""
    key, value = parse_override(text)
    source = f"--set {text!r}"
    check_section_keys(override_as_section(key, value), source, "", allow_profiles=False)
    values = merge(values, override_as_section(key, value))
    validate(values, source, profile)
    return values


def check_section_keys(section, source, path, *, allow_profiles):
    """Unknown-key check of one override section (file top level, a profile, a `--set`)."""
    if not isinstance(section, dict):
        raise checks.type_error(source, path, section, "a mapping (key: value)")
    known = [k for k in FILE_KEYS if allow_profiles or k != "profiles"]
    for key, value in section.items():
        if key not in known:
            if key == "profiles":
                raise ConfigError(f"{source}: `{path}.profiles` is not allowed inside a profile.")
            raise checks.unknown_key(source, path, key, known)
        if key == "resources" and isinstance(value, dict):
            for sub in value:
                if sub not in RESOURCE_CHECKS:
                    resources = f"{path + '.' if path else ''}resources"
                    raise checks.unknown_key(source, resources, sub, RESOURCE_CHECKS)


# --------------------------------------------------------------- validation
def validate(values, source, profile):
    """Validates a merged config in place (normalising numbers); raises `ConfigError`."""
    where = f"{source} (profile {profile})"
    for key, check in CHECKS.items():
        values[key] = check(where, key, values[key])
    if values["task"] is None:
        raise ConfigError(f"{where}: `task` is required, e.g. `task: adding`.")
    values["resources"] = _checked_resources(where, values["resources"])
    values["models"] = _checked_models(where, values["models"])
    known_variants = [*MODEL_KINDS, *(v for v in values["models"] if v not in MODEL_KINDS)]
    values["grid"] = _checked_grid(where, values["grid"], known_variants)


def _checked_resources(where, resources):
    for key, value in resources.items():
        if key not in RESOURCE_CHECKS:
            raise checks.unknown_key(where, "resources", key, RESOURCE_CHECKS)
        resources[key] = RESOURCE_CHECKS[key](where, f"resources.{key}", value)
    return resources


def _checked_models(where, models):
    """Each `models.<variant>`: a name, a known `kind`, hyperparameters only."""
    for variant, spec in models.items():
        path = f"models.{variant}"
        if not isinstance(variant, str) or not variant.replace("_", "").isalnum():
            raise ConfigError(
                f"{where}: model variant name {variant!r} must be letters, digits and `_`."
            )
        spec = checks.mapping(where, path, spec if spec is not None else {})
        for key, value in spec.items():
            if key == "kind":
                checks.model_kind(MODEL_KINDS)(where, f"{path}.kind", value)
            elif key in HYPERPARAMETER_KEYS:
                spec[key] = CHECKS[key](where, f"{path}.{key}", value)
            else:
                raise checks.unknown_key(where, path, key, ("kind", *HYPERPARAMETER_KEYS))
        if "kind" not in spec and variant not in MODEL_KINDS:
            raise ConfigError(
                f"{where}: `{path}` needs `kind: <{'|'.join(MODEL_KINDS)}>` or "
                "`kind: package.module:factory` (it is not a built-in kind)."
            )
        models[variant] = spec
    return models


def _checked_grid(where, grid, known_variants):
    """The grid's axes: the required ones present, each a list of distinct valid values."""
    for axis in REQUIRED_AXES:
        if axis not in grid:
            raise ConfigError(f"{where}: `grid.{axis}` is required (a list of values).")
    for axis, axis_values in grid.items():
        path = f"grid.{axis}"
        if axis not in AXES and axis not in HYPERPARAMETER_KEYS:
            raise checks.unknown_key(where, "grid", axis, REQUIRED_AXES + HYPERPARAMETER_KEYS)
        if not isinstance(axis_values, list) or not axis_values:
            raise checks.type_error(
                where, path, axis_values, "a non-empty list", f"Example: `{path}: [1, 2]`."
            )
        check = AXES[axis][0] if axis in AXES else CHECKS[axis]
        checked = [check(where, f"{path}[{i}]", v) for i, v in enumerate(axis_values)]
        if len({json.dumps(v, sort_keys=True) for v in checked}) != len(checked):
            raise ConfigError(f"{where}: `{path}` lists a value twice: {axis_values!r}.")
        grid[axis] = checked
    for variant in grid["model"]:
        if variant not in known_variants and not checks.is_factory(variant):
            raise ConfigError(
                f"{where}: `grid.model` names unknown model {variant!r}. Known: "
                f"{', '.join(known_variants)} (add variants under `models:`, or name a "
                "factory of your own as `package.module:factory`)."
            )
    _check_run_names(where, grid["model"], known_variants)
    return grid


def _check_run_names(where, models, known_variants):
    """A factory listed in `grid.model` is named by its function: two of one name, or one
    named like a variant, would share run names."""
    named = {}
    for model in models:
        name = checks.factory_name(model) if checks.is_factory(model) else model
        taken = named.get(name) or (name in known_variants and name != model and name)
        if taken:
            raise ConfigError(
                f"{where}: `grid.model` {model!r} would be named {name!r} in run names, like "
                f"{taken!r}. Declare it under `models:` with a name of its own, e.g. "
                f"`models: {{my_{name}: {{kind: {model}}}}}`, and list that name."
            )
        named[name] = model
