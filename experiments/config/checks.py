"""Checks of config values: each takes `(source, path, value)` and returns the value,
normalised, or raises `ConfigError` naming where it came from (the file and section, or
the `--set` argument), the key, what was given and what is allowed."""

import copy
import difflib
import math
import numbers
import re

import yaml

from experiments.errors import ConfigError


def where(source, path):
    return f"{source}: `{path}`" if path else source


def type_error(source, path, value, expected, hint=""):
    return ConfigError(
        f"{where(source, path)} must be {expected}; got {value!r} "
        f"({type(value).__name__}).{' ' + hint if hint else ''}"
    )


def unknown_key(source, path, key, known):
    close = difflib.get_close_matches(str(key), list(known), n=1)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    location = f"{source}: unknown key `{path + '.' if path else ''}{key}`"
    return ConfigError(f"{location}.{hint} Known keys: {', '.join(sorted(map(str, known)))}.")


def is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def positive_int(source, path, value):
    if not is_int(value) or value < 1:
        raise type_error(source, path, value, "an integer >= 1")
    return int(value)


# Validation (and so the time to solve) is measured once per epoch; this bounds its
# resolution in updates.
MAX_STEPS_PER_EPOCH = 100


def steps_per_epoch(source, path, value):
    if not is_int(value) or value < 1:
        raise type_error(source, path, value, "an integer >= 1")
    if value > MAX_STEPS_PER_EPOCH:
        raise ConfigError(
            f"{where(source, path)} must be at most {MAX_STEPS_PER_EPOCH} (got {value}): the "
            "validation metric, and so the time to solve, is checked once per epoch. Use "
            "more epochs of fewer steps for the same budget."
        )
    return int(value)


# Longer sequences do not fit a batch in memory on any machine this suite targets
# (32 sequences of a million steps are gigabytes per input feature).
MAX_LENGTH = 100_000


def length(source, path, value):
    value = positive_int(source, path, value)
    if value > MAX_LENGTH:
        raise ConfigError(
            f"{where(source, path)} must be at most {MAX_LENGTH:,} steps (got {value:,}): "
            "a batch of longer sequences does not fit in memory."
        )
    return value


def non_negative_int(source, path, value):
    if not is_int(value) or value < 0:
        raise type_error(source, path, value, "an integer >= 0")
    return int(value)


def positive_float(source, path, value):
    if isinstance(value, str):  # YAML reads `1e-3` (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    if not is_number(value) or not value > 0 or not math.isfinite(value):
        raise type_error(source, path, value, "a finite number > 0")
    return float(value)


def optional_positive_float(source, path, value):
    if value is None:
        return None
    return positive_float(source, path, value)


def non_negative_float(source, path, value):
    if not is_number(value) or value < 0:
        raise type_error(source, path, value, "a number >= 0")
    return float(value)


def boolean(source, path, value):
    if not isinstance(value, bool):
        raise type_error(source, path, value, "true or false")
    return value


def string(source, path, value):
    if not isinstance(value, str):
        raise type_error(source, path, value, "a string")
    return value


def optional_string(source, path, value):
    if value is None:
        return None
    return string(source, path, value)


def choice(choices):
    """A check that the value is one of `choices`."""

    def check(source, path, value):
        if value not in choices:
            raise ConfigError(
                f"{where(source, path)} must be one of {', '.join(choices)}; got {value!r}."
            )
        return value

    return check


def choice_list(choices):
    """A check that the value is a list of names from `choices`."""

    def check(source, path, value):
        value = string_list(source, path, value)
        for index, item in enumerate(value):
            choice(choices)(source, f"{path}[{index}]", item)
        return value

    return check


# A recurrent layer of the user's own: `package.module:factory` (checked for its syntax only
# here, before TensorFlow loads; `models.factories` imports and tries it later).
FACTORY_SPEC = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")


def is_factory(value):
    """Whether a model kind names a user factory, `package.module:factory`."""
    return isinstance(value, str) and FACTORY_SPEC.fullmatch(value) is not None


def factory_name(spec):
    """The factory's own name, `factory` of `package.module:factory`: what a grid point
    listing the spec directly is called (run names allow neither `:` nor `.`)."""
    return spec.rpartition(":")[2]


def model_kind(kinds):
    """A check that a model kind is a built-in one or `package.module:factory`."""

    def check(source, path, value):
        if value in kinds or is_factory(value):
            return value
        raise ConfigError(
            f"{where(source, path)} must be one of {', '.join(kinds)}, or a factory of your "
            f"own as `package.module:factory` (importable from the working directory); "
            f"got {value!r}."
        )

    return check


def units(source, path, value):
    if is_int(value) and value >= 1:
        return int(value)
    if isinstance(value, list) and value and all(is_int(v) and v >= 1 for v in value):
        return [int(v) for v in value]
    raise type_error(
        source, path, value, "an integer >= 1 or a list of them (one per `deep` layer)"
    )


def activation(source, path, value):
    if value is None:
        return "linear"
    return string(source, path, value)


def initializer(source, path, value):
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) <= {"class_name", "config"} and "class_name" in value:
        return copy.deepcopy(value)
    raise type_error(
        source,
        path,
        value,
        "a Keras initializer name or {class_name: ..., config: {...}}",
        "Example: `recurrent_initializer: {class_name: Identity, config: {gain: 0.9}}`.",
    )


def string_list(source, path, value):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise type_error(source, path, value, "a list of strings")
    return list(value)


def mapping(source, path, value):
    if not isinstance(value, dict):
        raise type_error(source, path, value, "a mapping (key: value)")
    return copy.deepcopy(value)


def yaml_text(value):
    """A value as one line of YAML (`0.001`, `null`, `{num_cpus: 1, num_gpus: 0}`)."""
    return (
        yaml.safe_dump(value, default_flow_style=True, width=1000)
        .strip()
        .removesuffix("...")
        .strip()
    )
