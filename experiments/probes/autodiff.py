"""Reverse-mode autodiff through the Keras backend: `jax.grad`, or a `tf.GradientTape`.

`gradients(function, arguments)` is what the probes need (the gradient of a scalar with
respect to nested tensors); the compiled training loops differentiate in their own
backend's idiom (`training.programs.jax_program`, `training.programs.tensorflow_program`).
"""

import keras

BACKENDS = ("tensorflow", "jax")


def check_backend(what):
    """Raises `ValueError` unless Keras runs on TensorFlow or JAX."""
    backend = keras.backend.backend()
    if backend not in BACKENDS:
        raise ValueError(
            f"{what} supports the Keras backends {list(BACKENDS)}; Keras runs on {backend!r}. "
            "Set KERAS_BACKEND to one of those before Keras is imported, or leave the probe "
            "out of the config."
        )


def gradients(function, arguments):
    """The gradient of the scalar `function(arguments)` w.r.t. every tensor in `arguments`.

    `arguments` is a nested list of tensors; the result has the same structure, with zeros
    for a tensor the value does not depend on.
    """
    if keras.backend.backend() == "jax":
        import jax

        # Keras layers called inside the traced function read the model's variables as
        # constants, so this differentiates with respect to `arguments` only.
        return jax.grad(function)(arguments)
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(arguments)
        value = function(arguments)
    return tape.gradient(value, arguments, unconnected_gradients="zero")
