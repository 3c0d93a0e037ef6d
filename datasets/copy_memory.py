"""The copying memory problem (Arjovsky, Shah & Bengio 2016, sec. 4.1)."""

import math

import numpy as np

from datasets.base import Output, Task, check_int, one_hot


class CopyMemory(Task):
    """Reproduce 10 symbols after a long stretch of blanks.

    Construction (Arjovsky et al. 2016, sec. 4.1), with T = `length` and
    categories 0 = blank, 1..8 = symbols, 9 = delimiter (the paper's a_8,
    a_0..a_7, a_9), 0-based steps, sequence length T + 20:

    - steps 0..9: 10 symbols drawn uniformly with replacement from 1..8;
    - steps 10..T+8: T - 1 blanks;
    - step T + 9 (the 11th from last): the delimiter;
    - steps T+10..T+19: blanks.

    The target is blank at steps 0..T+9 and the 10 input symbols, in order, at
    steps T+10..T+19. The paper's "T blanks" are thus T - 1 blanks plus the
    delimiter, which keeps the total at T + 20 and its baseline formula exact.
    `copy_length` (10) and `alphabet_size` (8) can be changed; the general
    layout is C symbols, T - 1 blanks, delimiter, C blanks (T + 2C steps).

    Shapes: inputs float32 one-hot `(n, T + 20, 10)`; targets int32
    `(n, T + 20)`; `output = Output("classification", per_step=True,
    units=10)` (all categories; the delimiter is never a target).

    Loss: sparse categorical cross-entropy on logits, averaged over all
    T + 20 steps, as in the paper (`step_weights` is None).
    `baseline_loss = 10 ln 8 / (T + 20)`: the paper's memoryless strategy
    (blank for T + 10 steps, then uniform over the 8 symbols).

    Main metric: `"accuracy"` on the 10 recalled symbols only (steps
    T+10..T+19); the blanks are trivial and would hide failure. `chance =
    1/8` (the memoryless strategy). `solved_threshold = 0.99`: a project
    convention for "copies the sequence" (the paper reports the loss
    reaching ~0 for the uRNN and stuck at the baseline for RNN/LSTM, without
    a threshold); judge the loss against `task.baseline_loss`.

    Args:
        length: T, the number of steps between the last symbol and the first
            recalled one (int >= 1).
        seed: default sampling seed.
        alphabet_size: number of symbols to copy from (default 8, >= 2).
        copy_length: number of symbols to copy (default 10, >= 1).
    """

    name = "copy_memory"

    def __init__(self, length, seed=0, alphabet_size=8, copy_length=10):
        super().__init__(length, seed)
        self.alphabet_size = check_int(alphabet_size, "alphabet_size", minimum=2)
        self.copy_length = check_int(copy_length, "copy_length")
        self.params = {
            "alphabet_size": self.alphabet_size,
            "copy_length": self.copy_length,
        }
        self.blank = 0
        self.delimiter = self.alphabet_size + 1
        self.num_categories = self.alphabet_size + 2
        self.timesteps = self.length + 2 * self.copy_length
        self.delimiter_step = self.length + self.copy_length - 1
        self.input_dim = self.num_categories
        self.output = Output("classification", per_step=True, units=self.num_categories)
        self.recall_steps = (np.arange(self.timesteps) >= self.timesteps - self.copy_length).astype(
            np.float32
        )
        self.metric = "accuracy"
        self.higher_is_better = True
        self.chance = 1.0 / self.alphabet_size
        self.solved_threshold = 0.99
        self.baseline_loss = self.copy_length * math.log(self.alphabet_size) / self.timesteps

    def _generate(self, rng, n):
        c = self.copy_length
        symbols = rng.integers(1, self.alphabet_size + 1, size=(n, c), dtype=np.int32)
        sequence = np.zeros((n, self.timesteps), dtype=np.int32)
        sequence[:, :c] = symbols
        sequence[:, self.delimiter_step] = self.delimiter
        targets = np.zeros((n, self.timesteps), dtype=np.int32)
        targets[:, -c:] = symbols
        return one_hot(sequence, self.num_categories), targets

    def _summary(self):
        return (
            f"copy {self.copy_length} symbols (of {self.alphabet_size}) after "
            f"{self.length} steps, on a delimiter"
        )

    def _loss(self):
        import keras

        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def _metrics(self):
        from datasets.metrics import ScoredStepsAccuracy

        return [ScoredStepsAccuracy(self.recall_steps, name="accuracy")]
