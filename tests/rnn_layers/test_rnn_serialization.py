"""get_config round trips, and a .keras file that loads in a fresh process."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np

from rnn_layers import DeepVanillaRNN, VanillaRNN, VanillaRNNCell

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_vanilla_rnn_config_round_trip():
    layer = VanillaRNN(
        7,
        activation="relu",
        use_bias=False,
        recurrent_initializer="glorot_normal",
        kernel_regularizer="l2",
        activity_regularizer="l1",
        recurrent_constraint="non_neg",
        dropout=0.2,
        recurrent_dropout=0.1,
        seed=42,
        return_sequences=True,
        return_state=True,
        go_backwards=True,
        stateful=True,
        unroll=True,
        zero_output_for_mask=True,
        name="my_rnn",
    )
    config = layer.get_config()
    clone = VanillaRNN.from_config(config)
    assert clone.get_config() == config
    assert config["seed"] == 42 and config["units"] == 7
    # Every constructor argument is in the config.
    import inspect

    arguments = set(inspect.signature(VanillaRNN.__init__).parameters) - {"self", "kwargs"}
    assert arguments <= set(config)


def test_cell_and_stack_config_round_trip():
    cell = VanillaRNNCell(3, activation=None, seed=5, dropout=0.5)
    assert VanillaRNNCell.from_config(cell.get_config()).get_config() == cell.get_config()
    deep = DeepVanillaRNN([4, 3], dropout_between=0.1, seed=9, return_all_states=True)
    assert DeepVanillaRNN.from_config(deep.get_config()).get_config() == deep.get_config()
    serialized = keras.saving.serialize_keras_object(deep)
    assert serialized["registered_name"] == "rnn_layers>DeepVanillaRNN"


def test_keras_file_loads_in_fresh_process(tmp_path):
    inputs = keras.Input((6, 2))
    hidden = VanillaRNN(5, return_sequences=True, seed=1, dropout=0.1)(inputs)
    hidden = keras.layers.Bidirectional(VanillaRNN(3))(hidden)
    hidden = keras.layers.Reshape((1, 6))(hidden)
    hidden = DeepVanillaRNN([4, 2], seed=2)(hidden)
    cell_output = keras.layers.RNN(VanillaRNNCell(2))(inputs)
    model = keras.Model(inputs, keras.layers.Concatenate()([hidden, cell_output]))
    x = np.random.default_rng(0).normal(size=(3, 6, 2)).astype("float32")
    expected = model.predict(x, verbose=0)
    model_path = tmp_path / "model.keras"
    model.save(model_path)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "expected.npy", expected)

    script = textwrap.dedent(
        f"""
        import numpy as np, keras
        import rnn_layers  # registers the layers; no custom_objects needed
        model = keras.saving.load_model({str(model_path)!r}, safe_mode=True)
        x = np.load({str(tmp_path / "x.npy")!r})
        expected = np.load({str(tmp_path / "expected.npy")!r})
        np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-6)
        print("LOADED_OK")
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "LOADED_OK" in result.stdout
