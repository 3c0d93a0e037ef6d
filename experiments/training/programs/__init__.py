"""The compiled epoch programs: one program trains every step of an epoch, for a group.

Keras's `fit` runs a Python loop around a compiled step: per step it fetches a batch,
dispatches the step and gathers its logs, which costs several times the step's own
arithmetic on the small models of this lab. An epoch program compiles the whole epoch
instead: a loop over the epoch's batches (already in memory) inside one program, whose
state stays in the program between steps. The host calls it once per epoch; validation
and test sets go through a second program, one batch per call.

A program is built once per model structure and data shape and reused for every seed of
that shape (`make_program` keeps them per process): `start(models)` loads the members'
initial weights and fresh optimizer slots. It trains a group of members at once (the
seeds of one grid cell); a member that has stopped (solved, or diverged) keeps its state
unchanged (`active[member]` False). Members never mix: each has its own weights, data,
optimizer slots and clipping, so a member trained in a group follows its trajectory alone.

The arithmetic is Keras's own, as `fit` does it: the model's forward pass with its
regularization losses, the task's loss object, the optimizer's update (gradient clipping
included), the task's metric objects. So an epoch's `loss` and metric are what `fit`
logs.

- `base`: `EpochProgram`, the interface both backends implement, and `stack`.
- `jax_program`: `JaxProgram` (pure functions of the state, `jax.vmap` over members).
- `tensorflow_program`: `TensorFlowProgram` (the state in `tf.Variable`s, one
  `tf.function` with XLA).
- `cache`: which program a grid point gets (`make_program`), kept per process; how many
  members one program trains side by side (`members_per_program`).
"""

from experiments.training.programs.base import EpochProgram, stack
from experiments.training.programs.cache import (
    forget_programs,
    make_program,
    members_per_program,
    program_key,
    xla_compile_errors,
)

__all__ = [
    "EpochProgram",
    "forget_programs",
    "make_program",
    "members_per_program",
    "program_key",
    "stack",
    "xla_compile_errors",
]
