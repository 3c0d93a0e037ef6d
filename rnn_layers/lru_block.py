"""`LRUBlock`: the block that wraps the Linear Recurrent Unit in the paper."""

import math

import keras
from keras import ops

from rnn_layers.layer import check_sequences_shape
from rnn_layers.lru import LinearRecurrentUnit

NORMALIZATIONS = ("layer", "batch")


@keras.saving.register_keras_serializable(package="rnn_layers")
class LRUBlock(keras.layers.Layer):
    """The residual block of Orvieto et al. (2023) around a `LinearRecurrentUnit`.

    For inputs x of width H (as in the paper and its reference code):

        z = LRU(norm(x) if prenorm else x)        (H wide, every step)
        z = dropout(GELU(z))
        z = dropout(Dense_H(z) ⊙ sigmoid(Dense_H'(z)))      (the GLU)
        y = x + z;  y = norm(y) unless prenorm

    The block keeps the width, so blocks stack; a model puts a `Dense`
    before the first (the paper's encoder) and pools or reads the last step
    after the last. It always returns every step.

    Args:
        units: Positive integer, the LRU's number of complex state values.
        dropout: Float in [0, 1): dropout after the GELU and after the GLU
            (the reference code drops whole features, the same at every
            step; here each step draws its own). Default 0.
        normalization: `"layer"` (default) or `"batch"`; the reference code
            offers both (its classifier defaults to batch normalization;
            layer normalization does not depend on the batch, which suits
            small batches and masked padding).
        prenorm: Normalize the block's input (before the LRU) instead of its
            output. Default `False`.
        r_min: Passed to the `LinearRecurrentUnit` (see there).
        r_max: Passed to the `LinearRecurrentUnit`.
        max_phase: Passed to the `LinearRecurrentUnit`.
        normalize_input: Passed to the `LinearRecurrentUnit`.
        scan: Passed to the `LinearRecurrentUnit`.
        **kwargs: Base layer arguments (`name`, `dtype`, `trainable`, ...).

    Call arguments:
        sequences: A 3D tensor `(batch, timesteps, width)`.
        mask: Optional boolean `(batch, timesteps)`, passed to the LRU (and
            to batch normalization); the output keeps it.
        training: Whether dropout and batch statistics are in training mode.

    Returns:
        `(batch, timesteps, width)`.

    Example:

    ```python
    model = keras.Sequential(
        [
            keras.Input((None, 2)),
            keras.layers.Dense(64),
            LRUBlock(128),
            LRUBlock(128),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )
    ```
    """

    def __init__(
        self,
        units,
        dropout=0.0,
        normalization="layer",
        prenorm=False,
        r_min=0.9,
        r_max=0.999,
        max_phase=2 * math.pi,
        normalize_input=True,
        scan="sequential",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
            raise TypeError(f"`dropout` must be a number in [0, 1); received {dropout!r}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must lie in [0, 1); received {dropout}.")
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"`normalization` must be one of {NORMALIZATIONS}; received {normalization!r}."
            )
        self.lru = LinearRecurrentUnit(
            units,
            r_min=r_min,
            r_max=r_max,
            max_phase=max_phase,
            normalize_input=normalize_input,
            scan=scan,
            return_sequences=True,
            dtype=self.dtype_policy,
            name="lru",
        )
        self.dropout = float(dropout)
        self.normalization = normalization
        self.prenorm = bool(prenorm)
        self.supports_masking = True

    def build(self, sequences_shape):
        shape = check_sequences_shape(sequences_shape, self.name)
        width = shape[2]
        policy = self.dtype_policy
        self.lru.build(shape)
        self.glu_value = keras.layers.Dense(width, dtype=policy, name="glu_value")
        self.glu_gate = keras.layers.Dense(width, dtype=policy, name="glu_gate")
        self.glu_value.build(shape)
        self.glu_gate.build(shape)
        if self.normalization == "layer":
            self.norm = keras.layers.LayerNormalization(dtype=policy, name="norm")
        else:
            self.norm = keras.layers.BatchNormalization(dtype=policy, name="norm")
        self.norm.build(shape)
        self.drop = keras.layers.Dropout(self.dropout, dtype=policy, name="drop")

    def _normalize(self, x, mask, training):
        if self.normalization == "batch":
            return self.norm(x, training=training, mask=mask)
        return self.norm(x)

    def call(self, sequences, mask=None, training=False):
        x = sequences
        if self.prenorm:
            x = self._normalize(x, mask, training)
        z = self.lru(x, mask=mask)
        z = self.drop(keras.activations.gelu(z), training=training)
        z = self.glu_value(z) * ops.sigmoid(self.glu_gate(z))
        y = sequences + self.drop(z, training=training)
        if not self.prenorm:
            y = self._normalize(y, mask, training)
        return y

    def compute_output_shape(self, sequences_shape):
        return tuple(sequences_shape)

    def compute_mask(self, sequences, mask=None):
        return mask

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.lru.units,
            "dropout": self.dropout,
            "normalization": self.normalization,
            "prenorm": self.prenorm,
            "r_min": self.lru.r_min,
            "r_max": self.lru.r_max,
            "max_phase": self.lru.max_phase,
            "normalize_input": self.lru.normalize_input,
            "scan": self.lru.scan,
        }
