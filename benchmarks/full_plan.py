"""Plan a profile's wall time on this machine from measured training-step times.

For every distinct model and sequence shape of an experiment's profile (`full` by default)
this builds the grid point's model exactly as the runner does (`experiments.models`), times
its training step (forward, backward, the optimizer; after warm-up, the median of
`--steps`), and its validation pass, and adds them up over the grid: each grid point
trains `epochs × steps_per_epoch` updates and validates once per epoch. That is the
budget's ceiling: `stop_when_solved` ends solved runs earlier. Grid points run
`--parallel` at a time (workers per machine, or per GPU times GPUs).

Run it on the machine that will train, with the backend that will train:

    .venv/bin/python -m benchmarks.full_plan long_dependency                  # TensorFlow
    KERAS_BACKEND=jax .venv/bin/python -m benchmarks.full_plan long_dependency --parallel 4

`benchmarks/gpu.sh` runs it on a GPU. Shapes that differ only in seed share one timing.
"""

import argparse
import os
import statistics
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ notices at the first compile


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiments", nargs="+", help="named experiments, e.g. long_dependency")
    parser.add_argument("--profile", default="full")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per shape")
    parser.add_argument("--parallel", type=int, default=1, help="grid points trained at once")
    parser.add_argument(
        "--max-length", type=int, default=None, help="plan only lengths up to this (a quick look)"
    )
    return parser


def _median_seconds(call, steps):
    call()  # warm-up: tracing and compilation
    call()
    times = []
    for _ in range(steps):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def time_shape(point, steps):
    """`(train step s, validation pass s)` of one grid point's model on this machine."""
    import keras

    import datasets
    from experiments.training.models import build_model

    hp = point.hyperparameters
    task = datasets.make(point.task, length=point.length, seed=0, **point.task_params)
    model = build_model(point.kind, hp, task, seed=0)
    batch = task.sample(hp.batch_size, seed=1)
    x, y = batch[0], batch[1]
    train = _median_seconds(lambda: model.train_on_batch(x, y), steps)
    validation_batch = min(256, hp.val_samples)
    vx = np.repeat(x, -(-validation_batch // len(x)), axis=0)[:validation_batch]
    vy = np.repeat(y, -(-validation_batch // len(y)), axis=0)[:validation_batch]
    evaluate = _median_seconds(lambda: model.test_on_batch(vx, vy), max(3, steps // 3))
    batches = -(-hp.val_samples // validation_batch)
    keras.backend.clear_session()
    return train, evaluate * batches


def plan(name, profile, parallel, *, steps=10, max_length=None, out=print):
    """Prints and returns `(grid points, planned seconds)` of one experiment's profile."""
    from experiments.config import expand_grid, load_config

    config = load_config(name, profile)
    points = [p for p in expand_grid(config) if max_length is None or p.length <= max_length]
    timed = {}
    total = 0.0
    out(f"{name} ({profile}): {len(points)} grid points")
    for point in points:
        hp = point.hyperparameters
        shape = tuple(sorted((k, str(v)) for k, v in point.params().items() if k != "seed"))
        if shape not in timed:
            timed[shape] = time_shape(point, steps)
            step, validation = timed[shape]
            per_run = hp.epochs * (hp.steps_per_epoch * step + validation)
            out(
                f"  {point.model:>10} L={point.length:<5} step {step * 1e3:8.2f} ms  "
                f"validation {validation * 1e3:8.1f} ms/epoch  run at most {per_run / 60:7.1f} min"
            )
        step, validation = timed[shape]
        total += hp.epochs * (hp.steps_per_epoch * step + validation)
    hours = total / parallel / 3600
    out(f"  planned: {total / 3600:.1f} h of training, {hours:.1f} h wall with {parallel} at once")
    return len(points), total


def main(argv=None):
    args = _parser().parse_args(argv)
    from experiments import terminal

    # On JAX too: the runner's modules import TensorFlow (TensorBoard writing, tf.data).
    terminal.import_tensorflow()  # without its start-up notices
    import keras

    print(f"backend {keras.backend.backend()}; {args.steps} timed steps per shape")
    grand = 0.0
    for name in args.experiments:
        grand += plan(
            name, args.profile, args.parallel, steps=args.steps, max_length=args.max_length
        )[1]
    print(f"all: {grand / 3600:.1f} h of training, {grand / args.parallel / 3600:.1f} h wall")


if __name__ == "__main__":
    main()
