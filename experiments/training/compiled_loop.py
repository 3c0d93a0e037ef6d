"""The compiled loop (`training_loop: compiled`): a group of seeds, one program per epoch.

The members of a job are the seeds of one grid cell (one, with `group_seeds: false`).
Each epoch:

1. every active member's epoch of batches, drawn at once (`TaskStream.epoch_arrays`: the
   same sequences `fit` would read);
2. one call of the epoch program (`training.programs`): every active member's steps;
3. one evaluation of every member's validation set;
4. per member, its epoch's logs through its callbacks (MLflow, TensorBoard, probes, the
   solve timer); a member stops when its loss is not finite (diverged) or its timer
   says solved, and its state is frozen from then on.

Then every member's test set, and each run's results and model (`training.finish`). A
member whose own work raises (its set-up, its callbacks) fails alone; the others go on
(but for a full disk or a tracking server gone too long, which end the job).
"""

import concurrent.futures
import math
import time

import numpy as np

from experiments import schema
from experiments.errors import StoreUnavailable, one_line, sweep_stopper
from experiments.training import callbacks, programs
from experiments.training.finish import finish_run


class Timing:
    """Seconds spent in each part of the group's training (`schema.TIME_*` metrics)."""

    def __init__(self):
        self.seconds = dict.fromkeys(schema.TIMING_METRICS, 0.0)
        self.epochs_after_first = 0

    def add(self, name, began):
        self.seconds[name] += time.perf_counter() - began

    def metrics(self, updates_per_epoch):
        """The metrics every member logs, with the compiled cost of one member's update."""
        values = dict(self.seconds)
        if self.epochs_after_first:
            per_epoch = values[schema.TIME_EPOCHS_S] / self.epochs_after_first
            values[schema.COMPILED_UPDATE_MS] = per_epoch / updates_per_epoch * 1e3
        return values


def train(job, members, failures):
    """Trains `members`; returns their outcomes (those in `failures` among them).

    As many members train side by side as one program takes (`programs.members_per_program`);
    the rest follow through the same compiled program. A member's run is finished (its
    test results, its model logged) on a thread of its own while the next one trains:
    logging a model is mostly waiting for the store and the disk.
    """
    size = programs.members_per_program(len(members))
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="finish-run") as finisher:
        finishing = []
        for start in range(0, len(members), size):
            chunk = members[start : start + size]
            finishing += _train_side_by_side(job, chunk, failures, finisher)
        return [future.result() for future in finishing]


def _train_side_by_side(job, members, failures, finisher):
    hp = members[0].point.hyperparameters
    timing = Timing()
    began = time.perf_counter()
    for member in members:
        member.start_monitor()
    program = _program(members, hp.jit_compile)
    _call_all(members, failures, "on_train_begin")
    validation = _stacked_sets([m.data.validation for m in members])
    label = members[0].name + "".join(f",s{m.point.seed}" for m in members[1:])
    progress = callbacks.GroupProgress(
        label, members[0].data.task.metric, hp.epochs, job.progress_every_s
    )
    for epoch in range(hp.epochs):
        program, val_logs = _train_epoch(program, members, failures, epoch, validation, timing)
        progress.epoch_end(epoch, val_logs)
        if not any(member.active for member in members):
            break
    _call_all(members, failures, "on_train_end", program)
    timing.seconds[schema.TRAIN_TIME_S] = time.perf_counter() - began
    return _finish_all(program, members, failures, timing, finisher)


def _program(members, jit):
    point, task = members[0].point, members[0].data.task
    program = programs.make_program(point, task, len(members), jit)
    rates = [member.point.hyperparameters.lr for member in members]
    program.start([member.model for member in members], rates)
    return program


def _train_epoch(program, members, failures, epoch, validation, timing):
    """One epoch of every active member; returns the program (rebuilt without XLA if
    XLA cannot compile it) and the validation logs."""
    began = time.perf_counter()
    active = [member.active for member in members]
    batches = _stacked_epoch(members, epoch)
    timing.add(schema.TIME_HOST_S, began)
    began = time.perf_counter()
    try:
        train_logs = program.train_epoch(batches, active)
    except programs.xla_compile_errors() as error:
        if epoch or not program.jit:
            raise
        for member in members:
            member.logger.set_tags({schema.JIT_COMPILE_FALLBACK: one_line(error, 500)})
        program = _program(members, jit=False)
        train_logs = program.train_epoch(batches, active)
    if epoch == 0:
        timing.add(schema.TIME_FIRST_EPOCH_S, began)
    else:
        timing.add(schema.TIME_EPOCHS_S, began)
        timing.epochs_after_first += 1
    began = time.perf_counter()
    val_logs = program.evaluate(validation)
    timing.add(schema.TIME_VALIDATION_S, began)
    began = time.perf_counter()
    _end_epoch(program, members, failures, epoch, train_logs, val_logs)
    timing.add(schema.TIME_HOST_S, began)
    return program, val_logs


