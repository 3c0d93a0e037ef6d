"""Keras metrics that score only the steps a task defines as scored."""

import keras
import numpy as np
from keras import ops


class ScoredStepsAccuracy(keras.metrics.Metric):
    """Classification accuracy over chosen time steps of per-step targets.

    The steps to score are fixed by the task (e.g. `t >= lag` in
    `delayed_recall`, the last 10 steps in `copy_memory`), so the metric
    ignores any `sample_weight` Keras passes: it always computes the task's
    own definition.

    Args:
        scored_steps: `(T,)` array, nonzero at the steps to score.
        name: metric name (the task's `metric`, `"accuracy"`).

    Call arguments (`update_state`):
        y_true: int class labels `(B, T)` (or `(B, T, 1)`).
        y_pred: logits or probabilities `(B, T, K)`.
        sample_weight: ignored.
    """

    def __init__(self, scored_steps, name="accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self._scored = np.asarray(scored_steps, dtype="float32") != 0
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        del sample_weight  # The task fixes which steps count.
        y_true = ops.convert_to_tensor(y_true)
        if len(y_true.shape) == 3:
            y_true = ops.squeeze(y_true, axis=-1)
        predicted = ops.argmax(y_pred, axis=-1)
        hits = ops.cast(
            ops.equal(ops.cast(y_true, "int32"), ops.cast(predicted, "int32")),
            "float32",
        )
        mask = ops.cast(ops.convert_to_tensor(self._scored), "float32")
        self.correct.assign_add(ops.sum(hits * mask))
        self.count.assign_add(ops.cast(ops.shape(hits)[0], "float32") * ops.sum(mask))

    def result(self):
        return ops.divide_no_nan(self.correct, self.count)

    def reset_state(self):
        self.correct.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {
            "scored_steps": self._scored.astype("float32").tolist(),
            **super().get_config(),
        }
