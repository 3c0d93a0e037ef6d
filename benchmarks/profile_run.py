"""Where the time of one grid point's run goes, end to end, in the runner itself.

    python -m benchmarks.profile_run [--point vanilla-L20-s0 --point vanilla-L100-s0]
                                     [--experiment long_dependency] [--profile quick]
                                     [--loop compiled|keras_fit|both] [--set KEY=VALUE]

Runs each grid point through `training.run_job`, as a worker does, into a throwaway
tracking store, with clocks around its phases: the run's start (system tags, the data
sets and their MLflow records), building the model, the training (the first epoch, which
compiles; the later epochs' training steps; validation; the per-epoch host work: drawing
batches, MLflow and TensorBoard logging, the solve timer), the test set, and the run's end
(its results and logging the MLflow model). Every phase is shown as seconds and as a cost
per update, beside the compiled training step alone:

- the compiled loop (`training_loop: compiled`): its epoch program, the epochs after the
  first (`compiled_update_ms`, measured in the run itself);
- Keras's `fit` (`training_loop: keras_fit`): Keras's own multi-step execution over
  in-memory batches, one execution per epoch (`steps_per_execution`), timed here beside it.

`stop_when_solved` is off, so every run trains its whole budget (`--epochs N` caps it).
"""

import argparse
import collections
import contextlib
import functools
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class Clock:
    """Seconds spent in named phases (a phase may be entered many times)."""

    def __init__(self):
        self.seconds = collections.defaultdict(float)

    def timed(self, name, function):
        """`function`, with every call counted in phase `name`."""

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - began

        return wrapper


@contextlib.contextmanager
def patched(patches):
    """Sets `owner.name = value` for each `(owner, name): value`, restored on exit."""
    saved = {target: getattr(*target) for target in patches}
    try:
        for (owner, name), value in patches.items():
            setattr(owner, name, value)
        yield
    finally:
        for (owner, name), value in saved.items():
            setattr(owner, name, value)


def _epoch_clock(clock):
    """A Keras callback splitting each of `fit`'s epochs into its steps and its validation."""
    import keras

    class EpochClock(keras.callbacks.Callback):
        epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.began = time.perf_counter()

        def on_test_begin(self, logs=None):
            self.validating = time.perf_counter()
            name = "first epoch (compiles)" if self.epoch == 0 else "training steps"
            clock.seconds[name] += self.validating - self.began

        def on_test_end(self, logs=None):
            clock.seconds["validation"] += time.perf_counter() - self.validating

        def on_epoch_end(self, epoch, logs=None):
            self.epoch = epoch + 1

    return EpochClock()


def _timed_callback(clock, factory):
    """A callback factory whose callbacks count their `on_epoch_end` as per-epoch host work."""

    @functools.wraps(factory)
    def make(*args, **kwargs):
        callback = factory(*args, **kwargs)
        callback.on_epoch_end = clock.timed("per-epoch host work", callback.on_epoch_end)
        return callback

    return make


def clocked_run(job, loop):
    """Runs `job` through `run_job` with the phases clocked; returns `(clock, run)`."""
    import keras
    import mlflow

    from experiments import faults, models, tracking
    from experiments.training import callbacks, data, finish, member
    from experiments.training import job as job_module

    clock = Clock()
    patches = {
        (member, "prepare_data"): clock.timed("start: data sets", data.prepare_data),
        (models, "build_model"): clock.timed("start: build the model", models.build_model),
        (tracking, "system_tags"): clock.timed("start: system tags", tracking.system_tags),
        (finish.tracking, "log_keras_model"): clock.timed(
            "end: log the MLflow model", tracking.log_keras_model
        ),
    }
    if loop == "keras_fit":
        evaluate = keras.Model.evaluate
        patches[(faults, "callbacks_for")] = lambda name: [_epoch_clock(clock)]
        patches[(keras.Model, "evaluate")] = lambda model, *args, **kwargs: (
            evaluate(model, *args, **kwargs)
            if kwargs.get("_use_cached_eval_dataset")  # fit's validation: the epoch clock
            else clock.timed("test set", evaluate)(model, *args, **kwargs)
        )
        for factory in ("epoch_metrics_logger", "solve_timer"):
            patches[(callbacks, factory)] = _timed_callback(clock, getattr(callbacks, factory))
        patches[(member.tracking, "epoch_summaries")] = _timed_callback(
            clock, tracking.epoch_summaries
        )
    with patched(patches):
        began = time.perf_counter()
        job_module.run_job(job)
        clock.seconds["all"] = time.perf_counter() - began
    run = mlflow.MlflowClient().get_run(job.points[0].run_id)
    if loop == "compiled":
        _read_loop_timing(clock, run)
    return clock, run


