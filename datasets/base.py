"""The task contract shared by every synthetic task, and the seeding rules.

A task is a recipe for random sequences whose dependency length is a dial
(`length`). Subclasses set the constants that describe the task
(`input_dim`, `timesteps`, `output`, `metric`, `chance`, ...) in `__init__`
and implement `_generate(rng, n)`; everything else (seeding, validation,
streaming, `is_solved`, `describe`) lives here.

Seeding and the argument checks live in `datasets.seeding` (train, validation and
test never share a stream).
"""

import dataclasses
import math

import numpy as np

from datasets.seeding import (  # noqa: F401  (the tasks import these from here)
    SAMPLE_DOMAIN,
    SPLITS,
    TaskParameterError,
    check_int,
    check_seed,
    generator,
    split_seed,
)


@dataclasses.dataclass(frozen=True)
class Output:
    """What a model head must produce for a task.

    Args:
        kind: `"regression"` or `"classification"`.
        per_step: `True` when there is one target per time step (the model
            returns sequences), `False` for one target per sequence.
        units: width of the linear head: 1 for regression, the number of
            classes K for classification (the head returns logits).
    """

    kind: str
    per_step: bool
    units: int


def one_hot(symbols, depth):
    """One-hot float32 encoding of an integer array, shape `symbols.shape + (depth,)`."""
    return np.eye(depth, dtype=np.float32)[symbols]


def is_solved(value, threshold, higher_is_better):
    """Whether a metric value reaches a solved threshold (NaN, or no threshold: no)."""
    value, threshold = float(value), float(threshold)
    if math.isnan(value) or math.isnan(threshold):
        return False
    return value >= threshold if higher_is_better else value <= threshold


