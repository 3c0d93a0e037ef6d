"""Configs of the named experiments: the keys, loading, `--set`, and the grid.

- `settings`: every key, declared once (default, check, doc, the part that reads it):
  `SweepSettings`, `Hyperparameters`, and what is derived from them (`DEFAULTS`, the key
  table, the `--set` help).
- `loading`: `load_config(name, profile, overrides)` -> `ExperimentConfig`, validated.
- `overrides`: one `--set key=value` argument.
- `grid`: `expand_grid(config)` -> one `GridPoint` per combination of the grid axes.
- `checks`: the value checks, each naming where a bad value came from.
- `registries`: the probe and report-kind names a config may give (strings only).

A grid point's hyperparameters are the config's top-level values, then its model
variant's overrides (`models:`), then its extra-axis values, e.g.

    models:
      deep3: {kind: deep, num_layers: 3, units: 40}
      vanilla_identity: {kind: vanilla, recurrent_initializer: identity}
"""

from experiments.config.grid import GridPoint, expand_grid
from experiments.config.loading import (
    CONFIG_DIR,
    ExperimentConfig,
    config_path,
    describe,
    experiment_names,
    load_config,
    stable_hash,
)
from experiments.config.overrides import parse_override
from experiments.config.settings import (
    BACKENDS,
    DEFAULT_PROFILE,
    DEFAULTS,
    HYPERPARAMETER_KEYS,
    MODEL_KINDS,
    PROFILES,
    REQUIRED_AXES,
    Hyperparameters,
    SweepSettings,
    key_help,
    key_table_markdown,
)
from experiments.errors import ConfigError

__all__ = [
    "BACKENDS",
    "CONFIG_DIR",
    "DEFAULTS",
    "DEFAULT_PROFILE",
    "HYPERPARAMETER_KEYS",
    "MODEL_KINDS",
    "PROFILES",
    "REQUIRED_AXES",
    "ConfigError",
    "ExperimentConfig",
    "GridPoint",
    "Hyperparameters",
    "SweepSettings",
    "config_path",
    "describe",
    "expand_grid",
    "experiment_names",
    "key_help",
    "key_table_markdown",
    "load_config",
    "parse_override",
    "stable_hash",
]