def _read_loop_timing(clock, run):
    """The compiled loop times its own phases: read them back from the run."""
    from experiments import schema

    names = {
        schema.TIME_FIRST_EPOCH_S: "first epoch (compiles)",
        schema.TIME_EPOCHS_S: "training steps",
        schema.TIME_VALIDATION_S: "validation",
        schema.TIME_HOST_S: "per-epoch host work",
        schema.TIME_TEST_S: "test set",
    }
    for metric, name in names.items():
        clock.seconds[name] += run.data.metrics.get(metric, 0.0)


def keras_compiled_update_seconds(point, rounds=3):
    """Seconds per update of Keras's own loop over in-memory batches, one execution per epoch."""
    import keras

    import datasets
    from experiments.models import build_model

    hp = point.hyperparameters
    task = datasets.make(point.task, length=point.length, seed=point.seed, **point.task_params)
    x, y = task.dataset(hp.batch_size, hp.steps_per_epoch, seed=1).epoch_arrays(0)[:2]
    x, y = x.reshape(-1, *x.shape[2:]), y.reshape(-1, *y.shape[2:])
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
    """A one-point job with its child run created (under a parent), as the driver makes it."""
    import datasets
    from experiments import tracking
    from experiments.sweep import runs
    from experiments.training import PointRun, TrainingJob

    settings = tracking.load_tracking_config()
    client = tracking.open_store(settings)
    experiment_id = tracking.ensure_experiment(client, settings, config.name)
    task = datasets.make(point.task, length=point.length, **point.task_params)
    parent_id, _ = runs.create_parent(client, experiment_id, config, task, [point])
    run_id = runs.create_child(client, config, experiment_id, parent_id, point, [])
    point_run = PointRun(point, run_id, settings.tb_run_dir(config.name, point.name))
    return TrainingJob(config.name, settings.tracking_uri, [point_run], [], progress_every_s=0)


def report(point, loop, clock, updates, compiled_s):
    """The table of one point: seconds, ms per update, share of the run, per phase."""
    total = clock.seconds["all"]
    rows = sorted(((k, v) for k, v in clock.seconds.items() if k != "all"), key=lambda r: -r[1])
    rows.append(("other (the job's run bookkeeping)", total - sum(v for _, v in rows)))
    lines = [
        f"{point.name}, {loop}: {updates:,.0f} updates, {total:.2f} s in the worker = "
        f"{total / updates * 1e3:.2f} ms per update all in; the compiled step alone "
        f"{compiled_s * 1e3:.3f} ms (all in / compiled = {total / updates / compiled_s:.1f}x)",
        f"  {'phase':<36} {'seconds':>8} {'ms/update':>10} {'share':>6}",
    ]
    for name, seconds in rows:
        lines.append(
            f"  {name:<36} {seconds:8.2f} {seconds / updates * 1e3:10.3f} {seconds / total:6.0%}"
        )
    return "\n".join(lines)


def _parser():
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_run", description=__doc__)
    parser.add_argument("--experiment", default="long_dependency")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--loop", default="both", choices=("compiled", "keras_fit", "both"))
    parser.add_argument("--point", action="append", default=None, help="grid point names")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--epochs", type=int, default=None, help="cap the epochs (faster)")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    from experiments import terminal

    terminal.import_tensorflow()
    from experiments.config import expand_grid, load_config

    loops = ["keras_fit", "compiled"] if args.loop == "both" else [args.loop]
    names = args.point or ["vanilla-L20-s0", "vanilla-L100-s0"]
    for loop in loops:
        overrides = ["stop_when_solved=false", f"training_loop={loop}", *args.overrides]
        overrides += [f"epochs={args.epochs}"] if args.epochs else []
        config = load_config(args.experiment, args.profile, overrides)
        by_name = {point.name: point for point in expand_grid(config)}
        with tempfile.TemporaryDirectory(prefix="vrl-profile-") as folder:
            # The runner exports the store it logs to; each loop gets a store of its own.
            os.environ.pop("MLFLOW_TRACKING_URI", None)
            os.environ["VRL_MLFLOW_CONFIG"] = os.path.join(folder, "mlflow.yaml")
            with open(os.environ["VRL_MLFLOW_CONFIG"], "w") as file:
                file.write("experiment_prefix: profile-\n")
            for name in names:
                point = by_name[name]
                clock, run = clocked_run(_job(config, point), loop)
                updates = run.data.metrics["epochs_trained"] * point.hyperparameters.steps_per_epoch
                compiled = _compiled_seconds(loop, point, run)
                print(report(point, loop, clock, updates, compiled), flush=True)


def _compiled_seconds(loop, point, run):
    from experiments import schema

    if loop == "compiled":
        return run.data.metrics[schema.COMPILED_UPDATE_MS] / 1e3
    return keras_compiled_update_seconds(point)


if __name__ == "__main__":
    main()
