"""The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015; Arjovsky et al. 2016)."""

import numpy as np

from datasets.base import Output, Task, TaskParameterError

# Hochreiter & Schmidhuber (1997, experiment 4) counted a test sequence as processed
# correctly when its absolute error at the sequence end was below 0.04, on a target
# 0.5 + (X1 + X2) / 4 with X in [-1, 1]: a target spanning [0, 1]. The metric
# `max_abs_error` is the largest such error over a set. On the standard form's target
# (the sum of two U[0, 1] numbers, spanning [0, 2]) the unscaled 0.04 is twice as strict
# relative to the target's range; `hs_threshold` rescales it.
MAX_ABS_ERROR = "max_abs_error"
WRONG_PREDICTIONS = "wrong_predictions"
HS_MAX_ABS_ERROR = 0.04
HS_TARGET_RANGE = 1.0

VARIANTS = ("standard", "hs97")
# Hochreiter & Schmidhuber mark one of the first ten pairs first, whatever T.
HS_FIRST_MARKER_POSITIONS = 10


def hs_threshold(target_range):
    """Hochreiter & Schmidhuber's 0.04 rescaled to a target spanning `target_range`.

    Their error bound is 4% of their target's range (0.04 of [0, 1]); the same fraction
    of another target's range keeps the criterion equally strict.

    Args:
        target_range: max minus min of the target (2.0 for the standard adding form).

    Returns:
        The absolute-error threshold, `0.04 * target_range / 1.0`.

    Example:

    >>> hs_threshold(2.0)  # the standard form's target, U1 + U2 in [0, 2]
    0.08
    """
    target_range = float(target_range)
    if not target_range > 0:
        raise ValueError(
            f"target_range must be a positive number (max minus min of the target); "
            f"received {target_range!r}."
        )
    return HS_MAX_ABS_ERROR * target_range / HS_TARGET_RANGE


def count_wrong(y_true, y_pred, threshold=HS_MAX_ABS_ERROR):
    """How many sequences Hochreiter & Schmidhuber would count as wrong predictions.

    A sequence is wrong when the absolute error of any of its outputs is at or above
    `threshold` (their ABS(0.04): "processed correctly if the absolute error at the
    sequence end is below 0.04"); a non-finite prediction is wrong.

    Args:
        y_true: targets, shape `(n, ...)`, the first axis the sequences.
        y_pred: predictions, the same shape.
        threshold: the absolute-error bound (`hs_threshold(task.target_range)`).

    Returns:
        An int: the wrong sequences among the `n`.

    Example:

    >>> count_wrong(np.array([[0.5], [0.5], [0.5]]), np.array([[0.53], [0.54], [0.1]]))
    2
    """
    y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    if y_true.shape != y_pred.shape or y_true.ndim == 0:
        raise ValueError(
            f"y_true and y_pred must have the same shape (n, ...); received "
            f"{y_true.shape} and {y_pred.shape}."
        )
    errors = np.abs(y_true - y_pred).reshape(len(y_true), -1)
    correct = np.all(errors < threshold, axis=1)  # NaN compares False: wrong
    return int(np.count_nonzero(~correct))


