"""Train one grid point: task -> model -> fit -> test metrics -> MLflow + TensorBoard.

`run_job(job)` is what an executor runs (in the driver, in a worker process,
or on a Ray node). It owns the child run's content and ends the run:
FINISHED (also when the loss diverged), or FAILED with `traceback.txt` when
anything raises. An interrupt (KeyboardInterrupt / SIGTERM) is not caught
here: the driver marks the run KILLED, whatever executor ran it.

Reads top to bottom like a training script:

1. the task for (`task`, `length`, `seed`); validation and test sets drawn
   once with their own seeds (`task.split_seeds`); training batches drawn
   fresh every epoch from `task.dataset(...)`;
2. the model (`experiments.models.build_model`);
3. `model.fit` with the callbacks: NaN stop, per-epoch MLflow metrics,
   TensorBoard, probes, the time to solve (and optionally stop there);
4. test metrics, `solved`, `diverged`, `train_time_s`, the time to solve, the model file.

The metric, param and tag names are those of `experiments.schema`.
"""

import dataclasses
import logging
import time
import traceback

import numpy as np

from experiments import fault_injection, quiet, schema, tracking

EVAL_BATCH_SIZE = 256


@dataclasses.dataclass
class GridPointJob:
    """Everything a worker needs to train one grid point (picklable).

    Attributes:
        experiment: the named experiment.
        tracking_uri: where the child run lives (resolved by the driver).
        run_id: the child run, created by the driver (status RUNNING).
        run_name: e.g. `vanilla-L100-s0`; also the TensorBoard folder name.
        hparams: the grid point's hyperparameters (`config.GridPoint.hparams`).
        task_params: extra keyword arguments of `datasets.make`.
        probes: probe names for `experiments.probes.make_probes`.
        tb_dir: the run's TensorBoard directory, or None.
        progress_every_s: a line on stdout while the run trains, at most this often
            (epoch, validation metric, time in and left); 0: none.
    """

    experiment: str
    tracking_uri: str
    run_id: str
    run_name: str
    hparams: dict
    task_params: dict
    probes: list
    tb_dir: str | None
    progress_every_s: float = 30.0


def run_job(job):
    """Trains one grid point into its (already created) MLflow child run.

    Args:
        job: a `GridPointJob`.

    Returns:
        A `schema.GridPointOutcome`: FINISHED with the test metric, or FAILED with the
        exception's last line.
    """
    quiet.import_tensorflow()  # a Ray worker's first job: no start-up notices
    client = tracking.configure_mlflow(job.tracking_uri)
    logger = tracking.RunLogger(client, job.run_id, job.tb_dir)
    began = time.perf_counter()
    client.update_run(job.run_id, status="RUNNING")
    system_metrics = tracking.start_system_metrics(job.run_id)
    try:
        outcome = dataclasses.replace(
            train_grid_point(job, logger), run_time_s=time.perf_counter() - began
        )
    except Exception:  # a failing grid point must not stop the sweep
        text = traceback.format_exc()
        tracking.log_traceback(client, job.run_id, text)
        error = text.strip().splitlines()[-1]
        outcome = schema.GridPointOutcome(job.run_name, schema.STATUS_FAILED, error=error)
    finally:  # also on an interrupt (the driver then marks the run KILLED)
        if system_metrics is not None:
            system_metrics.finish()  # its last samples, while the run is still RUNNING
    client.set_terminated(job.run_id, outcome.status)
    return outcome


class _NoRetracingWarning(logging.Filter):
    # A sweep builds a new model per grid point on purpose; TensorFlow's
    # "triggered tf.function retracing" warning then only adds noise.
    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


def _quiet_retracing_warning():
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _NoRetracingWarning) for f in logger.filters):
        logger.addFilter(_NoRetracingWarning())


def _epoch_logger(run_logger):
    import keras

    class EpochMetricsLogger(keras.callbacks.Callback):
        """Logs every epoch's metrics to MLflow with `step = epoch`.

        `loss`, `val_loss`, the task metric and `val_<metric>` (every number in
        Keras's epoch logs but the learning rate). NaN is logged as is, so a
        diverging run shows where it diverged. (MLflow's `MlflowCallback`
        logs validation metrics at step 0: mlflow issue 14293.)
        """

        def __init__(self):
            super().__init__()
            self.epochs_logged = 0

        def on_epoch_end(self, epoch, logs=None):
            metrics = {k: float(v) for k, v in (logs or {}).items() if k != "learning_rate"}
            run_logger.log_metrics(metrics, step=epoch)
            self.epochs_logged += 1

    return EpochMetricsLogger()


