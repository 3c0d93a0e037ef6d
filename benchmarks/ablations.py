"""Variants of VanillaRNN's time loop, timed in the benchmark's training step.

Each variant replaces the layer's recurrence (`rnn_layers.recurrence`) while
a model is traced, for the plain case the benchmark uses (tanh, no mask, no
dropout, only the last state returned); the models are then timed in
alternation with Keras SimpleRNN, as in `python -m benchmarks`:

    python -m benchmarks.ablations --size wide [--variants current,while,...] [--no-xla]

Variants that compute the same gradient (checked: the weights after one Adam
step agree with `current`):
    current       the layer as shipped: `keras.ops.scan` forward and backward,
                  dW as one (H, T·B)·(T·B, H) product after the backward loop
    while         `keras.ops.while_loop` writing each step into a preallocated
                  (T, B, H) buffer with `slice_update`, instead of scan
    unroll2/4     k steps per scan iteration
    dw_chunks4    dW as 4 products over quarters of the time axis, summed
Diagnostics that compute a wrong gradient on purpose, to price one piece:
    no_dw         dW replaced by zeros (the cost of computing dW)
    no_stack      the forward loop stores no states (the cost of storing them)
"""

import argparse
import functools
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SAME_GRADIENT = ("current", "while", "unroll2", "unroll4", "dw_chunks4")
DIAGNOSTIC = ("no_dw", "no_stack")


def _weight_gradient(previous, grad_pre, units, chunks=1):
    """dW = Σ_t h_{t-1}ᵀ·gz_t, as one product or as `chunks` products over time."""
    from keras import ops

    if chunks == 1:
        return ops.matmul(
            ops.transpose(ops.reshape(previous, (-1, units))), ops.reshape(grad_pre, (-1, units))
        )
    previous = ops.reshape(previous, (chunks, -1, units))
    grad_pre = ops.reshape(grad_pre, (chunks, -1, units))
    return ops.sum(ops.matmul(ops.transpose(previous, (0, 2, 1)), grad_pre), axis=0)


# The forward loops: (projected (T, B, H), initial_state, kernel, activation)
# -> (final state, all states (T, B, H)).


def _forward_scan(projected, initial_state, kernel, activation):
    """`keras.ops.scan`, one step per iteration (the layer as shipped)."""
    from keras import ops

    def forward_step(state, projected_t):
        state = activation(projected_t + ops.matmul(state, kernel))
        return state, state

    return ops.scan(forward_step, initial_state, projected)


def _forward_while(projected, initial_state, kernel, activation):
    """`keras.ops.while_loop` writing each state into a preallocated (T, B, H) buffer."""
    from keras import ops

    steps = projected.shape[0]

    def forward_body(t, state, states):
        state = activation(projected[t] + ops.matmul(state, kernel))
        return t + 1, state, ops.slice_update(states, (t, 0, 0), state[None])

    _, final, states = ops.while_loop(
        lambda t, *_: t < steps,
        forward_body,
        (0, initial_state, ops.zeros_like(projected)),
        maximum_iterations=steps,
    )
    return final, states


