"""The tasks' own Keras metrics: accuracy over the scored steps, the largest absolute error,
the wrong predictions under an absolute-error bound.

Each is registered with Keras (package `datasets`): a model compiled with them is saved
with them, and Keras rebuilds them on loading once this module is imported (a logged
MLflow model carries this module and its loader imports it).
"""

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="datasets")
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


@keras.saving.register_keras_serializable(package="datasets")
class MaxAbsoluteError(keras.metrics.Metric):
    """The largest absolute error over every sequence seen since the last reset.

    Hochreiter & Schmidhuber (1997) counted a test sequence as processed correctly when
    its absolute error was below 0.04; this metric below 0.04 over a test set means every
    sequence was (an all-or-nothing reading: they report the wrong ones out of 2560,
    `WrongPredictions`). Evaluated batch by batch, it keeps the largest error so far
    (one variable), so the value over a set is the same whatever its batches.

    Args:
        name: metric name.

    Call arguments (`update_state`):
        y_true: targets, any shape.
        y_pred: predictions, the same shape.
        sample_weight: ignored (every sequence counts).
    """

    def __init__(self, name="max_abs_error", **kwargs):
        super().__init__(name=name, **kwargs)
        self.largest = self.add_variable(shape=(), initializer="zeros", name="largest")

    def update_state(self, y_true, y_pred, sample_weight=None):
        del sample_weight  # "every test sequence": none is weighted out
        errors = ops.abs(ops.cast(y_true, self.dtype) - ops.cast(y_pred, self.dtype))
        self.largest.assign(ops.maximum(self.largest, ops.max(errors)))

    def result(self):
        return ops.cast(self.largest, self.dtype)  # the value (a stateless scope's, too)

    def reset_state(self):
        self.largest.assign(0.0)


@keras.saving.register_keras_serializable(package="datasets")
class WrongPredictions(keras.metrics.Metric):
    """How many sequences have an absolute error at or above `threshold`, since the last reset.

    Hochreiter & Schmidhuber (1997) report the adding problem's test result as the wrong
    predictions out of their test set ("1 out of 2560"): sequences whose absolute error
    at the sequence end is not below 0.04 (any output, for several). A count, so the
    value over a set is the same whatever its batches; a non-finite prediction counts
    as wrong. The NumPy twin is `datasets.adding.count_wrong`.

    Args:
        threshold: the absolute-error bound (`datasets.adding.hs_threshold`).
        name: metric name.

    Call arguments (`update_state`):
        y_true: targets `(B, ...)`.
        y_pred: predictions, the same shape.
        sample_weight: ignored (every sequence counts).
    """

    def __init__(self, threshold, name="wrong_predictions", **kwargs):
        super().__init__(name=name, **kwargs)
        self.threshold = float(threshold)
        self.wrong = self.add_variable(shape=(), initializer="zeros", name="wrong")

    def update_state(self, y_true, y_pred, sample_weight=None):
        del sample_weight  # every test sequence counts
        errors = ops.abs(ops.cast(y_true, self.dtype) - ops.cast(y_pred, self.dtype))
        errors = ops.reshape(errors, (ops.shape(errors)[0], -1))
        # "below the threshold" is correct; NaN compares False, so it counts as wrong.
        correct = ops.all(ops.less(errors, self.threshold), axis=1)
        self.wrong.assign_add(ops.sum(ops.cast(ops.logical_not(correct), self.dtype)))

    def result(self):
        return ops.cast(self.wrong, self.dtype)

    def reset_state(self):
        self.wrong.assign(0.0)

    def get_config(self):
        return {"threshold": self.threshold, **super().get_config()}
