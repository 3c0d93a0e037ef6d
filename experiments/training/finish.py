"""The end of a grid point's run, whichever loop trained it: the test set, `solved`,
`diverged`, the time to solve, the run's one-line description, TensorBoard's
hyperparameters and final values, the logged model."""

import numpy as np

from experiments import schema, tracking
from experiments.training.callbacks import time_to_solve


def finish_run(member, model, test_logs, losses, timing):
    """Logs a trained member's results and model; returns its FINISHED outcome.

    Args:
        member: the `training.member.Member` (its point, run logger, TensorBoard folder).
        model: the trained Keras model (its weights decide `diverged` and are logged).
        test_logs: `{"loss": ..., <metric>: ..., <other metrics>: ...}` on the test set;
            each is logged as `test_<name>`.
        losses: the training loss of every epoch trained (a NaN or inf: diverged).
        timing: `{metric name: value}`: the run's `train_time_s` and its other timings.

    Returns:
        A `schema.GridPointOutcome`.
    """
    point, task, logger = member.point, member.data.task, member.logger
    member.stop_monitor()
    losses = np.asarray(losses if len(losses) else [np.nan], dtype=float)
    weights_finite = all(np.isfinite(np.asarray(w)).all() for w in model.get_weights())
    diverged = not (np.isfinite(losses).all() and weights_finite)
    test_metric = float(test_logs[task.metric])
    solved = (not diverged) and task.is_solved(test_metric)
    epochs_trained = len(losses)
    final = {
        **_test_metrics(test_logs),
        schema.SOLVED: int(solved),
        schema.DIVERGED: int(diverged),
        schema.EPOCHS_TRAINED: epochs_trained,
        **timing,
        **time_to_solve(
            member.timer.solved_epoch, epochs_trained, point.hyperparameters, diverged=diverged
        ),
    }
    last_epoch = max(epochs_trained - 1, 0)
    logger.log_metrics(final, step=last_epoch, wait=False)
    outcome = schema.GridPointOutcome(
        run_name=point.name,
        status=schema.STATUS_FINISHED,
        metric=task.metric,
        test_metric=test_metric,
        val_metric=member.timer.last_value,
        solved=bool(solved),
        diverged=bool(diverged),
        train_time_s=timing[schema.TRAIN_TIME_S],
    )
    tags = {schema.NOTE: run_note(point, outcome)}
    if member.timer.stopped_epoch is not None:
        tags[schema.STOPPED_WHEN_SOLVED_AT_EPOCH] = member.timer.stopped_epoch
    logger.set_tags(tags, wait=False)
    # The epochs' metrics, then the results and the description: one write, or, after a
    # tracking server's outage, everything kept through it (this waits for the server, not
    # the training: the group loop finishes runs on a thread of their own).
    logger.drain()
    _log_tensorboard_and_model(member, model, final, last_epoch)
    return outcome


def _log_tensorboard_and_model(member, model, final, last_epoch):
    """The run's HParams values and final values in TensorBoard, and its MLflow model."""
    point, task = member.point, member.data.task
    if member.tb_dir:
        tracking.write_run_hparams(
            member.tb_dir,
            point.name,
            point.params(),
            final,
            metric=task.metric,
            length=point.length,
        )
    name = schema.model_name(point.name)
    logger = member.logger
    tracking.log_keras_model(
        logger.run_id, name, model, member.data.test[0][0], step=last_epoch, guard=logger.guard
    )


def run_note(point, outcome):
    """The run's description in MLflow, one line: `vanilla L=50 seed 0: test mse 0.1652, not
    solved.` (model, length, seed and any other grid axis, then the result)."""
    if outcome.diverged:
        return f"{point.label()}: diverged."
    return f"{point.label()}: test {outcome.metric} {outcome.test_metric:.4g}, {outcome.verdict}."


def _test_metrics(test_logs):
    """`test_loss` and `test_<name>` of every metric the task returns (`task.metrics()`:
    its metric first, then others such as adding's `max_abs_error`)."""
    metrics = {schema.TEST_LOSS: float(test_logs["loss"])}
    for name, value in test_logs.items():
        if name != "loss":
            metrics[schema.test_metric_name(name)] = float(value)
    return metrics