def _forward_unrolled(projected, initial_state, kernel, activation, unroll):
    """`keras.ops.scan` over chunks of `unroll` steps."""
    from keras import ops

    steps, units = projected.shape[0], kernel.shape[0]

    # Keras's TensorFlow scan wants the step's output shaped like its
    # carry, so the carry is the last `unroll` states.
    def forward_chunk(carry, chunk):
        state, outputs = carry[-1], []
        for i in range(unroll):
            state = activation(chunk[i] + ops.matmul(state, kernel))
            outputs.append(state)
        outputs = ops.stack(outputs)
        return outputs, outputs

    start = ops.concatenate(
        [ops.zeros((unroll - 1,) + tuple(initial_state.shape)), initial_state[None]], 0
    )
    last, states = ops.scan(
        forward_chunk,
        start,
        ops.reshape(projected, (steps // unroll, unroll, -1, units)),
    )
    return last[-1], ops.reshape(states, (steps, -1, units))


# The backward loops: (upstream (B, H), states (T, B, H), kernel_t = kernelᵀ, derivative)
# -> (gradient of the initial state, gradients of the pre-activations (T, B, H)).


def _backward_scan(upstream, states, kernel_t, derivative):
    """`keras.ops.scan` in reverse, one step per iteration (the layer as shipped)."""
    from keras import ops

    def backward_step(carry, state):
        grad_pre = carry * derivative(state)
        return ops.matmul(grad_pre, kernel_t), grad_pre

    return ops.scan(backward_step, upstream, states, reverse=True)


def _backward_while(upstream, states, kernel_t, derivative):
    """`keras.ops.while_loop` from the last step down, into a preallocated buffer."""
    from keras import ops

    steps = states.shape[0]

    def backward_body(t, carry, grads):
        grad_pre = carry * derivative(states[t])
        return (
            t - 1,
            ops.matmul(grad_pre, kernel_t),
            ops.slice_update(grads, (t, 0, 0), grad_pre[None]),
        )

    _, grad_initial, grad_pre = ops.while_loop(
        lambda t, *_: t >= 0,
        backward_body,
        (steps - 1, upstream, ops.zeros_like(states)),
        maximum_iterations=steps,
    )
    return grad_initial, grad_pre


def _backward_unrolled(upstream, states, kernel_t, derivative, unroll):
    """`keras.ops.scan` in reverse over chunks of `unroll` steps."""
    from keras import ops

    steps, units = states.shape[0], kernel_t.shape[0]

    def backward_chunk(carry, chunk):
        flowing, grads = carry[0], [None] * unroll
        for i in reversed(range(unroll)):
            grads[i] = flowing * derivative(chunk[i])
            flowing = ops.matmul(grads[i], kernel_t)
        return ops.stack([flowing] + grads[1:]), ops.stack(grads)

    start = ops.concatenate([upstream[None], ops.zeros((unroll - 1,) + tuple(upstream.shape))], 0)
    last, grad_pre = ops.scan(
        backward_chunk,
        start,
        ops.reshape(states, (steps // unroll, unroll, -1, units)),
        reverse=True,
    )
    return last[0], ops.reshape(grad_pre, (steps, -1, units))


def _unrolled(unroll):
    return (
        functools.partial(_forward_unrolled, unroll=unroll),
        functools.partial(_backward_unrolled, unroll=unroll),
    )


# (forward, backward) time loop of each variant; the variants not listed use the plain scan.
_TIME_LOOPS = {
    "while": (_forward_while, _backward_while),
    "unroll2": _unrolled(2),
    "unroll4": _unrolled(4),
}
_SCAN_LOOPS = (_forward_scan, _backward_scan)
# dW as this many products over parts of the time axis; 1 for the variants not listed.
_DW_CHUNKS = {"dw_chunks4": 4}


def _kernel_gradient(variant, initial_state, states, grad_pre, kernel):
    """dW of `variant`: zeros for `no_dw`, else Σ_t h_{t-1}ᵀ·gz_t in its number of chunks."""
    from keras import ops

    if variant == "no_dw":
        return ops.zeros_like(kernel)
    previous = ops.concatenate([initial_state[None], states[:-1]], 0)
    return _weight_gradient(previous, grad_pre, kernel.shape[0], chunks=_DW_CHUNKS.get(variant, 1))


def _custom_gradient_recurrence(variant, activation):
    """f(projected, initial_state, kernel) -> final state, with `variant`'s backward pass."""
    from keras import ops

    from rnn_layers import recurrence as shipped

    derivative = shipped._DERIVATIVE_FROM_OUTPUT[activation]
    forward, backward = _TIME_LOOPS.get(variant, _SCAN_LOOPS)

    @ops.custom_gradient
    def recurrence(projected, initial_state, kernel):
        final, states = forward(projected, initial_state, kernel, activation)
        if variant == "no_stack":
            states = ops.tanh(projected)  # wrong values, same shape: prices the stacking only

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            grad_initial, grad_pre = backward(upstream, states, ops.transpose(kernel), derivative)
            grad_kernel = _kernel_gradient(variant, initial_state, states, grad_pre, kernel)
            return grad_pre, grad_initial, grad_kernel

        return final, grad

    return recurrence


def make_recurrence(variant):
    """A drop-in for `rnn_layers.recurrence._recurrence_with_gradient`."""
    if variant not in SAME_GRADIENT + DIAGNOSTIC:
        raise ValueError(f"unknown variant {variant!r}")

    def factory(activation, with_mask, with_state_dropout, return_all):
        if with_mask or with_state_dropout or return_all:
            raise ValueError(
                "the ablations cover the benchmark's case only: no mask, no dropout, last state"
            )
        return _custom_gradient_recurrence(variant, activation)

    return factory


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ablations", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--size", default="wide")
    parser.add_argument("--variants", default=",".join(SAME_GRADIENT + DIAGNOSTIC))
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--no-xla", action="store_true", help="trace the variants without XLA")
    return parser, parser.parse_args(argv)


def _length_multiple(variant):
    """What the sequence length must be a multiple of: the steps per iteration or dW chunks."""
    if variant.startswith("unroll"):
        return int(variant[len("unroll") :])
    return _DW_CHUNKS.get(variant, 1)


def _check_variant(parser, variant, size):
    if variant not in SAME_GRADIENT + DIAGNOSTIC:
        parser.error(f"unknown variant {variant!r}; known: {', '.join(SAME_GRADIENT + DIAGNOSTIC)}")
    parts = _length_multiple(variant)
    if size.timesteps % parts:
        parser.error(
            f"variant {variant} needs a length divisible by {parts}; "
            f"{size.name} has {size.timesteps}"
        )


def _trace_variants(parser, args, size, x, y, weights):
    """One candidate per variant, traced (one training step) with its recurrence in place."""
    from benchmarks.bench import KerasCandidate
    from rnn_layers import recurrence as shipped

    original = shipped._recurrence_with_gradient
    candidates = []
    try:
        for variant in args.variants.split(","):
            _check_variant(parser, variant, size)
            shipped._recurrence_with_gradient = (
                original if variant == "current" else make_recurrence(variant)
            )
            candidate = KerasCandidate(variant, size, "vanilla", not args.no_xla, x, y)
            candidate.set_weights(weights)
            candidate.train_step()  # traced (and compiled) with this variant in place
            candidates.append(candidate)
    finally:
        shipped._recurrence_with_gradient = original
    return candidates


def _print_differences(candidates):
    """How far each same-gradient variant's weights after its one step are from `current`'s."""
    import numpy as np

    reference = next((c for c in candidates if c.name == "current"), None)
    for candidate in candidates:
        if reference is not None and candidate is not reference and candidate.name in SAME_GRADIENT:
            difference = max(
                float(np.abs(a - b).max())
                for a, b in zip(reference.model.get_weights(), candidate.model.get_weights())
            )
            print(
                f"{candidate.name}: weights after one step differ from current by {difference:.1e}"
            )


def _print_timings(candidates, size, args):
    """Times the candidates in alternation; the last one, SimpleRNN, is the base of the ratios."""
    from benchmarks.bench import time_alternating

    timings = time_alternating(candidates, "train_step", args.rounds, warmup=2)
    base = timings["SimpleRNN"]["median_ms"]
    print(f"\n{size.name}: {size.label()}, XLA: {not args.no_xla}, median of {args.rounds} rounds")
    print("| variant | train ms | vs SimpleRNN (default) |\n|---|---|---|")
    for name, timing in timings.items():
        print(f"| {name} | {timing['median_ms']:.2f} | {timing['median_ms'] / base:.2f}x |")


def main(argv=None):
    parser, args = _parse_args(argv)

    import keras
    import numpy as np

    from benchmarks.bench import ALL_SIZES, KerasCandidate

    if keras.backend.backend() != "tensorflow":
        parser.error("the ablations use the TensorFlow backend")
    size = ALL_SIZES[args.size]
    if size.layers != 1:
        parser.error("the ablations cover one-layer sizes")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(size.batch, size.timesteps, size.features)).astype("float32")
    y = rng.normal(size=(size.batch, 1)).astype("float32")
    keras.utils.set_random_seed(0)
    simple = KerasCandidate("SimpleRNN", size, "simple", "auto", x, y)
    candidates = _trace_variants(parser, args, size, x, y, simple.model.get_weights())
    _print_differences(candidates)
    _print_timings(candidates + [simple], size, args)


if __name__ == "__main__":
    main()
