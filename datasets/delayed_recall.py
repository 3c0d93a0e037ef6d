"""Delayed recall: output, at every step, the symbol seen `lag` steps earlier."""

import math

import numpy as np

from datasets.base import Output, Task, TaskParameterError, check_int, one_hot


class DelayedRecall(Task):
    """Per-step recall of the input `lag` steps back (a short, exact dependency).

    Construction: a stream of `sequence_length` symbols drawn i.i.d. and
    uniformly from an alphabet of size K (`alphabet_size`), one-hot encoded.
    The target at step t is the input symbol at step `t - lag`. Steps
    `t < lag` have no defined target: their label is 0 and they carry weight
    0 in `step_weights` (the loss) and are skipped by the main metric.

    `length` is the lag. The sequence is `sequence_length` steps long
    (default `lag + 50`, so every sequence has 50 scored steps whatever the
    lag); it must be longer than the lag.

    Shapes: inputs float32 `(n, T, K)`; targets int32 `(n, T)`;
    `output = Output("classification", per_step=True, units=K)`.

    Loss: sparse categorical cross-entropy on logits with reduction
    `"mean_with_sample_weight"`, i.e. the mean over the scored steps when the
    `step_weights` are passed as `sample_weight` (the stream does this; pass
    `task.sample_weight(n)` with validation/test data too).

    Main metric: `"accuracy"` over the scored steps (`t >= lag`).
    `chance = 1/K`: the symbols are i.i.d. uniform, so no input-independent
    guess beats 1/K; `baseline_loss = ln K`.
    `solved_threshold = 0.99`: a project convention (near-perfect recall; no
    paper fixes a threshold for this task).

    Args:
        length: the lag (int >= 1).
        seed: default sampling seed.
        alphabet_size: K >= 2 (default 8).
        sequence_length: total steps T > lag (default `lag + 50`).
    """

    name = "delayed_recall"

    def __init__(self, length, seed=0, alphabet_size=8, sequence_length=None):
        super().__init__(length, seed)
        self.lag = self.length
        self.alphabet_size = check_int(alphabet_size, "alphabet_size", minimum=2)
        if sequence_length is None:
            sequence_length = self.lag + 50
        sequence_length = check_int(sequence_length, "sequence_length")
        if sequence_length <= self.lag:
            raise TaskParameterError(
                "length",
                f"delayed_recall: the lag (length={self.lag}) must be shorter than "
                f"the sequence (sequence_length={sequence_length}), or no step has a "
                f"target. Use sequence_length > {self.lag} or leave it unset "
                f"(default lag + 50).",
            )
        self.params = {
            "alphabet_size": self.alphabet_size,
            "sequence_length": sequence_length,
        }
        self.timesteps = sequence_length
        self.input_dim = self.alphabet_size
        self.output = Output("classification", per_step=True, units=self.alphabet_size)
        self.step_weights = (np.arange(self.timesteps) >= self.lag).astype(np.float32)
        self.metric = "accuracy"
        self.higher_is_better = True
        self.chance = 1.0 / self.alphabet_size
        self.solved_threshold = 0.99
        self.baseline_loss = math.log(self.alphabet_size)

    def _generate(self, rng, n):
        symbols = rng.integers(0, self.alphabet_size, size=(n, self.timesteps), dtype=np.int32)
        targets = np.zeros_like(symbols)
        targets[:, self.lag :] = symbols[:, : self.timesteps - self.lag]
        return one_hot(symbols, self.alphabet_size), targets

    def _summary(self):
        return f"recall the symbol {self.lag} steps back at every step (K={self.alphabet_size})"

    def _loss(self):
        import keras

        return keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        )

    def _metrics(self):
        from datasets.metrics import ScoredStepsAccuracy

        return [ScoredStepsAccuracy(self.step_weights, name="accuracy")]
