"""Exponentially weighted moving average: the task a one-unit linear RNN solves exactly."""

import numbers

import numpy as np

from datasets.base import Output, Task, TaskParameterError


class EWMA(Task):
    """Track the exponentially weighted moving average of a noise signal.

    Construction: x_t ~ N(0, 1) i.i.d. for t = 0..T-1 (T = `length`), and
    y_t = alpha * x_t + (1 - alpha) * y_{t-1} with y_{-1} = 0, i.e.
    y_0 = alpha * x_0. Starting from 0 matches an RNN's zero initial state,
    so `VanillaRNN(1, use_bias=False, activation=None)` with u = alpha and
    w = 1 - alpha reproduces the targets exactly; with tanh it is close,
    because |y_t| stays small.

    Shapes: inputs float32 `(n, T, 1)`; targets float32 `(n, T, 1)`;
    `output = Output("regression", per_step=True, units=1)`.

    Main metric: `"mse"` over all steps (loss: mean squared error).
    `chance`: E[y_t] = 0 at every step, so the best input-independent
    predictor is 0 and its MSE is the mean over steps of
    Var(y_t) = alpha^2 (1 - b^(2(t+1))) / (1 - b^2), b = 1 - alpha:
    `chance = alpha/(2-alpha) * (1 - b^2 (1 - b^(2T)) / (T (1 - b^2)))`
    (-> alpha/(2-alpha) for long sequences). `baseline_loss = chance`.
    `solved_threshold = 0.01 * chance` (R^2 >= 0.99): a project convention
    relative to the chance level, since the scale of y depends on alpha.

    Args:
        length: sequence length T (int >= 1).
        seed: default sampling seed.
        alpha: smoothing factor in (0, 1] (default 0.1, memory ~ 1/alpha steps).
    """

    name = "ewma"

    def __init__(self, length, seed=0, alpha=0.1):
        super().__init__(length, seed)
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 < alpha <= 1.0:
            raise TaskParameterError(
                "alpha",
                f"ewma: `alpha` must be a number in (0, 1]; received {alpha!r}. "
                f"alpha = 1 copies the input, small alpha averages over ~1/alpha steps.",
            )
        self.alpha = float(alpha)
        self.params = {"alpha": self.alpha}
        self.timesteps = self.length
        self.input_dim = 1
        self.output = Output("regression", per_step=True, units=1)
        self.metric = "mse"
        self.higher_is_better = False
        decay_sq = (1.0 - self.alpha) ** 2
        if decay_sq == 0.0:
            self.chance = 1.0
        else:
            self.chance = (self.alpha / (2.0 - self.alpha)) * (
                1.0
                - decay_sq * (1.0 - decay_sq**self.timesteps) / (self.timesteps * (1.0 - decay_sq))
            )
        self.solved_threshold = 0.01 * self.chance
        self.baseline_loss = self.chance

    def _generate(self, rng, n):
        # Time-major so each step reads and writes one contiguous row; the
        # running average is kept in float64 so rounding does not accumulate.
        inputs = rng.standard_normal((self.timesteps, n), dtype=np.float32)
        targets = np.empty_like(inputs)
        previous = np.zeros(n)
        # A loop over time, vectorised over sequences (the recursion is sequential).
        for t in range(self.timesteps):
            previous = self.alpha * inputs[t] + (1.0 - self.alpha) * previous
            targets[t] = previous
        return inputs.T[..., None].copy(), targets.T[..., None].copy()

    def _summary(self):
        return f"output the EWMA (alpha={self.alpha:g}) of N(0,1) noise at every step"

    def _loss(self):
        import keras

        return keras.losses.MeanSquaredError()

    def _metrics(self):
        import keras

        return [keras.metrics.MeanSquaredError(name="mse")]
