"""Backend-agnostic helpers of the rnn_layers tests: outputs and gradients of
a layer, computed through `Layer.stateless_call` so the same test runs under
TensorFlow, JAX and PyTorch (the backend is fixed per process by KERAS_BACKEND)."""

import keras
import numpy as np
from keras import ops


def scalar_loss(outputs):
    """A loss whose upstream gradient differs per element (cos(o) - o·sin(o))."""
    total = 0.0
    for index, output in enumerate(keras.tree.flatten(outputs)):
        output = ops.cast(output, "float32")
        total = total + (index + 1.0) * ops.sum(output * ops.cos(output))
    return total


def outputs_and_gradients(layer, sequences, initial_state=None, **call_kwargs):
    """Runs `layer` and differentiates `scalar_loss` of its outputs.

    Returns:
        `(outputs, gradients)`: lists of NumPy arrays; gradients are w.r.t.
        the sequences, the initial state (when given) and every trainable
        weight, in `layer.trainable_variables` order.
    """
    trainable = [ops.convert_to_tensor(v.value) for v in layer.trainable_variables]
    non_trainable = [ops.convert_to_tensor(v.value) for v in layer.non_trainable_variables]
    sequences = ops.convert_to_tensor(sequences)
    if initial_state is not None:
        initial_state = keras.tree.map_structure(ops.convert_to_tensor, initial_state)

    def loss_fn(sequences, initial_state, weights):
        kwargs = dict(call_kwargs)
        if initial_state is not None:
            kwargs["initial_state"] = initial_state
        outputs, _ = layer.stateless_call(weights, non_trainable, sequences, **kwargs)
        return scalar_loss(outputs), outputs

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch([sequences, trainable])
            if initial_state is not None:
                tape.watch(initial_state)
            loss, outputs = loss_fn(sequences, initial_state, trainable)
        targets = (
            [sequences, trainable]
            if initial_state is None
            else [sequences, initial_state, trainable]
        )
        gradients = tape.gradient(loss, targets)
    elif backend == "jax":
        import jax

        (loss, outputs), gradients = jax.jit(
            jax.value_and_grad(loss_fn, argnums=(0, 1, 2), has_aux=True)
        )(sequences, initial_state, trainable)
    elif backend == "torch":
        import torch

        def leaf(tensor):
            return tensor.detach().requires_grad_(True)

        sequences = leaf(sequences)
        trainable = [leaf(w) for w in trainable]
        if initial_state is not None:
            initial_state = keras.tree.map_structure(leaf, initial_state)
        loss, outputs = loss_fn(sequences, initial_state, trainable)
        targets = (
            [sequences, trainable]
            if initial_state is None
            else [sequences, initial_state, trainable]
        )
        flat_targets = keras.tree.flatten(targets)
        flat_grads = torch.autograd.grad(loss, flat_targets, allow_unused=True)
        gradients = [g if g is None else g.detach() for g in flat_grads]
        outputs = keras.tree.map_structure(lambda o: o.detach(), outputs)
    else:
        raise NotImplementedError(f"no gradient helper for backend {backend!r}")

    flat_outputs = [ops.convert_to_numpy(o) for o in keras.tree.flatten(outputs)]
    flat_gradients = [
        ops.convert_to_numpy(g) for g in keras.tree.flatten(gradients) if g is not None
    ]
    return flat_outputs, flat_gradients


def max_abs_difference(first, second):
    """Largest absolute elementwise difference between two lists of arrays."""
    assert len(first) == len(second), (len(first), len(second))
    worst = 0.0
    for a, b in zip(first, second):
        assert a.shape == b.shape, (a.shape, b.shape)
        worst = max(worst, float(np.max(np.abs(a.astype("float64") - b.astype("float64")))))
    return worst
