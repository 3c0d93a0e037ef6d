"""The training of one grid point: task -> model -> fit -> test metrics, logged as it goes.

Reads top to bottom like a training script:

1. the data: the task for (`task`, `length`, `seed`); validation and test sets drawn once
   with their own seeds (`task.split_seeds`); training batches drawn fresh every epoch
   from `task.dataset(...)`;
2. the model (`training.models.build_model`), seeded by the run seed;
3. `model.fit` with the callbacks: NaN stop, per-epoch MLflow metrics, TensorBoard,
   probes, the time to solve (and optionally stop there);
4. the results: test metrics, `solved`, `diverged`, `train_time_s`, the time to solve,
   the model.

The metric, param and tag names are those of `experiments.schema`.
"""

import dataclasses
import hashlib
import time

import numpy as np

from experiments import schema, tracking
from experiments.errors import one_line
from experiments.training import callbacks, faults

EVAL_BATCH_SIZE = 256


@dataclasses.dataclass
class _Data:
    task: object
    validation: object
    test: object
    train_seed: int


@dataclasses.dataclass
class _Fitted:
    model: object
    history: object
    train_time_s: float
    solve_timer: object


def train_grid_point(job, run_logger):
    """Trains `job.point` into its run; returns the FINISHED `schema.GridPointOutcome`."""
    injected = faults.callbacks_for(job.run_name)
    callbacks.quiet_retracing_warning()
    run_logger.set_tags(tracking.system_tags())
    data = _data(job, run_logger)
    fitted = _fit(job, data, run_logger, injected, bool(job.point.hyperparameters.jit_compile))
    run_logger.set_tags({schema.JIT_COMPILE_EFFECTIVE: bool(fitted.model.jit_compile)})
    return _finish(job, data, fitted, run_logger)


def _data(job, run_logger):
    """The task, its fixed validation and test sets (streamed: a full profile's test set
    would be hundreds of MB), logged as the run's dataset inputs."""
    import datasets

    point, hp = job.point, job.point.hyperparameters
    task = datasets.make(point.task, length=point.length, seed=point.seed, **point.task_params)
    seeds = task.split_seeds
    validation = task.fixed_set(hp.val_samples, seed=seeds["val"], batch_size=EVAL_BATCH_SIZE)
    test = task.fixed_set(hp.test_samples, seed=seeds["test"], batch_size=EVAL_BATCH_SIZE)
    run_logger.set_tags({schema.TASK_DESCRIPTION: task.describe(), schema.METRIC: task.metric})
    for context, fixed_set in (("validation", validation), ("test", test)):
        _log_dataset(run_logger, task, point, fixed_set, context)
    run_logger.log_params(
        {schema.CHANCE: task.chance, schema.SOLVED_THRESHOLD: task.solved_threshold}
    )
    return _Data(task, validation, test, seeds["train"])


def _log_dataset(run_logger, task, point, fixed_set, context):
    """Records a fixed set as an MLflow dataset input of the run (its first batch as sample).

    A set is generated batch by batch from its seed and may not fit in memory, so its
    digest covers what determines it (the task with its settings, size, seed, batch
    size) and its first batch's bytes, not every sequence.
    """
    x, y = fixed_set[0][:2]
    identity = f"{task.describe()}|n={fixed_set.n}|seed={fixed_set.seed}|{fixed_set.batch_size}"
    fingerprint = hashlib.sha256(identity.encode())
    fingerprint.update(np.ascontiguousarray(x).tobytes())
    fingerprint.update(np.ascontiguousarray(y).tobytes())
    name = f"{point.task}-L{point.length}-s{point.seed}"
    run_logger.log_dataset(name, x, y, context, fingerprint.hexdigest()[:12])


def _callbacks(job, task, run_logger, injected):
    """Every callback of `fit`, the solve timer last (it may stop training)."""
    import keras

    hp = job.point.hyperparameters
    metrics_logger = callbacks.epoch_metrics_logger(run_logger)
    timer = callbacks.solve_timer(task, hp)
    chosen = [keras.callbacks.TerminateOnNaN(), metrics_logger]
    if job.tb_dir:  # one TensorBoard run per grid point: scalars in the run's own folder
        chosen.append(tracking.epoch_summaries(job.tb_dir))
    chosen += _probes(job, task, run_logger)
    chosen += injected
    if job.progress_every_s:
        chosen.append(
            callbacks.progress_lines(job.run_name, task.metric, hp.epochs, job.progress_every_s)
        )
    chosen.append(timer)
    return chosen, metrics_logger, timer


