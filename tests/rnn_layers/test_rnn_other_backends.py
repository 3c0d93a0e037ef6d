"""The SimpleRNN parity tests again under KERAS_BACKEND=jax and =torch, and models that
move between backends.

The Keras backend is fixed when Keras is first imported, so the parity file
runs in a child pytest process with the variable set. JAX is in requirements.txt;
PyTorch is optional (its CPU build is not on PyPI), so the torch run is skipped
when it is not installed."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_parity_under_other_backend(backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "JAX_PLATFORMS": "cpu",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(HERE / "test_rnn_parity.py"),
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    tail = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    assert " passed" in result.stdout and "failed" not in result.stdout, tail


SAVE_AND_PREDICT = """
import sys
import numpy as np
import keras
import rnn_layers

mode, path = sys.argv[1], sys.argv[2]
x = np.random.default_rng(0).normal(size=(4, 12, 3)).astype("float32")
if mode == "save":
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((12, 3)),
            rnn_layers.DeepVanillaRNN(units=[8, 5], num_layers=2, return_sequences=True),
            rnn_layers.VanillaRNN(6),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, np.ones((4, 1), "float32"), epochs=2, verbose=0)  # weights off their init
    model.save(path)
else:
    model = keras.saving.load_model(path)
np.save(path + "." + keras.backend.backend() + ".npy", model.predict(x, verbose=0))
"""


@pytest.mark.parametrize("saved_on, loaded_on", [("tensorflow", "jax"), ("jax", "tensorflow")])
def test_a_model_trained_on_one_backend_loads_and_predicts_the_same_on_the_other(
    saved_on, loaded_on, tmp_path
):
    import numpy as np

    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    path = str(tmp_path / "model.keras")
    for mode, backend in (("save", saved_on), ("load", loaded_on)):
        env = {**os.environ, "KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu"}
        result = subprocess.run(
            [sys.executable, "-c", SAVE_AND_PREDICT, mode, path],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    saved = np.load(f"{path}.{saved_on}.npy")
    loaded = np.load(f"{path}.{loaded_on}.npy")
    assert saved.shape == (4, 1)
    np.testing.assert_allclose(loaded, saved, rtol=1e-5, atol=1e-6)
