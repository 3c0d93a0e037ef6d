"""Does a compiled loop overlap independent matrix products? (TensorFlow backend)

The wide benchmark size (B=256, H=256) is where VanillaRNN+XLA loses to
SimpleRNN without XLA. This script isolates the reason: a loop whose step
holds the chain product h·W (each step waits for the previous one) and, beside
it, an independent product of the same size (as the weight-gradient
accumulation of backpropagation through time is). Timed with XLA and with
TensorFlow's graph executor:

    python -m benchmarks.overlap

If "chain + independent" costs about "chain" alone, the independent product ran
on the other core at the same time; if it costs the sum, it did not.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.overlap", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    steps, batch, units = args.steps, args.batch, args.units
    rng = np.random.default_rng(0)
    kernel = tf.constant(rng.normal(scale=units**-0.5, size=(units, units)).astype("float32"))
    inputs = tf.constant(rng.normal(scale=0.3, size=(steps, batch, units)).astype("float32"))
    other = tf.constant(rng.normal(scale=0.3, size=(steps, batch, units)).astype("float32"))
    start_state = tf.zeros((batch, units))

    def loop(chain, independent):
        def body(t, state, accumulator):
            if chain:
                state = tf.tanh(inputs[t] + state @ kernel)
            if independent:
                accumulator = accumulator + tf.matmul(other[t], inputs[t], transpose_a=True)
            return t + 1, state, accumulator

        return tf.while_loop(
            lambda t, *_: t < steps,
            body,
            (0, start_state, tf.zeros((units, units))),
            maximum_iterations=steps,
        )[1:]

    cases = {
        "chain": lambda: loop(True, False),
        "independent": lambda: loop(False, True),
        "chain + independent": lambda: loop(True, True),
    }
    print(f"{steps} steps of ({batch}, {units})·({units}, {units}); median of {args.rounds}")
    print("| loop | XLA ms | TensorFlow executor ms |\n|---|---|---|")
    for name, case in cases.items():
        cells = []
        for jit in (True, False):
            function = tf.function(case, jit_compile=jit)
            for _ in range(3):
                tf.nest.map_structure(lambda t: t.numpy(), function())
            durations = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                tf.nest.map_structure(lambda t: tf.reshape(t, [-1])[0].numpy(), function())
                durations.append(time.perf_counter() - start)
            cells.append(f"{1e3 * float(np.median(durations)):.2f}")
        print(f"| {name} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
