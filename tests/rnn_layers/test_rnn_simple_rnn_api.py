"""Our layers expose the public properties of Keras's SimpleRNN and SimpleRNNCell.

The lists are read from the installed Keras at test time, so a property that a
future Keras adds to SimpleRNN (or to its base RNN) fails here until we add it.
"""

import inspect

import keras
import pytest

from rnn_layers import DeepVanillaRNN, VanillaRNN, VanillaRNNCell

# Constructor arguments away from every default, so that a property that
# returned a default instead of the configured value would be caught.
NON_DEFAULT_ARGS = dict(
    activation="relu",
    use_bias=False,
    kernel_initializer="he_normal",
    recurrent_initializer=keras.initializers.Identity(gain=0.5),
    bias_initializer="ones",
    kernel_regularizer="l2",
    recurrent_regularizer=keras.regularizers.L1L2(l1=0.01, l2=0.02),
    bias_regularizer="l1",
    kernel_constraint="non_neg",
    recurrent_constraint=keras.constraints.MaxNorm(2.0),
    bias_constraint="unit_norm",
    dropout=0.25,
    recurrent_dropout=0.125,
)

FEATURES = 3


def public_properties(cls):
    """Names of the public `property` members of `cls`, inherited ones included."""
    return {
        name
        for name, member in inspect.getmembers(cls)
        if isinstance(member, property) and not name.startswith("_")
    }


# What the base Layer has we inherit from the same class; the rest is what
# SimpleRNN (and RNN) add.
LAYER_PROPERTIES = public_properties(keras.layers.Layer)
SIMPLE_RNN_PROPERTIES = sorted(public_properties(keras.layers.SimpleRNN) - LAYER_PROPERTIES)
SIMPLE_RNN_CELL_PROPERTIES = sorted(
    public_properties(keras.layers.SimpleRNNCell) - LAYER_PROPERTIES
)


def built_simple_rnn_cell(**kwargs):
    cell = keras.layers.SimpleRNNCell(4, **kwargs)
    cell.build((None, FEATURES))
    return cell


# SimpleRNNCell keeps its hyperparameters as plain attributes, not properties;
# a user reads them the same way, so they belong to the cell's public surface.
SIMPLE_RNN_CELL_ATTRIBUTES = sorted(
    name
    for name in dir(built_simple_rnn_cell())
    if not name.startswith("_") and name not in dir(keras.layers.Layer())
)


def make_layer(cls, **kwargs):
    if cls is DeepVanillaRNN:
        return DeepVanillaRNN(4, num_layers=2, **kwargs)
    return cls(4, **kwargs)


def comparable(value):
    """The value in a form that compares by configuration, not by identity."""
    return keras.saving.serialize_keras_object(value)


def test_keras_lists_the_properties_we_expect():
    # Guards the introspection itself: were it to find nothing, every test
    # below would pass vacuously.
    assert {"units", "kernel_initializer", "recurrent_constraint"} <= set(SIMPLE_RNN_PROPERTIES)
    assert {"units", "kernel", "seed_generator"} <= set(SIMPLE_RNN_CELL_ATTRIBUTES)


@pytest.mark.parametrize("cls", [VanillaRNN, DeepVanillaRNN])
@pytest.mark.parametrize("name", SIMPLE_RNN_PROPERTIES)
def test_layer_has_simple_rnn_property(cls, name):
    layer = make_layer(cls)
    layer.build((None, None, FEATURES))
    assert hasattr(layer, name), f"{cls.__name__} lacks SimpleRNN's property `{name}`"


@pytest.mark.parametrize("cls", [VanillaRNN, DeepVanillaRNN])
@pytest.mark.parametrize("args", [{}, NON_DEFAULT_ARGS], ids=["defaults", "non_defaults"])
def test_layer_properties_equal_simple_rnn(cls, args):
    ours = make_layer(cls, **args)
    simple = keras.layers.SimpleRNN(4, **args)
    for name in SIMPLE_RNN_PROPERTIES:
        assert comparable(getattr(ours, name)) == comparable(getattr(simple, name)), name


@pytest.mark.parametrize("name", SIMPLE_RNN_CELL_PROPERTIES + SIMPLE_RNN_CELL_ATTRIBUTES)
def test_cell_has_simple_rnn_cell_attribute(name):
    cell = VanillaRNNCell(4)
    cell.build((None, FEATURES))
    assert hasattr(cell, name), f"VanillaRNNCell lacks SimpleRNNCell's `{name}`"


@pytest.mark.parametrize("args", [{}, NON_DEFAULT_ARGS], ids=["defaults", "non_defaults"])
def test_cell_hyperparameters_equal_simple_rnn_cell(args):
    ours = VanillaRNNCell(4, **args)
    simple = keras.layers.SimpleRNNCell(4, **args)
    # The cell's hyperparameters are the ones SimpleRNN forwards to its cell.
    for name in SIMPLE_RNN_PROPERTIES:
        assert comparable(getattr(ours, name)) == comparable(getattr(simple, name)), name


def test_stack_properties_are_those_of_every_layer():
    deep = DeepVanillaRNN([4, 3], **NON_DEFAULT_ARGS)
    for name in set(SIMPLE_RNN_PROPERTIES) - {"units"}:
        for layer in deep.rnn_layers:
            assert comparable(getattr(deep, name)) == comparable(getattr(layer, name)), name
    # `units` stays what the stack was configured with: one size per layer.
    assert deep.units == [4, 3]
