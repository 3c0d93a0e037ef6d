"""Vanilla recurrent layers for Keras 3.

Public API:
    VanillaRNNCell: one step, for `keras.layers.RNN` and stacked cells.
    VanillaRNN: the whole-sequence layer (a faster drop-in for SimpleRNN).
    DeepVanillaRNN: a stack of VanillaRNN layers.
"""

from rnn_layers.cell import VanillaRNNCell
from rnn_layers.layer import VanillaRNN
from rnn_layers.stacked import DeepVanillaRNN

__version__ = "0.1.0"

__all__ = ["VanillaRNNCell", "VanillaRNN", "DeepVanillaRNN", "__version__"]
