"""Where the time of one grid point's run goes, end to end, in the runner itself.

    python -m benchmarks.profile_run [--point vanilla-L20-s0 --point vanilla-L100-s0]
                                     [--experiment long_dependency] [--profile quick]
                                     [--set training_loop=keras_fit] [--set ...]

Runs each grid point through `training.run_job`, as a worker does, into a throwaway
tracking store, with clocks around every phase: the run's start (MLflow run, tags,
datasets, params), building the model, the training loop (the first epoch, which
compiles; then the training steps, the validation, the per-epoch callbacks), the test set
and logging the model. Beside it, in the same process, the same model's training steps
with nothing around them (`compiled_update_ms`): Keras's own loop over in-memory batches,
`steps_per_execution` = one epoch, XLA as the run has it. Each phase then reads as a cost
per update against that arithmetic. `stop_when_solved` is off, so every run trains its
whole budget (`--epochs N` caps it).
"""

import argparse
import collections
import contextlib
import functools
import os
import tempfile
import time

import numpy as np


class Clock:
    """Seconds spent in named phases (a phase may be entered many times)."""

    def __init__(self):
        self.seconds = collections.defaultdict(float)

    @contextlib.contextmanager
    def phase(self, name):
        began = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - began

    def timed(self, name, function):
        """`function`, with every call counted in phase `name`."""

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with self.phase(name):
                return function(*args, **kwargs)

        return wrapper


def _epoch_clock(clock):
    """A Keras callback that splits each epoch into its training steps and its validation."""
    import keras

    class EpochClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.began = time.perf_counter()

        def on_test_begin(self, logs=None):
            self.validating = time.perf_counter()
            name = "first epoch: compile + steps" if self.epoch == 0 else "training steps"
            clock.seconds[name] += self.validating - self.began

        def on_test_end(self, logs=None):
            name = "first validation (compiles)" if self.epoch == 0 else "validation"
            clock.seconds[name] += time.perf_counter() - self.validating

        def on_epoch_end(self, epoch, logs=None):
            self.epoch = epoch + 1

        epoch = 0

    return EpochClock()


def _timed_callback(clock, factory):
    """A callback factory whose callbacks count their `on_epoch_end` as "epoch callbacks"."""

    @functools.wraps(factory)
    def make(*args, **kwargs):
        callback = factory(*args, **kwargs)
        callback.on_epoch_end = clock.timed("epoch callbacks", callback.on_epoch_end)
        return callback

    return make


def profile_keras_fit(job, monkeypatch):
    """Runs `job` through `run_job` on the Keras-fit loop with every phase clocked."""
    import keras

    from experiments import tracking
    from experiments.training import callbacks, fit, models
    from experiments.training import job as job_module

    clock = Clock()
    patches = {
        (fit, "_data"): clock.timed("start: data sets", fit._data),
        (models, "build_model"): clock.timed("build model", models.build_model),
        (tracking, "log_keras_model"): clock.timed("model logging", tracking.log_keras_model),
        (tracking, "system_tags"): clock.timed("start: tags", tracking.system_tags),
        (fit.faults, "callbacks_for"): lambda name: [_epoch_clock(clock)],
        (callbacks, "epoch_metrics_logger"): _timed_callback(clock, callbacks.epoch_metrics_logger),
        (tracking, "epoch_summaries"): _timed_callback(clock, tracking.epoch_summaries),
        (callbacks, "solve_timer"): _timed_callback(clock, callbacks.solve_timer),
    }
    evaluate = keras.Model.evaluate

    def timed_evaluate(model, *args, **kwargs):
        if kwargs.get("_use_cached_eval_dataset"):  # fit's validation: the epoch clock has it
            return evaluate(model, *args, **kwargs)
        with clock.phase("test set"):
            return evaluate(model, *args, **kwargs)

    patches[(keras.Model, "evaluate")] = timed_evaluate
    with monkeypatch(patches):
        began = time.perf_counter()
        outcome = job_module.run_job(job)
        clock.seconds["all"] = time.perf_counter() - began
    return clock, outcome


@contextlib.contextmanager
def patched(patches):
    saved = {target: getattr(*target) for target in patches}
    try:
        for (owner, name), value in patches.items():
            setattr(owner, name, value)
        yield
    finally:
        for (owner, name), value in saved.items():
            setattr(owner, name, value)


