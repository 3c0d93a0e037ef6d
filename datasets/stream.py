"""Streams batches of a task to Keras as `keras.utils.PyDataset`s: fresh
training batches (`TaskStream`) and fixed validation / test sets
(`FixedTaskSet`), generated on demand."""

import math

import keras
import numpy as np

from datasets.seeding import FIXED_DOMAIN, STREAM_DOMAIN, check_int, check_seed, generator


class TaskStream(keras.utils.PyDataset):
    """Fresh, reproducible batches of a task, generated on demand.

    Batch `index` of epoch `epoch` is drawn from a generator seeded with
    `(STREAM_DOMAIN, seed, epoch, index)`: it does not depend on which batches
    were drawn before or on the order workers ask for them, and it never
    coincides with `task.sample(n, seed=...)`. Every `on_epoch_begin` after
    the first advances `epoch`, so each epoch is new data and `fit` sees
    epochs 0, 1, 2, ...; build a new stream (or set `epoch`) to replay one.
    (The counter follows `on_epoch_begin`, which Keras calls once per epoch;
    the TensorFlow trainer also calls `on_epoch_end` once before the first
    epoch, so counting ends would skip epoch 0.) `fit(shuffle=True)` only
    permutes the order of an epoch's batches, not their content.

    Args:
        task: a `datasets` task.
        batch_size: sequences per batch (int >= 1).
        steps_per_epoch: batches per epoch (int >= 1).
        seed: stream seed (int >= 0).
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size` of
            `keras.utils.PyDataset`. The default (one worker, no
            multiprocessing) is enough: generating a batch costs far less than
            a training step. Threads (`workers > 1`) are fine; multiprocessing
            is untested (workers may hold a stale copy of the epoch counter).

    Example:

    ```pycon
    >>> task = datasets.make("adding", length=50)
    >>> stream = task.dataset(batch_size=64, steps_per_epoch=100, seed=1)
    >>> model.fit(stream, epochs=10)
    ```
    """

    def __init__(self, task, batch_size, steps_per_epoch, seed, **kwargs):
        super().__init__(**kwargs)
        self.task = task
        self.batch_size = check_int(batch_size, "batch_size")
        self.steps_per_epoch = check_int(steps_per_epoch, "steps_per_epoch")
        self.seed = check_seed(seed)
        self.epoch = 0
        self._begun = False
        self._sample_weight = task.sample_weight(self.batch_size)

    def __len__(self):
        return self.steps_per_epoch

    def __getitem__(self, index):
        if not 0 <= index < self.steps_per_epoch:
            raise IndexError(
                f"Batch index {index} out of range for a stream of "
                f"{self.steps_per_epoch} batches per epoch."
            )
        rng = generator(STREAM_DOMAIN, self.seed, self.epoch, index)
        x, y = self.task._generate(rng, self.batch_size)
        if self._sample_weight is None:
            return x, y
        return x, y, self._sample_weight

    def on_epoch_begin(self):
        if self._begun:
            self.epoch += 1
        self._begun = True

    def epoch_arrays(self, epoch):
        """Every batch of epoch `epoch` at once, the same batches `fit` reads in it.

        Returns:
            `(x, y)`, or `(x, y, sample_weight)` when the task weights its steps, each
            stacked `(steps_per_epoch, batch_size, ...)`.
        """
        batches = [
            self.task._generate(generator(STREAM_DOMAIN, self.seed, epoch, index), self.batch_size)
            for index in range(self.steps_per_epoch)
        ]
        x = np.stack([batch[0] for batch in batches])
        y = np.stack([batch[1] for batch in batches])
        if self._sample_weight is None:
            return x, y
        weights = np.broadcast_to(
            self._sample_weight, (self.steps_per_epoch, *self._sample_weight.shape)
        )
        return x, y, weights


class FixedTaskSet(keras.utils.PyDataset):
    """A fixed set of `n` sequences of a task, generated batch by batch.

    Batch `index` is drawn from a generator seeded with
    `(FIXED_DOMAIN, seed, batch_size, index)`, so every read (each epoch's
    validation, a later `evaluate`) sees the same sequences, in any order of
    access, while only one batch is in memory. Built by `task.fixed_set`.

    Args:
        task: a `datasets` task.
        n: number of sequences (int >= 1).
        seed: seed of the set (int >= 0).
        batch_size: sequences per batch (int >= 1); the last batch holds the
            remainder.
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size` of
            `keras.utils.PyDataset`.
    """

    def __init__(self, task, n, seed, batch_size=256, **kwargs):
        super().__init__(**kwargs)
        self.task = task
        self.n = check_int(n, "n")
        self.seed = check_seed(seed)
        self.batch_size = check_int(batch_size, "batch_size")

    def __len__(self):
        return math.ceil(self.n / self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch index {index} out of range for a set of {len(self)} batches.")
        size = min(self.batch_size, self.n - index * self.batch_size)
        x, y = self.task._generate(generator(FIXED_DOMAIN, self.seed, self.batch_size, index), size)
        weights = self.task.sample_weight(size)
        return (x, y) if weights is None else (x, y, weights)

    def batches(self):
        """Every batch in order, as `(x, y)` or `(x, y, sample_weight)`."""
        for index in range(len(self)):
            yield self[index]