class Adding(Task):
    """Sum the two marked numbers of a long sequence.

    Standard form (`variant="standard"`, the default; Arjovsky et al. 2016, sec. 4.2,
    the form also used by Le et al. 2015): two input channels of length T = `length`.
    Channel 0 holds numbers drawn i.i.d. from U[0, 1]; channel 1 is a marker with
    exactly two ones: the first at a position drawn uniformly from the first half
    `[0, T // 2)`, the second uniformly from the second half `[T // 2, T)` (0-based).
    The target is the sum of the two marked numbers (range [0, 2]).
    `chance = 1/6`: the best constant prediction is E[sum] = 1 and its MSE is
    Var(U1 + U2) = 2/12 (the "0.167 baseline" of Arjovsky et al. 2016).

    Hochreiter & Schmidhuber's form (`variant="hs97"`, 1997, experiment 4): each
    sequence has a random length L, an integer uniform in `[T, T + T // 10]`; its pairs
    hold a value from U[-1, 1] and a marker in {-1, 0, 1}. The first marked pair is one
    of the first ten, the second one of the first `T // 2 - 1` still unmarked pairs;
    the first and last pairs carry marker -1 unless marked; a marked first pair has its
    value set to 0. The target is `0.5 + (X1 + X2) / 4` (range [0, 1]). Sequences are
    padded at the front with zero pairs to `timesteps = T + T // 10`, so every one ends
    at the last step, where the target is read (H&S reset the network before each
    sequence instead). `chance` is the target's variance, about 0.039. See
    docs/hs97_adding.md for the paper's text and the readings chosen.

    Shapes: inputs float32 `(n, timesteps, 2)`; targets float32 `(n, 1)`;
    `output = Output("regression", per_step=False, units=1)`.

    Main metric: `"mse"` (loss: mean squared error), `baseline_loss = chance`.
    `solved_threshold = 0.01`: modelled on H&S's stopping criterion (average training
    error below 0.01); a project convention on the standard form's MSE. The second
    metric, `max_abs_error`, is the largest absolute error over a set; `hs97` adds
    `wrong_predictions`, the number of sequences with an absolute error at or above
    `wrong_threshold` (0.04), as H&S report it (e.g. "1 out of 2560").

    Args:
        length: T: the sequence length (standard, int >= 2) or the minimal sequence
            length (hs97, int >= 20, so the first ten pairs lie in the first half).
        seed: default sampling seed.
        variant: `"standard"` or `"hs97"`.

    Attributes:
        target_range: max minus min of the target (2.0 standard, 1.0 hs97).
        wrong_threshold: H&S's 0.04 rescaled to `target_range` (`hs_threshold`).

    Example:

    >>> task = datasets.make("adding", length=100, variant="hs97")
    >>> x, y = task.sample(2560, seed=task.split_seeds["test"])  # x: (2560, 110, 2)
    """

    name = "adding"

    def __init__(self, length, seed=0, variant="standard"):
        super().__init__(length, seed)
        if variant not in VARIANTS:
            raise TaskParameterError(
                "variant",
                f"adding: unknown variant {variant!r}; use one of {', '.join(VARIANTS)} "
                f"(task_params: {{variant: hs97}} for Hochreiter & Schmidhuber's form).",
            )
        self.variant = variant
        self.input_dim = 2
        self.output = Output("regression", per_step=False, units=1)
        self.metric = "mse"
        self.higher_is_better = False
        self.solved_threshold = 0.01
        if variant == "hs97":
            self._init_hs97()
        else:
            self._init_standard()
        self.baseline_loss = self.chance
        self.wrong_threshold = hs_threshold(self.target_range)

    def _init_standard(self):
        if self.length < 2:
            raise TaskParameterError(
                "length",
                f"adding: the sequence needs two halves with one marker each; "
                f"length must be >= 2, received {self.length}.",
            )
        # `params` stays empty: standard runs keep the description and identity they had.
        self.timesteps = self.length
        self.chance = 1.0 / 6.0
        self.target_range = 2.0

    def _init_hs97(self):
        if self.length < 2 * HS_FIRST_MARKER_POSITIONS:
            raise TaskParameterError(
                "length",
                f"adding (hs97): the first marker is one of the first "
                f"{HS_FIRST_MARKER_POSITIONS} pairs and the second lies in the first half, "
                f"so the minimal length T must be >= {2 * HS_FIRST_MARKER_POSITIONS}; "
                f"received {self.length}.",
            )
        self.params = {"variant": "hs97"}
        self.timesteps = self.length + self.length // 10
        self.target_range = 1.0
        # Var(0.5 + (X1 + X2) / 4) = (E[X1^2] + E[X2^2]) / 16, with E[X^2] = 1/3 for a
        # U[-1, 1] value and 0 when the marked pair is the first one (value set to 0).
        candidates = self.length // 2 - 1
        p_first_x1 = 1.0 / HS_FIRST_MARKER_POSITIONS
        p_first_x2 = (1.0 - p_first_x1) / candidates
        self.chance = ((1.0 - p_first_x1) + (1.0 - p_first_x2)) / (3.0 * 16.0)

    def _generate(self, rng, n):
        if self.variant == "hs97":
            return self._generate_hs97(rng, n)
        half = self.timesteps // 2
        rows = np.arange(n)
        values = rng.random((n, self.timesteps), dtype=np.float32)
        first = rng.integers(0, half, size=n)
        second = rng.integers(half, self.timesteps, size=n)
        inputs = np.zeros((n, self.timesteps, 2), dtype=np.float32)
        inputs[:, :, 0] = values
        inputs[rows, first, 1] = 1.0
        inputs[rows, second, 1] = 1.0
        targets = (values[rows, first] + values[rows, second]).reshape(n, 1)
        return inputs, targets.astype(np.float32)

    def _generate_hs97(self, rng, n):
        total, rows = self.timesteps, np.arange(n)
        lengths = rng.integers(self.length, self.length + self.length // 10, size=n, endpoint=True)
        start = total - lengths  # zero pairs before it: every sequence ends at the last step
        values = rng.uniform(-1.0, 1.0, size=(n, total)).astype(np.float32)
        values[np.arange(total) < start[:, None]] = 0.0
        first = rng.integers(0, HS_FIRST_MARKER_POSITIONS, size=n)
        # One of the first T // 2 - 1 pairs other than the first marked one.
        second = rng.integers(0, self.length // 2 - 1, size=n)
        second += second >= first
        markers = np.zeros((n, total), dtype=np.float32)
        markers[rows, start] = -1.0
        markers[:, -1] = -1.0
        for offset in (first, second):
            markers[rows, start + offset] = 1.0
            values[rows[offset == 0], start[offset == 0]] = 0.0
        x1, x2 = values[rows, start + first], values[rows, start + second]
        targets = (0.5 + (x1 + x2) / 4.0).reshape(n, 1).astype(np.float32)
        return np.stack([values, markers], axis=-1), targets

    def _summary(self):
        if self.variant == "hs97":
            return (
                "0.5 + (X1 + X2) / 4 of two marked U[-1,1] numbers (one in the first ten "
                "pairs, one in the first half), lengths T to T + T/10, front-padded"
            )
        return "sum the two marked U[0,1] numbers (one marker per half)"

    def _loss(self):
        import keras

        return keras.losses.MeanSquaredError()

    def _metrics(self):
        import keras

        from datasets.metrics import MaxAbsoluteError, WrongPredictions

        metrics = [keras.metrics.MeanSquaredError(name="mse"), MaxAbsoluteError(MAX_ABS_ERROR)]
        if self.variant == "hs97":
            metrics.append(WrongPredictions(self.wrong_threshold, name=WRONG_PREDICTIONS))
        return metrics
