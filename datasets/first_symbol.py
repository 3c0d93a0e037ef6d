"""First symbol (a latch, after Bengio, Simard & Frasconi 1994)."""

import math

import numpy as np

from datasets.base import Output, Task, check_int, one_hot


class FirstSymbol(Task):
    """Classify a sequence by its first symbol, read after `length` distractors.

    Construction: step 0 holds the class symbol c, drawn uniformly from K
    (`alphabet_size`); steps 1..`length` hold distractor symbols drawn i.i.d.
    and uniformly from the same K symbols, independent of c. All steps are
    one-hot. The model must latch the first symbol and ignore the rest (the
    information-latching problem of Bengio et al. 1994, with symbol
    distractors instead of their Gaussian noise, so no input statistic other
    than step 0 carries the class).

    Shapes: inputs float32 `(n, length + 1, K)`; targets int32 `(n,)`;
    `output = Output("classification", per_step=False, units=K)`.

    Main metric: `"accuracy"`; `chance = 1/K` (classes uniform);
    `baseline_loss = ln K`. `solved_threshold = 0.99`: a project convention
    (near-perfect latching; Bengio et al. 1994 report success rates, not a
    threshold).

    Args:
        length: number of distractor steps after the first symbol (int >= 1).
        seed: default sampling seed.
        alphabet_size: K >= 2 (default 8).
    """

    name = "first_symbol"

    def __init__(self, length, seed=0, alphabet_size=8):
        super().__init__(length, seed)
        self.alphabet_size = check_int(alphabet_size, "alphabet_size", minimum=2)
        self.params = {"alphabet_size": self.alphabet_size}
        self.timesteps = self.length + 1
        self.input_dim = self.alphabet_size
        self.output = Output("classification", per_step=False, units=self.alphabet_size)
        self.metric = "accuracy"
        self.higher_is_better = True
        self.chance = 1.0 / self.alphabet_size
        self.solved_threshold = 0.99
        self.baseline_loss = math.log(self.alphabet_size)

    def _generate(self, rng, n):
        symbols = rng.integers(0, self.alphabet_size, size=(n, self.timesteps), dtype=np.int32)
        return one_hot(symbols, self.alphabet_size), symbols[:, 0].copy()

    def _summary(self):
        return f"classify by the first of {self.timesteps} symbols (K={self.alphabet_size})"

    def _loss(self):
        import keras

        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def _metrics(self):
        import keras

        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
