#!/usr/bin/env bash
# VanillaRNN (Keras 3, JAX backend) against PyTorch's cuDNN nn.RNN on one GPU.
#
# For a GPU machine that has JAX (with CUDA) and PyTorch but neither Keras nor
# TensorFlow, and no network: Keras comes from the wheels shipped in
# benchmarks/wheels/ (see benchmarks/README.md for how to fetch them).
# Usage, from anywhere:  bash benchmarks/gpu.sh [extra python -m benchmarks options]
# Writes benchmarks/out/bench-jax-*.json and prints the table.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
WHEELS=benchmarks/wheels

"$PYTHON" -c "import jax, torch" || { echo "gpu.sh needs jax and torch importable by $PYTHON" >&2; exit 2; }

if ! "$PYTHON" -c "import keras" 2>/dev/null; then
  if ! ls "$WHEELS"/keras-*.whl >/dev/null 2>&1; then
    echo "No keras wheel in $WHEELS; fetch it first (see benchmarks/README.md)." >&2
    exit 2
  fi
  # A venv that sees the machine's jax/torch/numpy; plain install if venv is missing.
  VENV=${GPU_VENV:-/tmp/vanilla-rnn-gpu-venv}
  if "$PYTHON" -m venv --system-site-packages "$VENV" 2>/dev/null; then
    "$VENV/bin/python" -m pip install --no-index --find-links "$WHEELS" keras
    PYTHON="$VENV/bin/python"
  else
    "$PYTHON" -m pip install --no-index --find-links "$WHEELS" keras
  fi
fi

# JAX would take 75% of the GPU memory up front; the PyTorch peer runs beside it.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
export KERAS_BACKEND=jax
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

"$PYTHON" -c "import jax, torch; print('jax', jax.__version__, jax.devices()); print('torch', torch.__version__, torch.cuda.get_device_name(0))"
"$PYTHON" -m benchmarks --sizes gpu_long,gpu_wide --torch-device cuda "$@"
