"""`--set key=value` arguments: parsing one, and turning it into a config section."""

import yaml

from experiments.errors import ConfigError


def parse_override(text):
    """Parses one `--set key=value` argument into `(dotted_key, value)`.

    The value is read as YAML, so `lr=0.01`, `epochs=3`, `jit_compile=false`,
    `--set grid.length=[10,20]` and `--set models.deep.num_layers=3` all work.

    Raises:
        ConfigError: when `text` has no `=` or the value is not valid YAML.
    """
    if not isinstance(text, str) or "=" not in text:
        raise ConfigError(
            f"--set {text!r}: expected key=value, e.g. `--set lr=0.01` or `--set grid.seed=[0,1]`."
        )
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {text!r}: the key before `=` is empty or malformed.")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as error:
        raise ConfigError(f"--set {text!r}: the value is not valid YAML ({error}).") from None
    return key, value


def override_as_section(dotted_key, value):
    """`("a.b", 1)` -> `{"a": {"b": 1}}`: a dotted `--set` key as a config section."""
    section = value
    for part in reversed(dotted_key.split(".")):
        section = {part: section}
    return section
