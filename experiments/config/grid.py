"""The grid of a sweep: every combination of the config's `grid` axes is one `GridPoint`.

A grid point's hyperparameters are the config's top-level values, then its model
variant's overrides, then its extra-axis values. Its run name (`vanilla-L100-s0`, extra
axes appended as `-units32`) is the same in MLflow and TensorBoard.

Example:

>>> cfg = load_config("long_dependency", profile="smoke", overrides=["lr=0.01"])
>>> [p.name for p in expand_grid(cfg)][:2]
['vanilla-L5-s0', 'deep-L5-s0']
"""

import copy
import dataclasses
import itertools
import json

from experiments.config import HYPERPARAMETER_KEYS, REQUIRED_AXES, ConfigError, stable_hash


@dataclasses.dataclass
class GridPoint:
    """One combination of the grid axes: one training run, one MLflow child run.

    Attributes:
        index: position in the grid (0-based, in grid order).
        name: run name, e.g. `vanilla-L100-s0` (extra axes appended: `-units32`).
        axes: axis -> value for this point.
        hparams: every hyperparameter of this point (flat; logged as params):
            `task`, `model`, `kind`, `length`, `seed`, the model and training keys,
            and `task_params` entries as `task_params.<key>`.
        config_hash: hash of `hparams` and `task_params` (resume matches on it).
    """

    index: int
    name: str
    axes: dict
    hparams: dict
    task_params: dict
    config_hash: str

    def label(self):
        """Short human label for progress lines: `vanilla L=100 seed 1`."""
        extra = " ".join(f"{k}={v}" for k, v in self.axes.items() if k not in REQUIRED_AXES)
        text = f"{self.axes['model']} L={self.axes['length']} seed {self.axes['seed']}"
        return f"{text} {extra}".strip()


def _axis_suffix(key, value):
    text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    text = "".join(c if c.isalnum() or c in ".-_" else "_" for c in text)
    return f"{key}{text}"


def expand_grid(config):
    """All grid points of a config, in grid order (the `grid` keys' order).

    Args:
        config: an `ExperimentConfig`.

    Returns:
        A list of `GridPoint`.
    """
    grid = config["grid"]
    axes_order = list(grid)
    variants = config.variants
    points = []
    for index, combo in enumerate(itertools.product(*(grid[a] for a in axes_order))):
        axes = dict(zip(axes_order, combo))
        variant = variants[axes["model"]]
        hparams = {key: config[key] for key in HYPERPARAMETER_KEYS}
        hparams.update({k: v for k, v in variant.items() if k != "kind"})
        hparams.update({k: v for k, v in axes.items() if k not in REQUIRED_AXES})
        hparams = {
            "task": config["task"],
            "model": axes["model"],
            "kind": variant["kind"],
            "length": axes["length"],
            "seed": axes["seed"],
            **hparams,
        }
        if isinstance(hparams["units"], list) and variant["kind"] != "deep":
            raise ConfigError(
                f"{config.source_of('units')}: `units` {hparams['units']!r} is a per-layer "
                f"list, but model {axes['model']!r} ({variant['kind']}) has one layer. Give "
                "it one integer; per-layer lists are for `deep` variants "
                "(`models.<name>.units`)."
            )
        name = f"{axes['model']}-L{axes['length']}-s{axes['seed']}"
        name += "".join(f"-{_axis_suffix(k, v)}" for k, v in axes.items() if k not in REQUIRED_AXES)
        task_params = copy.deepcopy(config["task_params"])
        points.append(
            GridPoint(
                index=index,
                name=name,
                axes=axes,
                hparams=hparams,
                task_params=task_params,
                config_hash=stable_hash({"hparams": hparams, "task_params": task_params}),
            )
        )
    names = [p.name for p in points]
    if len(set(names)) != len(names):
        raise ConfigError(
            f"{config.path}: two grid points share a run name; axis values collide: {names}"
        )
    return points
