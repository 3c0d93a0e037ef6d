"""Temporal order (Hochreiter & Schmidhuber 1997, experiment 6a)."""

import math

import numpy as np

from datasets.base import Output, Task, TaskParameterError, one_hot

# Input symbols, one-hot: start E, trigger B, distractors a..d, relevant X / Y.
START, TRIGGER, FIRST_DISTRACTOR, X, Y = 0, 1, 2, 6, 7
NUM_SYMBOLS = 8


class TemporalOrder(Task):
    """Classify a sequence by the order of two widely separated symbols.

    Construction (Hochreiter & Schmidhuber 1997, experiment 6a), with
    T = `length` fixed instead of the paper's random 100..110: step 0 is the
    start symbol E, step T-1 the trigger B, every other step a distractor drawn
    uniformly from {a, b, c, d}, except two steps t1 and t2 that hold X or Y
    (each uniformly). t1 is uniform in [T//10, T//5] and t2 in
    [T//2, 6T//10] (0-based, inclusive), the paper's 10..20 and 50..60 for
    T = 100, scaled with T. The 4 classes are the order pattern: XX -> 0 (Q),
    XY -> 1 (R), YX -> 2 (S), YY -> 3 (U).

    Shapes: inputs float32 `(n, T, 8)` (E, B, a, b, c, d, X, Y); targets int32
    `(n,)`; `output = Output("classification", per_step=False, units=4)`.

    Main metric: `"accuracy"`; `chance = 1/4` (classes uniform);
    `baseline_loss = ln 4`. `solved_threshold = 0.99`: a project convention
    (the paper's stopping rule is stated on its own output-unit error, not
    on accuracy).

    Args:
        length: sequence length T (int >= 10, so t1 >= 1 and t2 < T - 1).
        seed: default sampling seed.
    """

    name = "temporal_order"

    def __init__(self, length, seed=0):
        super().__init__(length, seed)
        if self.length < 10:
            raise TaskParameterError(
                "length",
                f"temporal_order: length must be >= 10 so both relevant symbols "
                f"fit between the start and trigger steps; received {self.length}.",
            )
        self.timesteps = self.length
        self.input_dim = NUM_SYMBOLS
        self.output = Output("classification", per_step=False, units=4)
        self.first_range = (self.length // 10, self.length // 5)
        self.second_range = (self.length // 2, 6 * self.length // 10)
        self.metric = "accuracy"
        self.higher_is_better = True
        self.chance = 0.25
        self.solved_threshold = 0.99
        self.baseline_loss = math.log(4)

    def _generate(self, rng, n):
        rows = np.arange(n)
        sequence = rng.integers(
            FIRST_DISTRACTOR,
            FIRST_DISTRACTOR + 4,
            size=(n, self.timesteps),
            dtype=np.int32,
        )
        sequence[:, 0] = START
        sequence[:, -1] = TRIGGER
        first = rng.integers(self.first_range[0], self.first_range[1] + 1, size=n)
        second = rng.integers(self.second_range[0], self.second_range[1] + 1, size=n)
        first_is_y = rng.integers(0, 2, size=n, dtype=np.int32)
        second_is_y = rng.integers(0, 2, size=n, dtype=np.int32)
        sequence[rows, first] = X + first_is_y
        sequence[rows, second] = X + second_is_y
        return one_hot(sequence, NUM_SYMBOLS), (2 * first_is_y + second_is_y).astype(np.int32)

    def _summary(self):
        return "classify by the order of X/Y at two distant steps (4 classes)"

    def _loss(self):
        import keras

        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def _metrics(self):
        import keras

        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
