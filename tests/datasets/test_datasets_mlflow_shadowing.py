"""Our top-level `datasets` package hides Hugging Face's; MLflow must not care.

MLflow imports `datasets` only inside `mlflow.data.huggingface_dataset`
(`from_huggingface`) and `HuggingFaceDatasetSource.load`, both reached only
when a caller hands MLflow a Hugging Face dataset. The probe script runs, in a
fresh interpreter with our package imported first, every MLflow path the
project uses (params, metrics, artifacts, dicts, `mlflow.data.from_numpy` +
`log_input`, the Keras callback, TensorFlow autologging with our PyDataset and
with arrays) against a temporary SQLite store.
"""

import json
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
PROBE = pathlib.Path(__file__).with_name("mlflow_shadowing_probe.py")


def test_mlflow_logging_works_with_our_datasets_package(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, str(PROBE), str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("SUMMARY ")]
    assert done.returncode == 0 and lines, done.stderr[-4000:]
    summary = json.loads(lines[-1][len("SUMMARY ") :])

    assert summary["datasets_is_ours"]
    assert summary["statuses"] == ["FINISHED"] * 4
    assert summary["run_names"] == [
        "autolog-numpy",
        "autolog-stream",
        "callback",
        "plain",
    ]
    assert summary["params"] == {"task": "adding", "length": "8"}
    assert summary["plain_inputs"] == 1
    assert summary["artifacts"] == ["note.txt", "task.json"]
    assert {"loss", "mse", "val_loss", "val_mse"} <= set(summary["autolog_numpy_metrics"])
    assert summary["autolog_numpy_inputs"] >= 1
    assert {"loss", "mse"} <= set(summary["autolog_stream_metrics"])
    assert summary["resolve_source"] == "HTTPDatasetSource"
    # Hugging Face support fails cleanly, naming the cause.
    assert summary["from_huggingface"].startswith("AttributeError")
    assert "shadows Hugging Face" in summary["from_huggingface"]