class Task:
    """Base class of the synthetic sequence tasks.

    Subclasses set, in `__init__`: `input_dim`, `timesteps`, `output`,
    `step_weights`, `metric`, `higher_is_better`, `chance`,
    `solved_threshold`, `baseline_loss`, `params`; and implement
    `_generate(rng, n)`, `_loss()` and `_metrics()`.

    Args:
        length: the task's dependency-length dial (see each task).
        seed: default seed of `sample()`; also the run seed from which
            `split_seeds` are derived.

    Attributes:
        name: the task name, as in `datasets.TASKS`.
        length: the dial given to `make`.
        seed: the task's default seed.
        params: the task's own parameters (for logging), without `length`.
        input_dim: D, the number of input features per step.
        timesteps: T, the total number of steps of every sequence.
        output: an `Output` (kind, per_step, units) to build the model head.
        step_weights: `None`, or a float32 `(T,)` array of per-step loss
            weights (pass them as Keras `sample_weight`, tiled to `(B, T)`).
        metric: name of the main metric, `"mse"` or `"accuracy"`.
        higher_is_better: whether a larger `metric` is better.
        chance: main-metric value of the best input-independent predictor.
        solved_threshold: main-metric value that counts as solved.
        baseline_loss: value of `loss` (as Keras reports it, with
            `step_weights` applied) of the best input-independent predictor.
    """

    name = None

    def __init__(self, length, seed=0):
        self.length = check_int(length, "length")
        self.seed = check_seed(seed)
        self.params = {}
        self.step_weights = None

    # ------------------------------------------------------------------ data
    def sample(self, n, seed=None):
        """Draws `n` sequences.

        Args:
            n: number of sequences (int >= 1).
            seed: seed of this draw; `None` uses `task.seed`. The same seed
                always gives the same arrays; use different seeds (e.g.
                `task.split_seeds["val"]`, `["test"]`) for different splits.

        Returns:
            `(inputs, targets)`: inputs float32 `(n, T, D)`; targets as
            documented by the task (float32 for regression, int32 classes).
        """
        n = check_int(n, "n")
        seed = self.seed if seed is None else check_seed(seed)
        return self._generate(generator(SAMPLE_DOMAIN, seed), n)

    def sample_weight(self, n):
        """Keras `sample_weight` for `n` sequences: `None` or float32 `(n, T)`.

        Pass it with validation / test data, e.g.
        `model.evaluate(x, y, sample_weight=task.sample_weight(len(x)))`,
        so that their loss matches the training loss.
        """
        n = check_int(n, "n")
        if self.step_weights is None:
            return None
        return np.broadcast_to(self.step_weights, (n, self.timesteps)).copy()

    def dataset(self, batch_size, steps_per_epoch, seed=None, **pydataset_kwargs):
        """A `keras.utils.PyDataset` of fresh batches (never materialised).

        Batch `i` of epoch `e` depends only on `(seed, e, i)`; the epoch
        counter advances at each epoch's start after the first, so every
        epoch sees new data and a rerun with the same seed sees the same data.

        Args:
            batch_size: sequences per batch.
            steps_per_epoch: batches per epoch (`len()` of the dataset).
            seed: stream seed; `None` uses `task.split_seeds["train"]`.
            **pydataset_kwargs: `workers`, `use_multiprocessing`,
                `max_queue_size`, passed to `PyDataset`.

        Returns:
            A `datasets.stream.TaskStream` yielding `(x, y)`, or
            `(x, y, sample_weight)` when `task.step_weights` is not None.
        """
        from datasets.stream import TaskStream

        if seed is None:
            seed = self.split_seeds["train"]
        return TaskStream(self, batch_size, steps_per_epoch, seed, **pydataset_kwargs)

    def fixed_set(self, n, seed=None, batch_size=256):
        """A fixed set of `n` sequences as a `keras.utils.PyDataset`, generated
        batch by batch: the same sequences every time it is read (every epoch,
        every `evaluate`), never held in memory whole.

        For validation and test sets too large to materialise (e.g. 10,240 copy
        memory sequences of 520 steps are 213 MB of float32 inputs). Batch `i`
        depends only on `(seed, batch_size, i)`; the last batch holds the
        remainder when `batch_size` does not divide `n`. The sequences differ
        from `task.sample(n, seed)` (another seed domain).

        Args:
            n: number of sequences (int >= 1).
            seed: seed of the set; `None` uses `task.seed`.
            batch_size: sequences per batch (int >= 1).

        Returns:
            A `datasets.stream.FixedTaskSet` yielding `(x, y)`, or
            `(x, y, sample_weight)` when `task.step_weights` is not None.

        Example:

        ```pycon
        >>> task = datasets.make("adding", length=50)
        >>> validation = task.fixed_set(1024, seed=task.split_seeds["val"])
        >>> model.fit(task.dataset(32, 100), epochs=10, validation_data=validation)
        ```
        """
        from datasets.stream import FixedTaskSet

        seed = self.seed if seed is None else seed
        return FixedTaskSet(self, n, seed, batch_size)

    @property
    def split_seeds(self):
        """`{"train": ..., "val": ..., "test": ...}` derived from `task.seed`."""
        return {split: split_seed(self.seed, split) for split in SPLITS}

    # ---------------------------------------------------------------- keras
    @property
    def loss(self):
        """A fresh Keras loss object (logits for classification)."""
        return self._loss()

    def metrics(self):
        """Fresh Keras metrics; the first is named `task.metric`."""
        return self._metrics()

    # ----------------------------------------------------------------- misc
    def is_solved(self, value):
        """Whether a main-metric value reaches `solved_threshold` (NaN: no)."""
        return is_solved(value, self.solved_threshold, self.higher_is_better)

    def describe(self):
        """One-line human description."""
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return (
            f"{self.name}(length={self.length}{', ' + params if params else ''}): "
            f"{self._summary()}; inputs (T={self.timesteps}, D={self.input_dim}), "
            f"{self.metric} chance {self.chance:.4g}, solved at "
            f"{'>=' if self.higher_is_better else '<='} {self.solved_threshold:.4g}"
        )

    def __repr__(self):
        params = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"datasets.make({self.name!r}, length={self.length}, seed={self.seed}{params})"

    # -------------------------------------------------------- for subclasses
    def _generate(self, rng, n):
        raise NotImplementedError

    def _summary(self):
        raise NotImplementedError

    def _loss(self):
        raise NotImplementedError

    def _metrics(self):
        raise NotImplementedError