def _progress_lines(job, task, hp):
    import keras

    from experiments.progress import format_seconds, print_now

    class ProgressLines(keras.callbacks.Callback):
        """A line while a long run trains, at most every `job.progress_every_s` seconds.

        `  lstm-L100-s0: epoch 12/30, val mse 0.162, 0:41 in, ~1:02 left`: the time left
        assumes the remaining epochs take as long as the ones so far (stopping when solved
        can make it shorter).
        """

        def on_train_begin(self, logs=None):
            self.began = self.last_line = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            now = time.monotonic()
            if now - self.last_line < job.progress_every_s:
                return
            self.last_line = now
            done = epoch + 1
            spent = now - self.began
            left = spent / done * (hp["epochs"] - done)
            value = (logs or {}).get(f"val_{task.metric}")
            metric = "" if value is None else f", val {task.metric} {value:.4g}"
            print_now(
                f"  {job.run_name}: epoch {done}/{hp['epochs']}{metric}, "
                f"{format_seconds(spent)} in, ~{format_seconds(left)} left"
            )

    return ProgressLines()


def _solve_timer(task, hp):
    import keras

    class SolveTimer(keras.callbacks.Callback):
        """Records when the validation metric first reaches the solved threshold.

        Validation runs after every epoch, that is every `steps_per_epoch` updates (at most
        100, the config enforces it), so `updates_to_solve` is exact to that resolution.
        With `stop_when_solved`, training stops once the metric has stayed solved for
        `solved_patience` epochs in a row: a model stopped at its first crossing sits right
        at the threshold, and the test set then often judges it just short of it.
        """

        def __init__(self):
            super().__init__()
            self.solved_epoch = None
            self.stopped_epoch = None
            self.solved_in_a_row = 0

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(f"val_{task.metric}")
            solved = value is not None and task.is_solved(value)
            self.solved_in_a_row = self.solved_in_a_row + 1 if solved else 0
            if solved and self.solved_epoch is None:
                self.solved_epoch = epoch
            if hp["stop_when_solved"] and self.solved_in_a_row >= hp["solved_patience"]:
                self.stopped_epoch = epoch
                self.model.stop_training = True

    return SolveTimer()


def time_to_solve(solved_epoch, epochs_trained, hp, *, diverged):
    """The time-to-solve metrics of a run.

    Args:
        solved_epoch: the first epoch (0-based) whose validation metric was solved, or None.
        epochs_trained: epochs actually trained.
        hp: the grid point's hyperparameters (`steps_per_epoch`, `batch_size`).
        diverged: whether the run diverged (then it never counts as solved).

    Returns:
        `{updates_to_solve, sequences_to_solve, solve_censored}`. A run that never reached
        the threshold (or diverged) is censored at the updates it trained: the time to solve
        is then only known to be longer than that.
    """
    censored = solved_epoch is None or diverged
    epochs = epochs_trained if censored else solved_epoch + 1
    updates = epochs * hp["steps_per_epoch"]
    return {
        schema.UPDATES_TO_SOLVE: updates,
        schema.SEQUENCES_TO_SOLVE: updates * hp["batch_size"],
        schema.SOLVE_CENSORED: int(censored),
    }


def _log_dataset(run_logger, task, hp, fixed_set, context):
    """Records a fixed set as an MLflow dataset input of the run (its first batch as sample).

    A set is generated batch by batch from its seed and may not fit in memory, so its
    digest covers what determines it (the task with its settings, size, seed, batch
    size) and its first batch's bytes, not every sequence.
    """
    import hashlib

    x, y = fixed_set[0][:2]
    identity = f"{task.describe()}|n={fixed_set.n}|seed={fixed_set.seed}|{fixed_set.batch_size}"
    fingerprint = hashlib.sha256(identity.encode())
    fingerprint.update(np.ascontiguousarray(x).tobytes())
    fingerprint.update(np.ascontiguousarray(y).tobytes())
    name = f"{hp['task']}-L{hp['length']}-s{hp['seed']}"
    run_logger.log_dataset(name, x, y, context, fingerprint.hexdigest()[:12])


def _is_xla_compile_error(error):
    text = f"{type(error).__name__}: {error}"
    return any(word in text for word in ("XLA", "xla", "jit_compile", "JIT"))


def _make_probes(job, task, run_logger):
    if not job.probes:
        return []
    from experiments import probes

    return probes.make_probes(job.probes, task, dict(job.hparams), run_logger)


