"""The grid of a sweep: every combination of the config's `grid` axes is one `GridPoint`.

A grid point's hyperparameters are the config's top-level values, then its model
variant's overrides, then its extra-axis values. Its run name (`vanilla-L100-s0`, extra
axes appended as `-units32`, `-lr1e-3`) is the same in MLflow and TensorBoard and names
its logged model; a factory listed in
`grid.model` as `package.module:factory` is named by its function (`factory-L100-s0`).

Example:

>>> cfg = load_config("long_dependency", profile="smoke", overrides=["lr=0.01"])
>>> [p.name for p in expand_grid(cfg)][:2]
['vanilla-L5-s0', 'deep-L5-s0']
"""

import copy
import dataclasses
import itertools
import json

from experiments.config.checks import factory_name, is_factory
from experiments.config.loading import stable_hash
from experiments.config.settings import REQUIRED_AXES, Hyperparameters
from experiments.errors import ConfigError
from experiments.schema import TASK_PARAM_PREFIX


@dataclasses.dataclass(frozen=True)
class GridPoint:
    """One combination of the grid axes: one training run, one MLflow child run.

    Attributes:
        index: position in the grid (0-based, in grid order).
        name: run name, e.g. `vanilla-L100-s0` (extra axes appended: `-units32`).
        axes: axis -> value for this point.
        task: the task name (`datasets.TASKS`).
        model: the model variant's name (`vanilla`, a `models:` key, or the factory's
            name for a `package.module:factory` listed in `grid.model`).
        kind: the variant's kind (`vanilla`, `deep`, `lstm`, `gru`, or
            `package.module:factory`).
        length: the dependency length.
        seed: the run seed.
        hyperparameters: the point's `Hyperparameters`.
        task_params: extra keyword arguments of `datasets.make`.
        config_hash: hash of the identity, every hyperparameter and `task_params`
            (`point_hash`; resume matches on it).
    """

    index: int
    name: str
    axes: dict
    task: str
    model: str
    kind: str
    length: int
    seed: int
    hyperparameters: Hyperparameters
    task_params: dict
    config_hash: str = ""

    def identity(self):
        """What the point is besides its hyperparameters: task, model, kind, length, seed."""
        return {
            "task": self.task,
            "model": self.model,
            "kind": self.kind,
            "length": self.length,
            "seed": self.seed,
        }

    def params(self):
        """The params of the point's child run: identity, hyperparameters, `task_params.*`.

        Only what applies, once: `kind` where it is not the model's name already,
        `num_layers` for a `deep` stack given one width for every layer (a per-layer
        `units` list counts them itself; other kinds have one layer), `solved_patience`
        with `stop_when_solved`, `clipnorm_scope` with a `clipnorm`. The config hash
        (`point_hash`) still covers them all.
        """
        params = {**self.identity(), **self.hyperparameters.as_params()}
        hp = self.hyperparameters
        if self.kind == self.model:
            del params["kind"]
        if self.kind != "deep" or isinstance(hp.units, list):
            del params["num_layers"]
        if not hp.stop_when_solved:
            del params["solved_patience"]
        if hp.clipnorm is None:
            del params["clipnorm_scope"]
        params.update({f"{TASK_PARAM_PREFIX}{k}": v for k, v in self.task_params.items()})
        return params

    def label(self):
        """Short human label for progress lines: `vanilla L=100 seed 1`."""
        extra = " ".join(f"{k}={v}" for k, v in self.axes.items() if k not in REQUIRED_AXES)
        return f"{self.model} L={self.length} seed {self.seed} {extra}".strip()


def point_hash(identity, hyperparameters, task_params):
    """The config hash of a grid point (the same formula since the first sweeps: resume)."""
    hparams = {**identity, **hyperparameters.as_params()}
    return stable_hash({"hparams": hparams, "task_params": task_params})


def _float_text(value):
    """0.001 -> `1e-3`, 0.0025 -> `2p5e-3`, 0.9 -> `0p9`, 2.0 -> `2`: short, and no `.`."""
    if value != 0 and abs(value) < 0.1:
        mantissa, exponent = f"{value:.6e}".split("e")
        text = f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    else:
        text = f"{value:.6g}"
    return text.replace(".", "p")


def axis_value_text(value):
    """An axis value as it stands in a run name, in the characters a run name may hold.

    Run names are also MLflow model names, which refuse `/ : . % " '`, and TensorBoard
    folder names: a value keeps letters, digits, `-` and `_` only (`lr1e-3`, `units32`,
    `activationrelu`, `units64_32`).
    """
    if isinstance(value, float):
        text = _float_text(value)
    elif isinstance(value, bool):
        text = str(value).lower()
    else:
        text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    text = "".join(c if c.isalnum() or c in "-_" else "_" for c in text)
    return "_".join(part for part in text.split("_") if part) or "_"


def _axis_suffix(key, value):
    return f"{key}{axis_value_text(value)}"


def _point(config, index, axes):
    variant = config.variants[axes["model"]]
    if is_factory(axes["model"]):  # run names hold neither `:` nor `.`
        axes = {**axes, "model": factory_name(axes["model"])}
    overrides = {k: v for k, v in variant.items() if k != "kind"}
    overrides.update({k: v for k, v in axes.items() if k not in REQUIRED_AXES})
    hyperparameters = dataclasses.replace(config.hyperparameters, **overrides)
    one_layer = variant["kind"] != "deep" and not is_factory(variant["kind"])
    if isinstance(hyperparameters.units, list) and one_layer:
        raise ConfigError(
            f"{config.source_of('units')}: `units` {hyperparameters.units!r} is a per-layer "
            f"list, but model {axes['model']!r} ({variant['kind']}) has one layer. Give "
            "it one integer; per-layer lists are for `deep` variants "
            "(`models.<name>.units`)."
        )
    name = f"{axes['model']}-L{axes['length']}-s{axes['seed']}"
    name += "".join(f"-{_axis_suffix(k, v)}" for k, v in axes.items() if k not in REQUIRED_AXES)
    point = GridPoint(
        index=index,
        name=name,
        axes=axes,
        task=config.settings.task,
        model=axes["model"],
        kind=variant["kind"],
        length=axes["length"],
        seed=axes["seed"],
        hyperparameters=hyperparameters,
        task_params=copy.deepcopy(config.settings.task_params),
    )
    config_hash = point_hash(point.identity(), hyperparameters, point.task_params)
    return dataclasses.replace(point, config_hash=config_hash)


def point_with_seed(config, point, seed):
    """The grid point `point` with another seed (an extra seed of its cell, `sweep.seeds`)."""
    axes = {**point.axes, "seed": seed}
    if is_factory(point.kind) and point.kind in config.variants:
        axes["model"] = point.kind  # listed in `grid.model` as `package.module:factory`
    return _point(config, point.index, axes)


def expand_grid(config):
    """All grid points of a config, in grid order (the `grid` keys' order).

    Args:
        config: an `ExperimentConfig`.

    Returns:
        A list of `GridPoint`.
    """
    grid = config.settings.grid
    axes_order = list(grid)
    points = [
        _point(config, index, dict(zip(axes_order, combo)))
        for index, combo in enumerate(itertools.product(*(grid[a] for a in axes_order)))
    ]
    names = [p.name for p in points]
    if len(set(names)) != len(names):
        raise ConfigError(
            f"{config.path}: two grid points share a run name; axis values collide: {names}"
        )
    return points
