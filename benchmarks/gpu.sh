#!/usr/bin/env bash
# The GPU check: on one GPU, with the JAX backend,
#   1. the layer's SimpleRNN parity tests,
#   2. VanillaRNN against PyTorch's cuDNN nn.RNN (python -m benchmarks),
#   3. the `full` profiles' wall time planned from measured step times (benchmarks/full_plan.py),
#   4. seeds side by side in one program (the compiled loop's groups) against one each,
#   5. the Linear Recurrent Unit's two scans against VanillaRNN, SimpleRNN and GRU (lru_bench),
#   6. where .venv has the full requirements (make venv-gpu: MLflow, TensorFlow): the flagship's
#      quick sweep on each backend, timed, into a throwaway store, and the old loop beside the
#      new one (make bench-sweep).
#
# For a GPU machine that has JAX (with CUDA) and PyTorch but neither Keras nor
# TensorFlow, and no network: Keras (and PyYAML) come from the wheels shipped in
# benchmarks/wheels/ (see benchmarks/README.md for how to fetch them); step 4 is skipped there.
# Usage, from anywhere:  bash benchmarks/gpu.sh [extra python -m benchmarks options]
# Writes benchmarks/out/bench-jax-*.json and prints the tables.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
WHEELS=benchmarks/wheels

"$PYTHON" -c "import jax, torch" || { echo "gpu.sh needs jax and torch importable by $PYTHON" >&2; exit 2; }

if ! "$PYTHON" -c "import keras, yaml" 2>/dev/null; then
  if ! ls "$WHEELS"/keras-*.whl >/dev/null 2>&1; then
    echo "No keras wheel in $WHEELS; fetch it first (see benchmarks/README.md)." >&2
    exit 2
  fi
  # A venv that sees the machine's jax/torch/numpy; plain install if venv is missing.
  VENV=${GPU_VENV:-/tmp/vanilla-rnn-gpu-venv}
  if "$PYTHON" -m venv --system-site-packages "$VENV" 2>/dev/null; then
    "$VENV/bin/python" -m pip install --no-index --find-links "$WHEELS" keras pyyaml
    PYTHON="$VENV/bin/python"
  else
    "$PYTHON" -m pip install --no-index --find-links "$WHEELS" keras pyyaml
  fi
fi

# JAX would take 75% of the GPU memory up front; the PyTorch peer runs beside it.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
export KERAS_BACKEND=jax
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

"$PYTHON" -c "import jax, torch; print('jax', jax.__version__, jax.devices()); print('torch', torch.__version__, torch.cuda.get_device_name(0))"
echo "== 1. parity with SimpleRNN on the GPU (JAX)"
"$PYTHON" -m pytest -q -p no:cacheprovider tests/rnn_layers/test_rnn_parity.py

echo "== 2. VanillaRNN against cuDNN nn.RNN"
"$PYTHON" -m benchmarks --sizes gpu_long,gpu_wide --torch-device cuda "$@"

echo "== 3. the full profiles planned from step times on this GPU (4 grid points at once)"
"$PYTHON" -m benchmarks.full_plan long_dependency copy_memory latch horizon_levers --parallel 4 --steps 20

echo "== 4. seeds side by side in one program (JAX vmap) against one program each"
"$PYTHON" -m benchmarks.group_bench --sizes 1,3,5,10 --units 32,128 --kinds vanilla,lstm

echo "== 5. the LRU's parallel and sequential scans against VanillaRNN, SimpleRNN and GRU"
"$PYTHON" -m benchmarks.lru_bench --lengths 100,1000,4000 --batch 128 --features 128 --units 256

echo "== 6. the flagship quick sweep on each backend"
if [ -x .venv/bin/python ] && .venv/bin/python -c "import mlflow, tensorflow" 2>/dev/null; then
  STORE=$(mktemp -d)
  printf 'tracking_uri: sqlite:///%s/mlflow.db\nartifact_location: %s/artifacts\nexperiment_prefix: ""\ntensorboard_root: %s/tb_logs\n' \
    "$STORE" "$STORE" "$STORE" > "$STORE/mlflow.yaml"
  for BACKEND in tensorflow jax; do
    START=$(date +%s)
    .venv/bin/python -m experiments --mlflow-config "$STORE/mlflow.yaml" run long_dependency \
      --profile quick --workers 4 --backend "$BACKEND" | grep -E "horizon|device|^run 48"
    echo "$BACKEND: $(( $(date +%s) - START )) s"
  done
  .venv/bin/python -m benchmarks.sweep_bench --workers 4 --backend jax
else
  echo "skipped: .venv lacks MLflow/TensorFlow (on a machine with network: make venv-gpu)"
fi
