"""One grid point inside a training job: its run, its data, its model, its callbacks.

Both loops (`training.keras_fit`, `training.compiled_loop`) start a member the same way:
`start_member` records the machine and the data on the run, builds the model from the
point's seed, and makes the callbacks every epoch goes through: MLflow metrics,
TensorBoard scalars, the probes, test-only faults, and the solve timer last (it decides
whether the member stops).
"""

import dataclasses
import math

from experiments import faults, schema, tracking
from experiments.config.checks import is_factory
from experiments.models import factories
from experiments.training import callbacks
from experiments.training.data import prepare_data


@dataclasses.dataclass(eq=False)  # members are told apart by identity
class Member:
    """A grid point being trained in a worker.

    Attributes:
        point: its `config.GridPoint`.
        logger: the `tracking.RunLogger` of its child run.
        tb_dir: its TensorBoard folder, or None.
        data: its `training.data.RunData`.
        model: its Keras model (built from its seed).
        callbacks: the Keras callbacks of every epoch, in order, the solve timer last.
        timer: the solve timer (`callbacks.solve_timer`).
        metrics_logger: the callback that logs each epoch's metrics to MLflow
            (`callbacks.epoch_metrics_logger`; `epochs_logged` says how many it logged).
        losses: the training loss of each epoch trained.
        active: False once it stopped (solved, diverged, or failed).
        reads_weights: whether a callback reads the model's weights every epoch (a probe).
    """

    point: object
    logger: object
    tb_dir: str | None
    data: object
    model: object
    callbacks: list
    timer: object
    metrics_logger: object
    losses: list = dataclasses.field(default_factory=list)
    active: bool = True
    reads_weights: bool = False
    monitor: object = None

    @property
    def name(self):
        return self.point.name

    def start_monitor(self):
        """MLflow's system metrics of the run, from now on (while it trains)."""
        self.monitor = tracking.start_system_metrics(self.logger)

    def stop_monitor(self):
        """Stops the system metrics (their last samples are logged, the run still RUNNING)."""
        monitor, self.monitor = self.monitor, None
        if monitor is not None:
            monitor.finish()


def start_member(job, point_run, client):
    """Prepares a job's member: raises what its set-up raises (its run then FAILS alone)."""
    from experiments.models import build_model

    point = point_run.point
    injected = faults.callbacks_for(point.name)  # test-only: raises for a failing point
    callbacks.quiet_retracing_warning()
    logger = tracking.RunLogger(client, point_run.run_id, point_run.tb_dir)
    logger.set_tags(tracking.system_tags(), wait=False)
    if is_factory(point.kind):  # a layer of the user's own: the code it trained with
        factories.log_source(logger, point.kind)
    data = prepare_data(point, logger)
    if point_run.tb_dir:
        tracking.reset_dir(point_run.tb_dir)
    hp = point.hyperparameters
    model = build_model(point.kind, hp, data.task, seed=point.seed, jit_compile=hp.jit_compile)
    logger.log_params({schema.TRAINABLE_PARAMS: trainable_params(model)}, wait=False)
    timer = callbacks.solve_timer(data.task, hp)
    metrics_logger = callbacks.epoch_metrics_logger(logger)
    chosen = [metrics_logger]
    if point_run.tb_dir:  # one TensorBoard run per grid point: scalars in its own folder
        chosen.append(tracking.epoch_summaries(point_run.tb_dir))
    if job.probes:
        from experiments import probes

        chosen += probes.make_probes(job.probes, data.task, point.model, logger)
    chosen += [*injected, timer]
    for callback in chosen:
        callback.set_model(model)
    logger.flush()  # the run's start: one write
    member = Member(point, logger, point_run.tb_dir, data, model, chosen, timer, metrics_logger)
    member.reads_weights = bool(job.probes)
    return member


def trainable_params(model):
    """The number of trainable weights of a built Keras model (a run's `trainable_params`)."""
    return int(sum(math.prod(weight.shape) for weight in model.trainable_weights))
