"""A grid point's data: its task, training stream and fixed sets, recorded on its run.

The task is `datasets.make(task, length, seed)`; the validation and test sets are drawn
once, with seeds of their own (`task.split_seeds`), and streamed batch by batch (a full
profile's test set would be hundreds of MB); training batches are drawn fresh every
epoch from the stream. The run records the task, its levels and both fixed sets (as
MLflow dataset inputs, for the runs table's Dataset column).
"""

import dataclasses
import hashlib

import numpy as np

from experiments import schema

EVAL_BATCH_SIZE = 256


@dataclasses.dataclass
class RunData:
    """A grid point's task, training stream, validation set and test set."""

    task: object
    stream: object
    validation: object
    test: object


def prepare_data(point, run_logger):
    """The data of `point`, recorded on its run (tags, dataset inputs, task levels)."""
    import datasets

    hp = point.hyperparameters
    task = datasets.make(point.task, length=point.length, seed=point.seed, **point.task_params)
    seeds = task.split_seeds
    # The batch size is part of a fixed set's seeding: 256 whatever the set's size.
    validation = task.fixed_set(hp.val_samples, seed=seeds["val"], batch_size=EVAL_BATCH_SIZE)
    test = task.fixed_set(hp.test_samples, seed=seeds["test"], batch_size=EVAL_BATCH_SIZE)
    stream = task.dataset(hp.batch_size, hp.steps_per_epoch, seed=seeds["train"])
    run_logger.set_tags(
        {schema.TASK_DESCRIPTION: task.describe(), schema.METRIC: task.metric}, wait=False
    )
    run_logger.log_params(
        {schema.CHANCE: task.chance, schema.SOLVED_THRESHOLD: task.solved_threshold},
        wait=False,
    )
    for context, fixed_set in (("validation", validation), ("test", test)):
        _log_dataset(run_logger, task, point, fixed_set, context)
    return RunData(task, stream, validation, test)


def _log_dataset(run_logger, task, point, fixed_set, context):
    """Records a fixed set as an MLflow dataset input of the run (its first batch as sample).

    A set is generated batch by batch from its seed and may not fit in memory, so its
    digest covers what determines it (the task with its settings, size, seed, batch
    size) and its first batch's bytes, not every sequence.
    """
    x, y = fixed_set[0][:2]
    identity = f"{task.describe()}|n={fixed_set.n}|seed={fixed_set.seed}|{fixed_set.batch_size}"
    fingerprint = hashlib.sha256(identity.encode())
    fingerprint.update(np.ascontiguousarray(x).tobytes())
    fingerprint.update(np.ascontiguousarray(y).tobytes())
    name = f"{point.task}-L{point.length}-s{point.seed}"
    run_logger.log_dataset(name, x, y, context, fingerprint.hexdigest()[:12])
