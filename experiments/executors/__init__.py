"""Executors: where the grid points of a sweep train.

The driver (`experiments.sweep`) owns every run's lifecycle: it creates the child runs,
marks them FAILED or KILLED, skips what is done. An executor only runs
`training.run_job(job)` somewhere and hands back its `schema.GridPointOutcome`. Every
executor implements `Executor` (`executors/base.py`); the runner picks one by its
`--executor` name in `EXECUTORS`:

- `local` (`executors/local.py`): in the driver's process (`--workers 1`) or in a pool
  of worker processes on this machine.
- `ray` (`executors/ray_cluster.py`): one Ray task per grid point, on a local Ray
  instance or a cluster.

Adding an executor: a module with an `Executor` subclass, and one entry in `EXECUTORS`.
"""

import importlib

from experiments.errors import InputError
from experiments.executors.base import Executor

# `--executor` name -> "module:class". Imported on use: Ray is an optional dependency.
EXECUTORS = {
    "local": "experiments.executors.local:LocalExecutor",
    "ray": "experiments.executors.ray_cluster:RayExecutor",
}


def executor_class(name):
    """The `Executor` class of an `--executor` name.

    Raises:
        ValueError: an unknown name (listing the known ones), or an executor whose
            optional dependency is not installed (naming what to install).
    """
    if name not in EXECUTORS:
        raise InputError(f"Unknown executor {name!r}. Known executors: {', '.join(EXECUTORS)}.")
    module_name, attribute = EXECUTORS[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            raise InputError(
                f"The {name!r} executor is not available ({module_name} is missing)."
            ) from None
        raise InputError(
            f"The {name!r} executor needs the package {error.name!r}; install it "
            f"(e.g. `pip install -r requirements-{name}.txt`)."
        ) from None
    return getattr(module, attribute)


__all__ = ["EXECUTORS", "Executor", "executor_class"]
