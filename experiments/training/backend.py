"""What the compiled training loop needs from the Keras backend, and nothing else.

The loop itself (`training.loop`) is written with `keras.ops`; three things differ between
TensorFlow and JAX and live here:

- `value_and_grad(function)`: reverse-mode autodiff (`jax.value_and_grad`, a
  `tf.GradientTape` on TensorFlow);
- `compile_function(function, jit)`: one compiled program (`jax.jit`, a `tf.function` with
  XLA when `jit`);
- `map_members(function, size)`: `function` applied to each member of a group whose
  arguments carry a leading member axis (`jax.vmap`; on TensorFlow, the members one
  after the other inside the same program).

`gradients(function, arguments)` serves the probes (the gradient of a scalar with
respect to nested tensors).
"""

import keras

BACKENDS = ("tensorflow", "jax")


def check_backend(what):
    """Raises `ValueError` unless Keras runs on TensorFlow or JAX."""
    backend = keras.backend.backend()
    if backend not in BACKENDS:
        raise ValueError(
            f"{what} supports the Keras backends {list(BACKENDS)}; Keras runs on {backend!r}. "
            "Set KERAS_BACKEND to one of those before Keras is imported."
        )


def value_and_grad(function):
    """`function(params, *rest) -> (value, aux)` as `f(params, *rest) -> ((value, aux), grads)`.

    `grads` has the structure of `params` (a list of tensors).
    """
    if keras.backend.backend() == "jax":
        import jax

        return jax.value_and_grad(function, has_aux=True)
    import tensorflow as tf

    def with_tape(params, *rest):
        with tf.GradientTape() as tape:
            tape.watch(params)
            value, aux = function(params, *rest)
        return (value, aux), tape.gradient(value, params, unconnected_gradients="zero")

    return with_tape


def gradients(function, arguments):
    """The gradient of the scalar `function(arguments)` w.r.t. every tensor in `arguments`.

    `arguments` is a nested list of tensors; the result has the same structure, with zeros
    for a tensor the value does not depend on.
    """
    (_, _), grads = value_and_grad(lambda args: (function(args), ()))(arguments)
    return grads


def compile_function(function, jit):
    """`function` as one compiled program: traced once per input shape, reused after."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(function) if jit else function
    import tensorflow as tf

    return tf.function(function, jit_compile=bool(jit), reduce_retracing=True)


def map_members(function, size):
    """`function` over each member of arguments stacked on a leading axis of `size`."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.vmap(function)

    def one_by_one(*args):
        outputs = [
            function(*keras.tree.map_structure(lambda a, m=member: a[m], args))
            for member in range(size)
        ]
        return keras.tree.map_structure(lambda *parts: keras.ops.stack(parts), *outputs)

    return one_by_one
