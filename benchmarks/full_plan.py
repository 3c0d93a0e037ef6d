"""Plan a profile's wall time on this machine from the compiled loop's measured costs.

For every distinct model and sequence shape of an experiment's profile (`full` by default)
this builds the grid point's epoch program exactly as the runner does (`training.programs`,
as many seeds side by side as the backend puts in one program) and times, after its first
call (the compilation, counted once per cell), an epoch of `--steps` updates and a
validation batch, then adds them up over the grid: each grid point trains
`epochs × steps_per_epoch` updates and validates once per epoch. That is the budget's
ceiling: `stop_when_solved` ends solved runs earlier. Jobs (a cell's seeds) run
`--parallel` at a time (workers per machine, or per GPU times GPUs).

Run it on the machine that will train, with the backend that will train:

    .venv/bin/python -m benchmarks.full_plan long_dependency                  # TensorFlow
    KERAS_BACKEND=jax .venv/bin/python -m benchmarks.full_plan long_dependency --parallel 4

`benchmarks/gpu.sh` runs it on a GPU. Shapes that differ only in seed share one timing.
"""

import argparse
import dataclasses
import importlib.util
import os
import time

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


@dataclasses.dataclass
class ShapeCost:
    """Seconds of one cell's program: its compilation, one member's update, one validation."""

    compile_s: float
    update_s: float
    validation_s: float


def time_shape(point, seeds, steps):
    """The `ShapeCost` of a cell (`seeds` members) on this machine."""
    import keras

    import datasets
    from experiments.models import build_model
    from experiments.training import programs
    from experiments.training.programs import stack

    hp = point.hyperparameters
    size = programs.members_per_program(seeds)
    task = datasets.make(point.task, length=point.length, seed=0, **point.task_params)
    program = programs.make_program(point, task, size, hp.jit_compile)
    program.start([build_model(point.kind, hp, task, seed=s) for s in range(size)], [hp.lr] * size)
    stream = task.dataset(hp.batch_size, steps, seed=1)
    batches = stack([stream.epoch_arrays(0)] * size)
    validation = task.fixed_set(min(256, hp.val_samples), seed=2)
    val_batches = [stack([batch] * size) for batch in validation.batches()]
    began = time.perf_counter()
    program.train_epoch(batches, [True] * size)
    program.evaluate(val_batches)
    compile_s = time.perf_counter() - began
    began = time.perf_counter()
    program.train_epoch(batches, [True] * size)
    update_s = (time.perf_counter() - began) / (steps * size)
    began = time.perf_counter()
    program.evaluate(val_batches)
    validation_s = (time.perf_counter() - began) / size * -(-hp.val_samples // 256)
    programs.forget_programs()
    keras.backend.clear_session()
    return ShapeCost(compile_s, update_s, validation_s)


def _run_seconds(point, cost):
    """A grid point's whole budget: every update, and a validation after every epoch."""
    hp = point.hyperparameters
    return hp.epochs * (hp.steps_per_epoch * cost.update_s + cost.validation_s)


def plan(name, profile, parallel, *, steps=10, max_length=None, out=print):
    """Prints and returns `(grid points, planned seconds)` of one experiment's profile."""
    from experiments.config import expand_grid, load_config

    config = load_config(name, profile)
    points = [p for p in expand_grid(config) if max_length is None or p.length <= max_length]
    seeds = len(config.settings.grid["seed"])
    timed = {}
    total = 0.0
    out(f"{name} ({profile}): {len(points)} grid points")
    for point in points:
        shape = tuple(sorted((k, str(v)) for k, v in point.params().items() if k != "seed"))
        if shape not in timed:
            timed[shape] = cost = time_shape(point, seeds, steps)
            total += cost.compile_s
            out(
                f"  {point.model:>10} L={point.length:<5} step {cost.update_s * 1e3:8.2f} ms  "
                f"validation {cost.validation_s * 1e3:8.1f} ms/epoch  compile "
                f"{cost.compile_s:5.1f} s  run at most {_run_seconds(point, cost) / 60:7.1f} min"
            )
        total += _run_seconds(point, timed[shape])
    hours = total / parallel / 3600
    out(f"  planned: {total / 3600:.1f} h of training, {hours:.1f} h wall with {parallel} at once")
    return len(points), total


def main(argv=None):
    args = _parser().parse_args(argv)
    from experiments import terminal

    # On every backend where it is installed: Keras's set_random_seed imports TensorFlow.
    if importlib.util.find_spec("tensorflow"):
        terminal.import_tensorflow()  # before Keras imports it: without its start-up notices
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