def train_grid_point(job, run_logger):
    """The training itself; returns the FINISHED `schema.GridPointOutcome`."""
    import keras

    import datasets
    from experiments.models import build_model

    injected_callbacks = fault_injection.callbacks_for(job.run_name)
    _quiet_retracing_warning()
    hp = job.hparams
    run_logger.set_tags(tracking.system_tags())

    # 1. Data: fixed validation / test sets, fresh training batches every epoch, all
    # generated batch by batch (a full-profile test set would be hundreds of MB).
    task = datasets.make(hp["task"], length=hp["length"], seed=hp["seed"], **job.task_params)
    seeds = task.split_seeds
    validation = task.fixed_set(hp["val_samples"], seed=seeds["val"], batch_size=EVAL_BATCH_SIZE)
    test_set = task.fixed_set(hp["test_samples"], seed=seeds["test"], batch_size=EVAL_BATCH_SIZE)
    run_logger.set_tags({"task.describe": task.describe(), "metric": task.metric})
    for context, fixed_set in (("validation", validation), ("test", test_set)):
        _log_dataset(run_logger, task, hp, fixed_set, context)
    run_logger.log_params(
        {schema.CHANCE: task.chance, schema.SOLVED_THRESHOLD: task.solved_threshold}
    )

    def fit(jit_compile):
        # 2. Model (seeded), 3. fit. Rebuilt from the same seed on an XLA fallback.
        if job.tb_dir:
            tracking.reset_dir(job.tb_dir)
        model = build_model(hp, task, seed=hp["seed"], jit_compile=jit_compile)
        epoch_logger = _epoch_logger(run_logger)
        solve_timer = _solve_timer(task, hp)
        callbacks = [keras.callbacks.TerminateOnNaN(), epoch_logger]
        if job.tb_dir:  # one TensorBoard run per grid point: scalars in the run's own folder
            callbacks.append(tracking.epoch_summaries(job.tb_dir))
        callbacks += _make_probes(job, task, run_logger)
        callbacks += injected_callbacks
        if job.progress_every_s:
            callbacks.append(_progress_lines(job, task, hp))
        callbacks.append(solve_timer)
        train_stream = task.dataset(hp["batch_size"], hp["steps_per_epoch"], seed=seeds["train"])
        started = time.perf_counter()
        try:
            history = model.fit(
                train_stream,
                epochs=hp["epochs"],
                validation_data=validation,
                callbacks=callbacks,
                verbose=0,  # the sweep's lines and `_progress_lines` say what matters
            )
        except Exception as error:
            if jit_compile and epoch_logger.epochs_logged == 0 and _is_xla_compile_error(error):
                first_line = (
                    str(error).strip().splitlines()[0]
                    if str(error).strip()
                    else type(error).__name__
                )
                run_logger.set_tags({"jit_compile_fallback": first_line[:500]})
                return fit(jit_compile=False)
            raise
        return model, history, time.perf_counter() - started, solve_timer

    model, history, train_time, solve_timer = fit(bool(hp["jit_compile"]))
    run_logger.set_tags({"jit_compile_effective": bool(model.jit_compile)})

    # 4. Test metrics; a NaN/inf loss or weight means diverged (never solved).
    losses = np.asarray(history.history.get("loss", [np.nan]), dtype=float)
    weights_finite = all(np.isfinite(np.asarray(w)).all() for w in model.get_weights())
    diverged = not (np.isfinite(losses).all() and weights_finite)
    test = model.evaluate(test_set, return_dict=True, verbose=0)
    test_metric = float(test[task.metric])
    solved = (not diverged) and task.is_solved(test_metric)
    epochs_trained = len(losses)
    final = {
        schema.test_metric_name(task.metric): test_metric,
        schema.TEST_LOSS: float(test["loss"]),
        schema.SOLVED: int(solved),
        schema.DIVERGED: int(diverged),
        schema.TRAIN_TIME_S: train_time,
        schema.EPOCHS_TRAINED: epochs_trained,
        **time_to_solve(solve_timer.solved_epoch, epochs_trained, hp, diverged=diverged),
    }
    run_logger.log_metrics(final, step=max(epochs_trained - 1, 0))
    if solve_timer.stopped_epoch is not None:
        run_logger.set_tags({"stopped_when_solved_at_epoch": solve_timer.stopped_epoch})
    if job.tb_dir:
        tb_metrics = {k: v for k, v in final.items() if k != schema.EPOCHS_TRAINED}
        tracking.write_run_hparams(job.tb_dir, job.run_name, hp, tb_metrics)
    example_inputs = test_set[0][0]
    tracking.log_keras_model(job.run_id, model, example_inputs, step=max(epochs_trained - 1, 0))
    return schema.GridPointOutcome(
        run_name=job.run_name,
        status=schema.STATUS_FINISHED,
        metric=task.metric,
        test_metric=test_metric,
        solved=bool(solved),
        diverged=bool(diverged),
        train_time_s=train_time,
    )
