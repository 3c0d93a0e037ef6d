"""Which epoch program a grid point gets, built once per shape and kept per process
(`experiments.training.programs` says what a program does)."""

import json

import keras

from experiments import schema


def members_per_program(count):
    """How many of a group's `count` members one program trains side by side.

    All of them on JAX (`jax.vmap`: one compilation, and measured on 2 CPU cores 1.3x the
    updates per second of one member for three LSTMs); one on TensorFlow, where members
    side by side are copies of the graph: three LSTMs compiled 2.8x as long as one (7.6 s
    against 2.7 s) for 1.14x the updates per second, so they take turns in one program.
    """
    return count if keras.backend.backend() == "jax" else 1


def xla_compile_errors():
    """The errors of a model that XLA cannot compile, on this backend (a tuple of types)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError)
    if keras.backend.backend() == "jax":
        import jax

        return (jax.errors.JAXTypeError,)
    return ()


_PROGRAMS = {}


def program_key(point, task, size, jit):
    """What a program depends on: the model, the optimizer, the task's shapes, the group.

    Not the learning rate: each member brings its own (`EpochProgram.start`).
    """
    hyperparameters = point.hyperparameters.as_params()
    hyperparameters.pop(schema.LEARNING_RATE)
    identity = {
        "kind": point.kind,
        "hyperparameters": hyperparameters,
        "task": [task.name, task.length, task.params],
        "size": size,
        "jit": bool(jit),
        "backend": keras.backend.backend(),
    }
    return json.dumps(identity, sort_keys=True, default=str)


def make_program(point, task, size, jit):
    """The epoch program of this grid point's model and data shapes, for `size` members.

    Built on first use and kept for the process: the seeds and learning rates of a shape
    share one compilation, whether they train in one group or one after the other.
    """
    from experiments.models import build_model, build_optimizer

    key = program_key(point, task, size, jit)
    if key not in _PROGRAMS:
        hp = point.hyperparameters
        args = (
            # The template's seed draws weights no member uses: the members bring theirs.
            lambda: build_model(point.kind, hp, task, seed=0, jit_compile=jit),
            lambda: build_optimizer(hp),
            task.loss,
            task.metrics,
            size,
            jit,
        )
        if keras.backend.backend() == "jax":
            from experiments.training.programs.jax_program import JaxProgram as program_class
        else:
            from experiments.training.programs.tensorflow_program import (
                TensorFlowProgram as program_class,
            )
        _PROGRAMS[key] = program_class(*args)
    return _PROGRAMS[key]


def forget_programs():
    """Drops the programs this process kept (their compiled code and weights)."""
    _PROGRAMS.clear()
