"""The reference loop (`training_loop: keras_fit`): one grid point through Keras's `fit`.

This is how the lab trained before the compiled loop (`training.compiled_loop`), kept as the
reference it is checked against and timed beside (`make bench-sweep`): `fit` on the
task's stream, validation after every epoch, the callbacks of `training.member`, and
`TerminateOnNaN`. A model that XLA cannot compile is rebuilt (same seed) without it.
"""

import time

from experiments import schema
from experiments.errors import one_line
from experiments.training import callbacks
from experiments.training.finish import finish_run
from experiments.training.programs import xla_compile_errors


def train(job, members, failures):
    """Trains the job's one member with `fit`; returns `[outcome]` (`failures` unused:
    its one member failing fails the job)."""
    import keras

    (member,) = members
    hp = member.point.hyperparameters
    chosen = [keras.callbacks.TerminateOnNaN(), *member.callbacks]
    if job.progress_every_s:
        progress = callbacks.progress_lines(
            member.name, member.data.task.metric, hp.epochs, job.progress_every_s
        )
        chosen.insert(chosen.index(member.timer), progress)  # the timer may stop the run
    member.start_monitor()
    started = time.perf_counter()
    history = _fit(member, chosen, bool(hp.jit_compile))
    train_time = time.perf_counter() - started
    member.logger.set_tags(
        {schema.JIT_COMPILE_EFFECTIVE: bool(member.model.jit_compile)}, wait=False
    )
    test = member.model.evaluate(member.data.test, return_dict=True, verbose=0)
    losses = history.history.get("loss", [])
    outcome = finish_run(member, member.model, test, losses, {schema.TRAIN_TIME_S: train_time})
    return [outcome]


def _fit(member, chosen_callbacks, jit_compile):
    """`fit`; rebuilt from the same seed without XLA where XLA cannot compile the model."""
    from experiments.models import build_model

    hp = member.point.hyperparameters
    try:
        return member.model.fit(
            member.data.stream,
            epochs=hp.epochs,
            validation_data=member.data.validation,
            callbacks=chosen_callbacks,
            verbose=0,  # the sweep's lines and the progress callback say what matters
        )
    except xla_compile_errors() as error:
        if not jit_compile or member.metrics_logger.epochs_logged:
            raise
        member.logger.set_tags({schema.JIT_COMPILE_FALLBACK: one_line(error, 500)})
        point = member.point
        member.model = build_model(point.kind, hp, member.data.task, point.seed, jit_compile=False)
        return _fit(member, chosen_callbacks, jit_compile=False)