def _stacked_epoch(members, epoch):
    """The epoch's batches of every member, stacked; zeros for the stopped ones."""
    arrays = [
        member.data.stream.epoch_arrays(epoch) if member.active else None for member in members
    ]
    template = next(a for a in arrays if a is not None)
    return programs.stack(
        [a if a is not None else tuple(map(np.zeros_like, template)) for a in arrays]
    )


def _stacked_sets(fixed_sets):
    """Fixed sets of the members (the same layout, their own sequences), batch by batch."""
    return [programs.stack(batches) for batches in zip(*(s.batches() for s in fixed_sets))]


def _end_epoch(program, members, failures, epoch, train_logs, val_logs):
    """Each active member's epoch through its callbacks, and who stops."""
    for index, member in enumerate(members):
        if not member.active:
            continue
        logs = {name: float(values[index]) for name, values in train_logs.items()}
        logs.update({f"val_{name}": float(values[index]) for name, values in val_logs.items()})
        member.losses.append(logs["loss"])
        try:
            if member.reads_weights:  # the probes read the weights of the member's model
                _load_state(member.model, program.state(index))
            for callback in member.callbacks:
                callback.on_epoch_end(epoch, logs)
        except Exception as error:
            _fail(member, failures, error)
            continue
        member.active = math.isfinite(logs["loss"]) and not member.model.stop_training


def _call_all(members, failures, hook, program=None):
    """`on_train_begin` / `on_train_end` of every member's callbacks (its final weights first)."""
    for index, member in enumerate(members):
        if member in failures:
            continue
        try:
            if program is not None:
                _load_state(member.model, program.state(index))
            for callback in member.callbacks:
                getattr(callback, hook)()
        except Exception as error:
            _fail(member, failures, error)


def _finish_all(program, members, failures, timing, finisher):
    """Every member's test set in one evaluation, then each run's results and model (on
    `finisher`); returns a future of each member's outcome."""
    began = time.perf_counter()
    test_logs = program.evaluate(_stacked_sets([m.data.test for m in members]))
    timing.add(schema.TIME_TEST_S, began)
    hp = members[0].point.hyperparameters
    timings = timing.metrics(hp.steps_per_epoch * len(members))
    futures = []
    for index, member in enumerate(members):
        if member in failures:
            futures.append(_done(failures[member]))
            continue
        member.logger.set_tags({schema.JIT_COMPILE_EFFECTIVE: bool(program.jit)}, wait=False)
        logs = {name: values[index] for name, values in test_logs.items()}
        futures.append(finisher.submit(_finish_one, member, logs, timings, failures))
    return futures


def _finish_one(member, test_logs, timings, failures):
    try:
        return finish_run(member, member.model, test_logs, member.losses, timings)
    except Exception as error:
        return _fail(member, failures, error)


def _done(outcome):
    future = concurrent.futures.Future()
    future.set_result(outcome)
    return future


def _load_state(model, state):
    """A member's weights and optimizer slots into its own model (so its saved model holds
    what `fit` would have left there)."""
    trainable, non_trainable, slots = state
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    for variables, values in (
        (model.trainable_variables, trainable),
        (model.non_trainable_variables, non_trainable),
        (model.optimizer.variables, slots),
    ):
        for variable, value in zip(variables, values):
            variable.assign(value)


def _fail(member, failures, error):
    """A member whose own work raised: FAILED with its traceback; the others go on.

    An error that stops the sweep (`errors.sweep_stopper`) is not the member's own: raised,
    for `training.job.run_job` to fail the whole job.
    """
    from experiments import tracking

    stopper = sweep_stopper(error)
    if stopper is not None:
        if not isinstance(stopper, StoreUnavailable):
            member.logger.flush()  # its epochs' metrics: the store may be on another disk
        raise error
    member.active = False
    member.stop_monitor()
    member.logger.drain()  # its epochs' metrics, then the traceback
    failures[member] = tracking.record_failure(
        member.logger.client, member.logger.run_id, member.name, error
    )
    return failures[member]
