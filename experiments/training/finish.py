"""The end of a grid point's run, whichever loop trained it: the test set, `solved`,
`diverged`, the time to solve, TensorBoard's hyperparameters, the logged model."""

import numpy as np

from experiments import schema, tracking
from experiments.training.callbacks import time_to_solve


def finish_run(member, model, test_logs, losses, timing):
    """Logs a trained member's results and model; returns its FINISHED outcome.

    Args:
        member: the `training.job.Member` (its point, run logger, TensorBoard folder).
        model: the trained Keras model (its weights decide `diverged` and are logged).
        test_logs: `{"loss": ..., <metric>: ...}` on the test set.
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
        schema.test_metric_name(task.metric): test_metric,
        schema.TEST_LOSS: float(test_logs["loss"]),
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
    if member.timer.stopped_epoch is not None:
        stopped = {schema.STOPPED_WHEN_SOLVED_AT_EPOCH: member.timer.stopped_epoch}
        logger.set_tags(stopped, wait=False)
    # The epochs' metrics, then the results: one write, or, after a tracking server's
    # outage, everything kept through it (this waits for the server, not the training:
    # the group loop finishes runs on a thread of their own).
    logger.drain()
    if member.tb_dir:
        _write_hparams(member, final, timing)
    tracking.log_keras_model(
        logger.run_id, model, member.data.test[0][0], step=last_epoch, guard=logger.guard
    )
    return schema.GridPointOutcome(
        run_name=point.name,
        status=schema.STATUS_FINISHED,
        metric=task.metric,
        test_metric=test_metric,
        solved=bool(solved),
        diverged=bool(diverged),
        train_time_s=timing[schema.TRAIN_TIME_S],
    )


def _write_hparams(member, final, timing):
    """The run's row of TensorBoard's HParams table: its results and training time."""
    shown = {
        k: v
        for k, v in final.items()
        if k != schema.EPOCHS_TRAINED and (k not in timing or k == schema.TRAIN_TIME_S)
    }
    point = member.point
    hparams = {**point.identity(), **point.hyperparameters.as_params()}
    tracking.write_run_hparams(member.tb_dir, point.name, hparams, shown)
