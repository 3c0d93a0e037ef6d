"""The SimpleRNN parity tests again under KERAS_BACKEND=jax and =torch.

The Keras backend is fixed when Keras is first imported, so the parity file
runs in a child pytest process with the variable set. Each backend is skipped
when its package is not installed (neither is in requirements.txt)."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]


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