def _probes(job, task, run_logger):
    if not job.probes:
        return []
    from experiments import probes

    return probes.make_probes(job.probes, task, job.point.model, run_logger)


def _fit(job, data, run_logger, injected, jit_compile):
    """Builds the model (seeded) and fits it; rebuilt without XLA where XLA cannot compile it."""
    from experiments.training.models import build_model

    point, hp = job.point, job.point.hyperparameters
    if job.tb_dir:
        tracking.reset_dir(job.tb_dir)
    model = build_model(point.kind, hp, data.task, seed=point.seed, jit_compile=jit_compile)
    chosen, metrics_logger, timer = _callbacks(job, data.task, run_logger, injected)
    stream = data.task.dataset(hp.batch_size, hp.steps_per_epoch, seed=data.train_seed)
    started = time.perf_counter()
    try:
        history = model.fit(
            stream,
            epochs=hp.epochs,
            validation_data=data.validation,
            callbacks=chosen,
            verbose=0,  # the sweep's lines and the progress callback say what matters
        )
    except _xla_compile_errors() as error:
        if not jit_compile or metrics_logger.epochs_logged:
            raise
        run_logger.set_tags({schema.JIT_COMPILE_FALLBACK: one_line(error, 500)})
        return _fit(job, data, run_logger, injected, jit_compile=False)
    return _Fitted(model, history, time.perf_counter() - started, timer)


def _xla_compile_errors():
    """The errors of a model that XLA cannot compile, on this backend."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError)
    if keras.backend.backend() == "jax":
        import jax

        return (jax.errors.JAXTypeError,)
    return ()


def _finish(job, data, fitted, run_logger):
    """Test metrics, `solved`, `diverged` (a NaN/inf loss or weight), the model, logged."""
    point, hp, task, model = job.point, job.point.hyperparameters, data.task, fitted.model
    losses = np.asarray(fitted.history.history.get("loss", [np.nan]), dtype=float)
    weights_finite = all(np.isfinite(np.asarray(w)).all() for w in model.get_weights())
    diverged = not (np.isfinite(losses).all() and weights_finite)
    test = model.evaluate(data.test, return_dict=True, verbose=0)
    test_metric = float(test[task.metric])
    solved = (not diverged) and task.is_solved(test_metric)
    epochs_trained = len(losses)
    timer = fitted.solve_timer
    final = {
        schema.test_metric_name(task.metric): test_metric,
        schema.TEST_LOSS: float(test["loss"]),
        schema.SOLVED: int(solved),
        schema.DIVERGED: int(diverged),
        schema.TRAIN_TIME_S: fitted.train_time_s,
        schema.EPOCHS_TRAINED: epochs_trained,
        **callbacks.time_to_solve(timer.solved_epoch, epochs_trained, hp, diverged=diverged),
    }
    last_epoch = max(epochs_trained - 1, 0)
    run_logger.log_metrics(final, step=last_epoch)
    if timer.stopped_epoch is not None:
        run_logger.set_tags({schema.STOPPED_WHEN_SOLVED_AT_EPOCH: timer.stopped_epoch})
    if job.tb_dir:
        tb_metrics = {k: v for k, v in final.items() if k != schema.EPOCHS_TRAINED}
        hparams = {**point.identity(), **hp.as_params()}
        tracking.write_run_hparams(job.tb_dir, job.run_name, hparams, tb_metrics)
    tracking.log_keras_model(job.run_id, model, data.test[0][0], step=last_epoch)
    return schema.GridPointOutcome(
        run_name=job.run_name,
        status=schema.STATUS_FINISHED,
        metric=task.metric,
        test_metric=test_metric,
        solved=bool(solved),
        diverged=bool(diverged),
        train_time_s=fitted.train_time_s,
    )
