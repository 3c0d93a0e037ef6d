"""Vanilla recurrent layers for Keras 3, and the Linear Recurrent Unit.

Public API:
    VanillaRNNCell: one step, for `keras.layers.RNN` and stacked cells.
    VanillaRNN: the whole-sequence layer (a faster drop-in for SimpleRNN).
    DeepVanillaRNN: a stack of VanillaRNN layers.
    LinearRecurrentUnit: the Linear Recurrent Unit (Orvieto et al., 2023).
    LRUBlock: the paper's block around it (normalization, GLU, skip connection).
"""

from rnn_layers.cell import VanillaRNNCell
from rnn_layers.layer import VanillaRNN
from rnn_layers.lru import LinearRecurrentUnit
from rnn_layers.lru_block import LRUBlock
from rnn_layers.stacked import DeepVanillaRNN

__version__ = "0.1.0"

__all__ = [
    "VanillaRNNCell",
    "VanillaRNN",
    "DeepVanillaRNN",
    "LinearRecurrentUnit",
    "LRUBlock",
    "__version__",
]