def compiled_update_seconds(point, rounds=3):
    """Seconds per update of Keras's own loop over in-memory batches, one execution per epoch."""
    import keras

    import datasets
    from experiments.training.models import build_model

    hp = point.hyperparameters
    task = datasets.make(point.task, length=point.length, seed=point.seed, **point.task_params)
    batches = [task.sample(hp.batch_size, seed=i)[:2] for i in range(hp.steps_per_epoch)]
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    model = build_model(point.kind, hp, task, seed=point.seed)
    model.compile(
        optimizer=model.optimizer,
        loss=task.loss,
        metrics=task.metrics(),
        jit_compile=hp.jit_compile,
        steps_per_execution=hp.steps_per_epoch,
    )
    fit = functools.partial(model.fit, x, y, batch_size=hp.batch_size, shuffle=False, verbose=0)
    fit(epochs=1)  # compiles
    began = time.perf_counter()
    fit(epochs=rounds)
    seconds = (time.perf_counter() - began) / (rounds * hp.steps_per_epoch)
    keras.backend.clear_session()
    return seconds


def _job(config, point):
    """A job for `point` with its child run created (under a parent), as the driver makes it."""
    import datasets
    from experiments import tracking
    from experiments.sweep import runs
    from experiments.training import GridPointJob

    tracking_config = tracking.load_tracking_config()
    client = tracking.open_store(tracking_config)
    experiment_id = tracking.ensure_experiment(client, tracking_config, config.name)
    task = datasets.make(point.task, length=point.length, **point.task_params)
    parent_id, _ = runs.create_parent(client, experiment_id, config, task, [point])
    run_id = runs.create_child(client, config, experiment_id, parent_id, point, [])
    return GridPointJob(
        experiment=config.name,
        tracking_uri=tracking_config.tracking_uri,
        run_id=run_id,
        point=point,
        probes=list(config.settings.probes),
        tb_dir=tracking_config.tb_run_dir(config.name, point.name),
        progress_every_s=0,
    )


def report(point, clock, updates, compiled_s):
    """The table of one point: seconds, ms per update, share of the run, per phase."""
    total = clock.seconds["all"]
    accounted = sum(v for k, v in clock.seconds.items() if k != "all")
    rows = sorted(((k, v) for k, v in clock.seconds.items() if k != "all"), key=lambda r: -r[1])
    rows.append(("other (run start and end, MLflow)", total - accounted))
    lines = [
        f"{point.name}: {updates} updates, {total:.2f} s in the worker "
        f"= {total / updates * 1e3:.2f} ms per update all in; the compiled training step "
        f"alone: {compiled_s * 1e3:.3f} ms per update (all in / compiled = "
        f"{total / updates / compiled_s:.1f}x)",
        f"  {'phase':<34} {'seconds':>8} {'ms/update':>10} {'share':>6}",
    ]
    for name, seconds in rows:
        lines.append(
            f"  {name:<34} {seconds:8.2f} {seconds / updates * 1e3:10.3f} {seconds / total:6.0%}"
        )
    return "\n".join(lines)


def _parser():
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_run", description=__doc__)
    parser.add_argument("--experiment", default="long_dependency")
    parser.add_argument("--profile", default="quick")
    parser.add_argument(
        "--point", action="append", default=None, help="grid point names (default: two lengths)"
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--epochs", type=int, default=None, help="cap the epochs (faster)")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    from experiments import terminal

    terminal.import_tensorflow()
    from experiments.config import expand_grid, load_config

    overrides = ["stop_when_solved=false", *args.overrides]
    if args.epochs:
        overrides.append(f"epochs={args.epochs}")
    config = load_config(args.experiment, args.profile, overrides)
    by_name = {point.name: point for point in expand_grid(config)}
    with tempfile.TemporaryDirectory(prefix="vrl-profile-") as folder:
        yaml = os.path.join(folder, "mlflow.yaml")
        with open(yaml, "w") as file:
            file.write("experiment_prefix: profile-\n")
        os.environ["VRL_MLFLOW_CONFIG"] = yaml
        for name in args.point or ["vanilla-L20-s0", "vanilla-L100-s0"]:
            point = by_name[name]
            clock, outcome = profile_keras_fit(_job(config, point), patched)
            updates = point.hyperparameters.epochs * point.hyperparameters.steps_per_epoch
            print(report(point, clock, updates, compiled_update_seconds(point)), flush=True)


if __name__ == "__main__":
    main()
