"""Plan Hochreiter & Schmidhuber's adding experiment on this machine: the cost of one update.

Times one training update of a network of their size (an LSTM of 4 memory cells, as their
2 blocks of size 2, with a Dense(1) read-out) and of a vanilla RNN with as many parameters,
on the adding task's `hs97` variant at T = 100, 500, 1000 (sequences of T + T/10 steps),
with batches of 1 (their online learning) and 32, in Keras on TensorFlow with
`jit_compile=True`. Each update runs inside `fit` with `steps_per_execution` equal to the
timed steps (one compiled call per epoch, as the lab's compiled loop amortizes the host);
the first epoch compiles and is not timed; the best of `--repeats` epochs counts. It prints
the wall and the CPU time per update, and from the CPU time (what an idle core takes; the
wall time also holds waiting when other work shares the core) what the budget buys:
sequences per hour and core, sequences in `--budget-min` on `--cores` cores, and the hours
of a core that Table 7's sequence counts would take. Compilation and evaluation on the
test set are not counted.

    taskset -c 1 .venv/bin/python -m benchmarks.hs97_plan          # one core, as planned
    taskset -c 1 .venv/bin/python -m benchmarks.hs97_plan --lengths 100 --batches 1
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Hochreiter & Schmidhuber (1997), Table 7: mean training sequences to their stopping
# criterion over 10 trials (for T = 1000 the trials ranged from 370,000 to 2,020,000).
TABLE7_SEQUENCES = {100: 74_000, 500: 209_000, 1000: 853_000}
LSTM_CELLS = 4  # 2 memory cell blocks of size 2
VANILLA_UNITS = 9  # 9 * 9 + 4 * 9 + 1 = 118 parameters, the Keras LSTM-4's 117 + 1


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--models", nargs="+", default=["lstm", "vanilla"])
    parser.add_argument("--steps", type=int, default=100, help="timed updates per shape")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs; the best counts")
    parser.add_argument("--budget-min", type=float, default=60.0, help="wall budget, minutes")
    parser.add_argument("--cores", type=int, default=2, help="processes trained at once")
    return parser


def build(kind, task):
    """The compiled model: `lstm` (4 cells) or `vanilla` (9 units), a Dense(1) read-out,
    plain SGD (their learning rule; its cost equals any other optimizer's here)."""
    import keras

    import rnn_layers

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(task.timesteps, task.input_dim))
    if kind == "lstm":
        hidden = keras.layers.LSTM(LSTM_CELLS)(inputs)
    else:
        hidden = rnn_layers.VanillaRNN(VANILLA_UNITS)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    return model


def time_update(kind, length, batch, steps, repeats):
    """`(parameters, wall and CPU seconds per update, CPU seconds to generate one sequence)`:
    the update's, the best of `repeats` timed epochs. On a core nobody else uses the two agree; on a
    shared one the wall time waits for the other work, and the CPU time (all threads of
    this process, pinned to one core) is what an idle core would take."""
    import keras

    import datasets

    task = datasets.make("adding", length=length, variant="hs97")
    began = time.process_time()
    x, y = task.sample(steps * batch, seed=1)
    generate_s = (time.process_time() - began) / (steps * batch)
    model = build(kind, task)
    model.compile(
        optimizer=keras.optimizers.SGD(0.5),
        loss="mse",
        jit_compile=True,
        steps_per_execution=steps,
    )
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)  # compiles
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
        walls.append((time.perf_counter() - wall) / steps)
        cpus.append((time.process_time() - cpu) / steps)
    return model.count_params(), min(walls), min(cpus), generate_s


def plan_line(kind, length, batch, timing, budget_s, cores):
    """One row: the cost per update (wall, CPU), then from the CPU time: sequences per hour
    and core, sequences in the budget on `cores` cores, Table 7's count in hours of a core."""
    params, wall_s, cpu_s, generate_s = timing
    per_sequence_s = cpu_s / batch + generate_s
    per_hour = 3600.0 / per_sequence_s
    in_budget = budget_s * cores / per_sequence_s
    table = TABLE7_SEQUENCES.get(length)
    table_h = table * per_sequence_s / 3600.0 if table else float("nan")
    return (
        f"| {kind} | {params} | {length} | {batch} | {wall_s * 1e3:.2f} | {cpu_s * 1e3:.2f} | "
        f"{generate_s * 1e6:.0f} | {per_hour:,.0f} | {in_budget:,.0f} | {table_h:.2f} |"
    )


def main(argv=None):
    args = _parser().parse_args(argv)
    budget_s = args.budget_min * 60.0
    print(
        "| model | params | T | batch | ms per update, wall | ms per update, CPU | "
        "µs to generate a sequence | sequences per hour, 1 core | "
        f"sequences in {args.budget_min:g} min × {args.cores} cores | "
        "hours of 1 core for Table 7's count |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for kind in args.models:
        for length in args.lengths:
            for batch in args.batches:
                timing = time_update(kind, length, batch, args.steps, args.repeats)
                print(plan_line(kind, length, batch, timing, budget_s, args.cores), flush=True)


if __name__ == "__main__":
    main()
