"""The epoch program on JAX: pure functions of the members' state, `jax.vmap` over them.

The state (weights, optimizer slots) lives on the host side of the program as JAX arrays
with a leading member axis; each epoch is one call of a jitted function that maps the
members' epochs side by side and runs each one's steps in a `fori_loop`.
"""

import jax
import keras
import numpy as np
from keras import ops

from experiments.training.programs.base import EpochProgram, stack, update_metrics


class JaxProgram(EpochProgram):
    """`EpochProgram` for JAX (see `training.programs`)."""

    def __init__(self, make_model, make_optimizer, loss, make_metrics, size, jit):
        super().__init__(make_model, make_optimizer, loss, make_metrics, size, jit)
        self.model = make_model()
        self.optimizer = make_optimizer()
        self.optimizer.build(self.model.trainable_variables)
        self.slots_start = [np.asarray(v.value) for v in self.optimizer.variables]
        compile_ = jax.jit if jit else (lambda function: function)
        self._train = compile_(jax.vmap(self._member_epoch))
        self._evaluate = compile_(jax.vmap(self._member_evaluate))
        self.stacked = None

    def start(self, models, learning_rates):
        if len(models) != self.size or len(learning_rates) != self.size:
            raise ValueError(
                f"{len(models)} models and {len(learning_rates)} rates for a program of "
                f"{self.size} members."
            )
        variables = self.optimizer.variables
        members = [
            (
                [np.asarray(v.value) for v in model.trainable_variables],
                [np.asarray(v.value) for v in model.non_trainable_variables],
                self.member_slots(self.slots_start, variables, rate),
            )
            for model, rate in zip(models, learning_rates)
        ]
        self.stacked = stack(members)

    def train_epoch(self, batches, active):
        self.stacked, logs = self._train(self.stacked, batches, np.asarray(active, dtype=bool))
        loss, metric_values = logs
        return {"loss": np.asarray(loss), **self.metric_results(metric_values)}

    def evaluate(self, batches):
        trainable, non_trainable, _ = self.stacked
        zero = np.zeros(self.size, "float32")
        totals = (zero, zero, stack([self.metric_start] * self.size))
        for batch in batches:
            totals = self._evaluate((trainable, non_trainable), batch, totals)
        loss_sum, count, metric_values = totals
        return {
            "loss": np.asarray(loss_sum) / np.asarray(count),
            **self.metric_results(metric_values),
        }

    def state(self, member):
        return tuple([np.asarray(leaf[member]) for leaf in part] for part in self.stacked)

    # One member, traced once and mapped over the group.
    def _member_epoch(self, state, batches, active):
        steps = batches[0].shape[0]

        def step(index, carry):
            (trainable, non_trainable, slots), loss_sum, metric_values = carry
            batch = tuple(part[index] for part in batches)
            (loss, (y_pred, non_trainable)), grads = jax.value_and_grad(self._loss, has_aux=True)(
                trainable, non_trainable, batch
            )
            trainable, slots = self.optimizer.stateless_apply(slots, grads, trainable)
            metric_values = update_metrics(self.metrics, metric_values, batch, y_pred)
            return (trainable, non_trainable, slots), loss_sum + loss, metric_values

        start = (state, ops.zeros((), "float32"), self.metric_start)
        trained, loss_sum, metric_values = jax.lax.fori_loop(0, steps, step, start)
        kept = keras.tree.map_structure(
            lambda new, old: ops.where(active, new, old), trained, state
        )
        return kept, (loss_sum / steps, metric_values)

    def _member_evaluate(self, weights, batch, totals):
        trainable, non_trainable = weights
        loss_sum, count, metric_values = totals
        x, y, *sample_weight = batch
        y_pred, _ = self.model.stateless_call(trainable, non_trainable, x, training=False)
        loss = self.loss(y, y_pred, *sample_weight)
        size = ops.cast(ops.shape(x)[0], "float32")
        metric_values = update_metrics(self.metrics, metric_values, batch, y_pred)
        return loss_sum + loss * size, count + size, metric_values

    def _loss(self, trainable, non_trainable, batch):
        x, y, *sample_weight = batch
        y_pred, non_trainable, losses = self.model.stateless_call(
            trainable, non_trainable, x, training=True, return_losses=True
        )
        loss = self.loss(y, y_pred, *sample_weight)
        for extra in losses:  # regularizers and `add_loss`, as `fit` adds them
            loss = loss + ops.cast(ops.sum(extra), loss.dtype)
        return loss, (y_pred, non_trainable)
