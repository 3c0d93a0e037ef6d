"""The epoch program on TensorFlow: the members' state in `tf.Variable`s, one `tf.function`.

Keras's TensorFlow optimizers update variables (they refuse `stateless_apply`), so the
program owns one model and one optimizer per member, of the same structure: `start`
assigns a new group's initial weights and fresh slots to them, and the compiled epoch
trains them as `fit` does (a `GradientTape`, `optimizer.apply`), every member's steps in a
`tf.while_loop` inside the same program, under `tf.cond` on the member being active.
"""

import numpy as np
import tensorflow as tf
from keras import ops

from experiments.training.programs.base import EpochProgram, update_metrics


class TensorFlowProgram(EpochProgram):
    """`EpochProgram` for TensorFlow (see `training.programs`)."""

    def __init__(self, make_model, make_optimizer, loss, make_metrics, size, jit):
        super().__init__(make_model, make_optimizer, loss, make_metrics, size, jit)
        self.models = [make_model() for _ in range(size)]
        self.optimizers = [make_optimizer() for _ in range(size)]
        for model, optimizer in zip(self.models, self.optimizers):
            optimizer.build(model.trainable_variables)
        self.slots_start = [v.numpy() for v in self.optimizers[0].variables]
        # No autograph: the loops are explicit (`fori_loop`, `tf.cond`), and converting
        # every function the model calls was most of the time it took to trace.
        options = {"jit_compile": bool(jit), "reduce_retracing": True, "autograph": False}
        self._train = tf.function(self._epoch, **options)
        self._evaluate = tf.function(self._evaluate_batch, **options)

    def start(self, models, learning_rates):
        if len(models) != self.size or len(learning_rates) != self.size:
            raise ValueError(
                f"{len(models)} models and {len(learning_rates)} rates for a program of "
                f"{self.size} members."
            )
        for own, model, optimizer, rate in zip(
            self.models, models, self.optimizers, learning_rates
        ):
            for variable, value in zip(own.trainable_variables, model.trainable_variables):
                variable.assign(value)
            for variable, value in zip(own.non_trainable_variables, model.non_trainable_variables):
                variable.assign(value)
            slots = self.member_slots(self.slots_start, optimizer.variables, rate)
            for variable, value in zip(optimizer.variables, slots):
                variable.assign(value)

    def train_epoch(self, batches, active):
        loss, metric_values = self._train(batches, np.asarray(active, dtype=bool))
        return {"loss": loss.numpy(), **self.metric_results(metric_values)}

    def evaluate(self, batches):
        zero = np.zeros(self.size, "float32")
        metric_start = [[np.stack([v] * self.size) for v in values] for values in self.metric_start]
        totals = (zero, zero, metric_start)
        for batch in batches:
            totals = self._evaluate(batch, totals)
        loss_sum, count, metric_values = totals
        return {"loss": loss_sum.numpy() / count.numpy(), **self.metric_results(metric_values)}

    def state(self, member):
        model = self.models[member]
        return (
            [v.numpy() for v in model.trainable_variables],
            [v.numpy() for v in model.non_trainable_variables],
            [v.numpy() for v in self.optimizers[member].variables],
        )

    # The compiled functions: every member, one after the other, in one program.
    def _epoch(self, batches, active):
        losses, metrics = [], []
        for member in range(self.size):
            own = tuple(part[member] for part in batches)
            loss, values = tf.cond(
                active[member],
                lambda member=member, own=own: self._member_epoch(member, own),
                lambda: (ops.zeros((), "float32"), self.metric_start),
            )
            losses.append(loss)
            metrics.append(values)
        return ops.stack(losses), _stack_metric_values(metrics)

    def _member_epoch(self, member, batches):
        model, optimizer = self.models[member], self.optimizers[member]
        # Static where the trace knows it; a tensor once `reduce_retracing` has relaxed the
        # step count (the same program called with epochs of other lengths).
        steps = tf.shape(batches[0])[0] if batches[0].shape[0] is None else batches[0].shape[0]

        def step(index, carry):
            loss_sum, metric_values = carry
            batch = tuple(part[index] for part in batches)
            x, y, *sample_weight = batch
            with tf.GradientTape() as tape:
                y_pred = model(x, training=True)
                loss = self.loss(y, y_pred, *sample_weight)
                for extra in model.losses:  # regularizers and `add_loss`, as `fit` adds them
                    loss = loss + ops.cast(ops.sum(extra), loss.dtype)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply(grads, model.trainable_variables)
            metric_values = update_metrics(self.metrics, metric_values, batch, y_pred)
            return loss_sum + loss, metric_values

        start = (ops.zeros((), "float32"), self.metric_start)
        loss_sum, metric_values = ops.fori_loop(0, steps, step, start)
        return loss_sum / ops.cast(steps, "float32"), metric_values

    def _evaluate_batch(self, batch, totals):
        loss_sums, counts, metric_values = totals
        new_sums, new_counts, new_values = [], [], []
        for member in range(self.size):
            x, y, *sample_weight = (part[member] for part in batch)
            y_pred = self.models[member](x, training=False)
            loss = self.loss(y, y_pred, *sample_weight)
            size = ops.cast(ops.shape(x)[0], "float32")
            own = [[v[member] for v in values] for values in metric_values]
            new_values.append(update_metrics(self.metrics, own, (x, y, *sample_weight), y_pred))
            new_sums.append(loss_sums[member] + loss * size)
            new_counts.append(counts[member] + size)
        return ops.stack(new_sums), ops.stack(new_counts), _stack_metric_values(new_values)


def _stack_metric_values(per_member):
    """Per member [[variable values] per metric] -> [[stacked values] per metric]."""
    return [
        [
            ops.stack([member[metric][index] for member in per_member])
            for index in range(len(values))
        ]
        for metric, values in enumerate(per_member[0])
    ]
