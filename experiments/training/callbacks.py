"""The per-epoch work of one grid point's training: metrics, progress, time to solve.

- `epoch_metrics_logger(run_logger)`: a callback logging every epoch's metrics into MLflow
  (step = epoch).
- `progress_lines(...)`: a callback printing a line now and then while a long run trains
  (Keras's `fit`); `GroupProgress`: the same lines for a group in the compiled loop.
- `solve_timer(task, hyperparameters)`: a callback noting when the validation metric
  first reached the solved threshold, and stopping once it stayed there
  (`stop_when_solved`); `time_to_solve(...)`: the run's time-to-solve metrics from it.

The callbacks are built by functions that import Keras when called, so that importing
this module (as the driver does) loads no backend.
"""

import logging
import time

from experiments import schema
from experiments.terminal import format_seconds, print_now


def epoch_metrics_logger(run_logger):
    """A callback logging every number of Keras's epoch logs but the learning rate.

    `loss`, `val_loss`, the task metric and `val_<metric>` go to MLflow with
    `step = epoch`, a few seconds later in one batch (`RunLogger.BUFFER_S`; the run's
    `finish_run` writes the rest). NaN is logged as is, so a diverging run shows where it
    diverged. (MLflow's `MlflowCallback` logs
    validation metrics at step 0: mlflow issue 14293.)
    """
    import keras

    class EpochMetricsLogger(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs_logged = 0

        def on_epoch_end(self, epoch, logs=None):
            metrics = {k: float(v) for k, v in (logs or {}).items() if k != "learning_rate"}
            run_logger.log_metrics(metrics, step=epoch, wait=False)  # `finish_run` flushes
            self.epochs_logged += 1

    return EpochMetricsLogger()


def progress_lines(run_name, metric, epochs, every_s):
    """A line while a long run trains, at most every `every_s` seconds.

    `  lstm-L100-s0: epoch 12/30, val mse 0.162, 0:41 in, ~1:02 left`: the time left
    assumes the remaining epochs take as long as the ones so far (stopping when solved
    can make it shorter).
    """
    import keras

    class ProgressLines(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.began = self.last_line = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            now = time.monotonic()
            if now - self.last_line < every_s:
                return
            self.last_line = now
            done = epoch + 1
            spent = now - self.began
            left = spent / done * (epochs - done)
            value = (logs or {}).get(f"val_{metric}")
            shown = "" if value is None else f", val {metric} {value:.4g}"
            print_now(
                f"  {run_name}: epoch {done}/{epochs}{shown}, "
                f"{format_seconds(spent)} in, ~{format_seconds(left)} left"
            )

    return ProgressLines()


class GroupProgress:
    """A line now and then while a group of seeds trains, at most every `every_s` seconds.

    `  lstm-L100-s0..2: epoch 12/30, val mse 0.162 0.158 0.171, 0:41 in, ~1:02 left`, one
    value per member; the time left assumes the remaining epochs take as long as the ones
    so far (stopping when solved can make it shorter).
    """

    def __init__(self, label, metric, epochs, every_s):
        self.label, self.metric, self.epochs, self.every_s = label, metric, epochs, every_s
        self.began = self.last_line = time.monotonic()

    def epoch_end(self, epoch, val_logs):
        now = time.monotonic()
        if not self.every_s or now - self.last_line < self.every_s:
            return
        self.last_line = now
        spent = now - self.began
        left = spent / (epoch + 1) * (self.epochs - epoch - 1)
        values = " ".join(f"{value:.4g}" for value in val_logs[self.metric])
        print_now(
            f"  {self.label}: epoch {epoch + 1}/{self.epochs}, val {self.metric} {values}, "
            f"{format_seconds(spent)} in, ~{format_seconds(left)} left"
        )


def solve_timer(task, hyperparameters):
    """A callback recording when the validation metric first reaches the solved threshold.

    Validation runs after every epoch, that is every `steps_per_epoch` updates (at most
    100, the config enforces it), so `updates_to_solve` is exact to that resolution.
    With `stop_when_solved`, training stops once the metric has stayed solved for
    `solved_patience` epochs in a row: a model stopped at its first crossing sits right
    at the threshold, and the test set then often judges it just short of it.
    """
    import keras

    hp = hyperparameters

    class SolveTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.solved_epoch = None
            self.stopped_epoch = None
            self.solved_in_a_row = 0
            self.last_value = float("nan")  # the last validation metric (rate choice)

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(f"val_{task.metric}")
            if value is not None:
                self.last_value = float(value)
            solved = value is not None and task.is_solved(value)
            self.solved_in_a_row = self.solved_in_a_row + 1 if solved else 0
            if solved and self.solved_epoch is None:
                self.solved_epoch = epoch
            if hp.stop_when_solved and self.solved_in_a_row >= hp.solved_patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True

    return SolveTimer()


def time_to_solve(solved_epoch, epochs_trained, hyperparameters, *, diverged):
    """The time-to-solve metrics of a run.

    Args:
        solved_epoch: the first epoch (0-based) whose validation metric was solved, or None.
        epochs_trained: epochs actually trained.
        hyperparameters: the grid point's `Hyperparameters` (`steps_per_epoch`, `batch_size`).
        diverged: whether the run diverged (then it never counts as solved).

    Returns:
        `{updates_to_solve, sequences_to_solve, solve_censored}`. A run that never reached
        the threshold (or diverged) is censored at the updates it trained: the time to solve
        is then only known to be longer than that.
    """
    censored = solved_epoch is None or diverged
    epochs = epochs_trained if censored else solved_epoch + 1
    updates = epochs * hyperparameters.steps_per_epoch
    return {
        schema.UPDATES_TO_SOLVE: updates,
        schema.SEQUENCES_TO_SOLVE: updates * hyperparameters.batch_size,
        schema.SOLVE_CENSORED: int(censored),
    }


class _NoRetracingWarning(logging.Filter):
    # A sweep builds a new model per grid point on purpose; TensorFlow's
    # "triggered tf.function retracing" warning then only adds noise.
    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


def quiet_retracing_warning():
    """Hides TensorFlow's retracing warning (once per process)."""
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _NoRetracingWarning) for f in logger.filters):
        logger.addFilter(_NoRetracingWarning())
