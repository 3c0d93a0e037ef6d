"""The probes again under KERAS_BACKEND=jax, the backend of the JAX sweeps.

The Keras backend is fixed when Keras is first imported, so the probe tests run in a
child process with the variable set: `test_probes.py` as a whole (the gradient norms
against float64 NumPy backprop and against Keras's own initial-state gradients, both
callbacks end to end), then the same saved models measured here on TensorFlow and there
on JAX. Skipped when JAX is not installed (it is not in requirements.txt).
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed"),
    pytest.mark.integration,
]


def _run_under_jax(arguments):
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "JAX_PLATFORMS": "cpu",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_probe_tests_pass_under_jax():
    result = _run_under_jax(
        ["-m", "pytest", str(HERE / "test_probes.py"), "-q", "-p", "no:cacheprovider"]
    )
    tail = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    assert " passed" in result.stdout and "failed" not in result.stdout, tail


# Measures the models saved by the TensorFlow side and writes the norms back.
_MEASURE_ON_JAX = """
import sys
import keras
import numpy as np
import rnn_layers  # registers VanillaRNN for loading
from experiments.probes import measure, state_gradients

assert keras.backend.backend() == "jax", keras.backend.backend()
folder = sys.argv[1]
for name in sys.argv[2:]:
    data = np.load(f"{folder}/{name}.npz")
    model = keras.models.load_model(f"{folder}/{name}.keras", compile=False)
    norms = state_gradients.state_gradient_norms(
        model, data["x"], data["y"], keras.losses.MeanSquaredError(),
        per_step=bool(data["per_step"]),
    )
    np.save(f"{folder}/{name}.jax.npy", norms)
"""


def test_state_gradient_norms_on_jax_equal_tensorflow_on_the_same_models(tmp_path):
    # The same weights and batch on both backends; both compute in float32, so they agree to
    # float32 round-off (the tolerance of the NumPy-reference tests).
    import keras
    import numpy as np

    import rnn_layers
    from experiments.probes import state_gradients

    steps = 30
    rng = np.random.default_rng(7)
    x = rng.normal(size=(6, steps, 2)).astype("float32")
    cases = {
        "vanilla": (rnn_layers.VanillaRNN(8), False),
        "lstm": (keras.layers.LSTM(8), False),
        "gru_per_step": (keras.layers.GRU(8, return_sequences=True), True),
    }
    expected = {}
    for name, (layer, per_step) in cases.items():
        keras.utils.set_random_seed(11)
        model = keras.Sequential([keras.Input((steps, 2)), layer, keras.layers.Dense(1)])
        y = rng.normal(size=(6, steps, 1) if per_step else (6, 1)).astype("float32")
        model.save(tmp_path / f"{name}.keras")
        np.savez(tmp_path / f"{name}.npz", x=x, y=y, per_step=per_step)
        expected[name] = state_gradients.state_gradient_norms(
            model, x, y, keras.losses.MeanSquaredError(), per_step=per_step
        )

    result = _run_under_jax(["-c", _MEASURE_ON_JAX, str(tmp_path), *cases])
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    for name, norms in expected.items():
        on_jax = np.load(tmp_path / f"{name}.jax.npy")
        assert on_jax.shape == (6, steps + 1), name
        assert np.all(norms > 0) and np.all(np.isfinite(on_jax)), name
        np.testing.assert_allclose(on_jax, norms, rtol=2e-4, atol=1e-7, err_msg=name)
