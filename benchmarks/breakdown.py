"""Where the time of a VanillaRNN training step goes (TensorFlow backend).

Times the pieces of the step, each compiled alone with the same XLA setting
as the step, on the batch of one benchmark size:

    python -m benchmarks.breakdown --size wide [--no-xla]

Pieces: the input projection x·U + b (one product), the forward loop, the
backward loop of the hand-written gradient, the weight-gradient product
dW = Σ h_{t-1}ᵀ·gz_t, and, for comparison, the layer's forward and
forward+backward, SimpleRNN's forward+backward and one loop step's
(B, H)·(H, H) product repeated T times without a loop-carried dependency.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.breakdown", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--size", default="wide")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--no-xla", action="store_true", help="plain TensorFlow graphs instead of XLA"
    )
    args = parser.parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf

    from benchmarks.bench import ALL_SIZES
    from rnn_layers import VanillaRNN
    from rnn_layers.recurrence import _forward_scan, _recurrence_with_gradient

    if keras.backend.backend() != "tensorflow":
        parser.error("the breakdown uses the TensorFlow backend")
    size = ALL_SIZES[args.size]
    B, T, D, H = size.batch, size.timesteps, size.features, size.units
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(B, T, D)).astype("float32"))
    layer = VanillaRNN(H)
    layer.build(x.shape)
    simple = keras.layers.SimpleRNN(H)
    simple.build(x.shape)
    simple.set_weights(layer.get_weights())
    kernel, recurrent, bias = (tf.constant(w) for w in layer.get_weights())
    projected = tf.constant(rng.normal(scale=0.3, size=(T, B, H)).astype("float32"))
    states = tf.tanh(projected)
    h0 = tf.zeros((B, H))
    tanh = keras.activations.tanh
    recurrence = _recurrence_with_gradient(tanh, False, False, return_all=False)

    def layer_grad(model):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x) ** 2)
        return tape.gradient(loss, model.trainable_weights)

    def backward_loop():
        with tf.GradientTape() as tape:
            tape.watch(projected)
            final = recurrence(projected, h0, recurrent)
        return tape.gradient(final, projected)

    pieces = {
        "projection x·U+b": lambda: tf.matmul(tf.transpose(x, (1, 0, 2)), kernel) + bias,
        "forward loop": lambda: _forward_scan(projected, h0, recurrent, tanh, None, None)[0],
        "forward loop + backward loop + dW": backward_loop,
        "dW product (H,TB)·(TB,H)": lambda: tf.matmul(
            tf.reshape(states, (-1, H)), tf.reshape(states, (-1, H)), transpose_a=True
        ),
        "T independent (B,H)·(H,H) products": lambda: tf.matmul(states, recurrent),
        "VanillaRNN forward": lambda: layer(x),
        "VanillaRNN forward+backward": lambda: layer_grad(layer),
        "SimpleRNN forward+backward": lambda: layer_grad(simple),
    }
    flop = {
        "projection x·U+b": 2 * B * T * D * H,
        "forward loop": 2 * B * T * H * H,
        "forward loop + backward loop + dW": 6 * B * T * H * H,
        "dW product (H,TB)·(TB,H)": 2 * B * T * H * H,
        "T independent (B,H)·(H,H) products": 2 * B * T * H * H,
        "VanillaRNN forward+backward": size.train_flop(),
        "SimpleRNN forward+backward": size.train_flop(),
        "VanillaRNN forward": size.inference_flop(),
    }
    jit = not args.no_xla
    print(f"{size.name}: {size.label()}  (XLA: {jit}, median of {args.rounds})")
    print("| piece | ms | GFLOP/s |\n|---|---|---|")
    for name, piece in pieces.items():
        function = tf.function(piece, jit_compile=jit)
        for _ in range(2):
            tf.nest.map_structure(lambda t: t.numpy(), function())
        durations = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            # Fetch one element: synchronizes without copying the result.
            tf.nest.map_structure(lambda t: tf.reshape(t, [-1])[0].numpy(), function())
            durations.append(time.perf_counter() - start)
        ms = 1e3 * float(np.median(durations))
        rate = f"{flop[name] / ms / 1e6:.1f}" if name in flop else ""
        print(f"| {name} | {ms:.2f} | {rate} |")


if __name__ == "__main__":
    main()
