"""What the epoch programs of both backends share (`training.programs` says what they do).

`EpochProgram` is the interface: `start(models, learning_rates)`, `train_epoch(batches, active)`,
`evaluate(batches)`, `state(member)`; `jax_program` and `tensorflow_program` implement it.
"""

import keras
import numpy as np


class EpochProgram:
    """What both backends' programs share: the member count, the metrics, the logs.

    Args:
        make_model: a function returning a new (compiled) model of the structure.
        make_optimizer: a function returning a new optimizer with the run's settings.
        loss: the task's Keras loss object.
        make_metrics: a function returning the task's metric objects (first: its metric).
        size: members trained at once.
        jit: compile with XLA.
    """

    def __init__(self, make_model, make_optimizer, loss, make_metrics, size, jit):
        self.loss = loss
        self.metrics = list(make_metrics())
        self.size = size
        self.jit = jit
        self.metric_start = [
            [np.asarray(keras.ops.convert_to_numpy(v)) for v in metric.variables]
            for metric in self.metrics
        ]

    def start(self, models, learning_rates):
        """Loads each member's initial weights (from `models`), fresh optimizer slots and
        its own learning rate (`learning_rates`, one per member): the rate is an input of
        the program, not part of its shape, so a cell's seeds and rates share one compile.
        """
        raise NotImplementedError

    def member_slots(self, slots_start, variables, rate):
        """Fresh optimizer slots of one member: `slots_start` with its own learning rate.

        Args:
            slots_start: the fresh values of `variables` (the optimizer's variables).
            variables: the optimizer's variables (one is its `learning_rate`).
            rate: the member's learning rate.
        """
        slots = list(slots_start)
        index = next((i for i, v in enumerate(variables) if v.name == "learning_rate"), None)
        if index is None:  # a schedule: the rate is no variable, so every member shares it
            raise ValueError("the optimizer's learning rate is not a variable: no rate per member")
        slots[index] = np.asarray(rate, dtype=np.asarray(slots[index]).dtype)
        return slots

    def train_epoch(self, batches, active):
        """Trains every active member on its epoch of batches.

        Args:
            batches: `(x, y)` or `(x, y, sample_weight)`, stacked
                `(members, steps, batch, ...)`.
            active: a bool per member; an inactive member's state is left unchanged.

        Returns:
            `{name: one value per member}`: the epoch's mean `loss` and each metric.
        """
        raise NotImplementedError

    def evaluate(self, batches):
        """Loss and metrics of every member on its fixed set.

        Args:
            batches: a list of `(x, y)` or `(x, y, sample_weight)`, each stacked
                `(members, batch, ...)`.

        Returns:
            `{name: one value per member}`: `loss` (mean over sequences) and each metric.
        """
        raise NotImplementedError

    def state(self, member):
        """`(trainable, non_trainable, optimizer)`: one member's weights and optimizer slots,
        NumPy, in the order of its model's and its optimizer's variables."""
        raise NotImplementedError

    def metric_results(self, metric_values):
        """`{metric name: value per member}` of stacked metric variables."""
        results = {}
        for metric, values in zip(self.metrics, metric_values):
            values = [np.asarray(keras.ops.convert_to_numpy(v)) for v in values]
            results[metric.name] = np.asarray(
                [
                    float(
                        keras.ops.convert_to_numpy(metric.stateless_result([v[m] for v in values]))
                    )
                    for m in range(self.size)
                ]
            )
        return results


def update_metrics(metrics, metric_values, batch, y_pred):
    """Each metric's variables after one batch (what `fit` accumulates over an epoch)."""
    _, y, *weights = batch
    return [
        metric.stateless_update_state(values, y, y_pred, *weights)
        for metric, values in zip(metrics, metric_values)
    ]


def stack(members):
    """Per-member pytrees -> one pytree whose leaves carry a leading member axis."""
    return keras.tree.map_structure(lambda *leaves: np.stack(leaves), *members)
