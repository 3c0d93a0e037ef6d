"""Synthetic sequence tasks whose dependency length is a dial.

Public API:

- `TASKS`: the task names.
- `make(name, *, length, seed=0, **params)`: build a task (see `base.Task`
  for the attributes every task has, and each task class for its
  construction, shapes, chance level and solved threshold).
- `split_seed(seed, split)`: the seed of the `"train"`, `"val"` or `"test"`
  split of a run seed (also `task.split_seeds`).
- `Task`, `Output`: the task contract; `is_solved(value, threshold, higher_is_better)`.
- `TaskParameterError`: a `ValueError` naming the parameter that cannot be used.

Example:

```pycon
>>> import datasets
>>> task = datasets.make("adding", length=100, seed=0)
>>> x_val, y_val = task.sample(1000, seed=task.split_seeds["val"])
>>> stream = task.dataset(batch_size=64, steps_per_epoch=100,
...                       seed=task.split_seeds["train"])
```

Note: inside this repository the name `datasets` is this package, which hides
Hugging Face's `datasets`. Asking it for an attribute it lacks (as code written
for Hugging Face would, e.g. `datasets.Dataset`) raises an `AttributeError`
that says so, rather than a bare one.
"""

import inspect

from datasets.adding import Adding
from datasets.base import SPLITS, Output, Task, TaskParameterError, is_solved, split_seed
from datasets.copy_memory import CopyMemory
from datasets.delayed_recall import DelayedRecall
from datasets.ewma import EWMA
from datasets.first_symbol import FirstSymbol
from datasets.temporal_order import TemporalOrder

_TASK_CLASSES = {
    cls.name: cls for cls in (DelayedRecall, Adding, CopyMemory, FirstSymbol, EWMA, TemporalOrder)
}
TASKS = tuple(_TASK_CLASSES)

__all__ = [
    "TASKS",
    "SPLITS",
    "Output",
    "Task",
    "TaskParameterError",
    "is_solved",
    "make",
    "split_seed",
]


def make(name, *, length, seed=0, **params):
    """Builds a task.

    Args:
        name: one of `datasets.TASKS`.
        length: the dependency-length dial, as the papers define it: the
            sequence length for `adding`, `ewma` and `temporal_order`; the
            number of blanks T for `copy_memory`; the lag for
            `delayed_recall`; the steps after the first symbol for
            `first_symbol`.
        seed: default seed of `task.sample()`, and the run seed that
            `task.split_seeds` derive from.
        **params: the task's own parameters (e.g. `alphabet_size`, `alpha`);
            unknown ones are an error.

    Returns:
        A `Task`.
    """
    if name not in _TASK_CLASSES:
        raise TaskParameterError("task", f"Unknown task {name!r}. Known tasks: {', '.join(TASKS)}.")
    cls = _TASK_CLASSES[name]
    allowed = [
        p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "length", "seed")
    ]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise TaskParameterError(
            "task_params",
            f"Unknown parameter(s) {', '.join(unknown)} for task {name!r}. "
            "Its parameters are: "
            f"{', '.join(allowed) if allowed else 'none besides length and seed'}.",
        )
    return cls(length, seed, **params)


def __getattr__(attribute):
    # Called only for missing attributes: most likely code that expected
    # Hugging Face's `datasets` and found this package first on sys.path.
    if attribute.startswith("__"):
        raise AttributeError(attribute)
    raise AttributeError(
        f"module 'datasets' has no attribute {attribute!r}: inside vanilla-rnn-lab, "
        f"`datasets` is the project's synthetic-task package ({__file__}), which "
        f"shadows Hugging Face's `datasets`. Run that code from outside the repo."
    )
