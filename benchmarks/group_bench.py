"""Seeds side by side in one program against one program each: what grouping pays here.

    python -m benchmarks.group_bench [--sizes 1,3,5] [--units 32,128] [--kinds vanilla,lstm]
                                     [--length 50] [--steps 100] [--rounds 3]

For each model and width, builds the compiled loop's epoch program (`training.programs`) for
G members side by side, G in `--sizes`, on the adding task, and times an epoch of
`--steps` updates (the median of `--rounds`, after the first call, which compiles). Prints
per G: the compile time, the time of one member's update, and the throughput against
G = 1 (members' updates per second). On JAX the members are `jax.vmap`ped; on TensorFlow
they are copies of the graph in one program. `benchmarks/gpu.sh` runs it on a GPU, where
a small model leaves the card idle and side by side should pay; on a CPU the runner puts
one member per program on TensorFlow (`training.programs.members_per_program`).
"""

import argparse
import importlib.util
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def time_group(kind, units, size, length, steps, rounds):
    """`(compile s, seconds per member update)` of a program of `size` members."""
    import datasets
    from experiments.config import Hyperparameters
    from experiments.config.grid import GridPoint
    from experiments.models import build_model
    from experiments.training import programs
    from experiments.training.programs import stack

    hp = Hyperparameters(units=units, steps_per_epoch=steps, lr=3e-3)
    task = datasets.make("adding", length=length, seed=0)
    point = GridPoint(0, "bench", {}, "adding", kind, kind, length, 0, hp, {})
    program = programs.make_program(point, task, size, hp.jit_compile)
    program.start([build_model(kind, hp, task, seed=seed) for seed in range(size)], [hp.lr] * size)
    stream = task.dataset(hp.batch_size, steps, seed=1)
    batches = stack([stream.epoch_arrays(seed) for seed in range(size)])
    began = time.perf_counter()
    program.train_epoch(batches, [True] * size)
    compile_s = time.perf_counter() - began
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        program.train_epoch(batches, [True] * size)
        times.append(time.perf_counter() - began)
    programs.forget_programs()
    return compile_s, statistics.median(times) / (steps * size)


def _ints(text):
    return [int(value) for value in text.split(",") if value.strip()]


def _parser():
    parser = argparse.ArgumentParser(prog="python -m benchmarks.group_bench", description=__doc__)
    parser.add_argument("--sizes", type=_ints, default=[1, 3, 5])
    parser.add_argument("--units", type=_ints, default=[32, 128])
    parser.add_argument("--kinds", default="vanilla,lstm")
    parser.add_argument("--length", type=int, default=50)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    from experiments import terminal

    # On every backend where it is installed: Keras's set_random_seed imports TensorFlow.
    if importlib.util.find_spec("tensorflow"):
        terminal.import_tensorflow()  # before Keras imports it: without its start-up notices
    import keras

    print(f"backend {keras.backend.backend()}; adding L={args.length}, {args.steps} steps")
    for kind in args.kinds.split(","):
        for units in args.units:
            base = None
            for size in args.sizes:
                compile_s, update_s = time_group(
                    kind, units, size, args.length, args.steps, args.rounds
                )
                base = base or update_s
                print(
                    f"  {kind:>8} H={units:<4} G={size}: compile {compile_s:5.1f} s, "
                    f"{update_s * 1e3:7.3f} ms per member update, "
                    f"throughput {base / update_s:4.2f}x one member",
                    flush=True,
                )


if __name__ == "__main__":
    main()
