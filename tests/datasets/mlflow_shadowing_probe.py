"""Run by test_datasets_mlflow_shadowing.py in a fresh interpreter (argv[1] = tmp dir).

Imports this repo's `datasets` first (as any project process does), then walks
MLflow's logging paths the project uses and prints a JSON summary.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import datasets  # noqa: E402  (ours, from the repo root on sys.path)

ours = datasets.__file__
tmp = sys.argv[1]

import keras  # noqa: E402
import mlflow  # noqa: E402
import mlflow.data  # noqa: E402
import mlflow.keras  # noqa: E402
import mlflow.tensorflow  # noqa: E402
from mlflow.data.dataset_source_registry import resolve_dataset_source  # noqa: E402

mlflow.set_tracking_uri(f"sqlite:///{tmp}/m.db")
mlflow.set_experiment("shadowing")
task = datasets.make("adding", length=8)
x, y = task.sample(64, seed=1)
artifact = os.path.join(tmp, "note.txt")
with open(artifact, "w") as f:
    f.write("hello")

summary = {}
with mlflow.start_run(run_name="plain") as run:
    mlflow.log_params({"task": task.name, "length": task.length, **task.params})
    mlflow.log_metrics({"chance": task.chance, "loss": 0.5}, step=0)
    mlflow.log_artifact(artifact)
    mlflow.log_dict({"describe": task.describe()}, "task.json")
    mlflow.set_tags({"task": task.name})
    dataset = mlflow.data.from_numpy(x, targets=y, name="adding-train")
    mlflow.log_input(dataset, context="training")
    summary["plain_run"] = run.info.run_id

# Keras callback logging.
model = keras.Sequential([keras.Input((8, 2)), keras.layers.SimpleRNN(3), keras.layers.Dense(1)])
model.compile(optimizer="adam", loss=task.loss, metrics=task.metrics())
with mlflow.start_run(run_name="callback"):
    model.fit(
        task.dataset(16, 2, seed=0),
        epochs=1,
        verbose=0,
        callbacks=[mlflow.keras.MlflowCallback()],
    )

# Autologging (TensorFlow flavour): both the PyDataset stream and NumPy arrays.
mlflow.tensorflow.autolog(log_models=False, log_datasets=True, silent=True)
with mlflow.start_run(run_name="autolog-stream") as run:
    model.fit(task.dataset(16, 2, seed=0), epochs=1, verbose=0)
    summary["autolog_stream"] = run.info.run_id
with mlflow.start_run(run_name="autolog-numpy") as run:
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, validation_data=(x, y))
    summary["autolog_numpy"] = run.info.run_id
mlflow.tensorflow.autolog(disable=True)

client = mlflow.MlflowClient()
runs = mlflow.search_runs(experiment_names=["shadowing"], output_format="list")
summary["statuses"] = sorted(r.info.status for r in runs)
summary["run_names"] = sorted(r.info.run_name for r in runs)
plain = client.get_run(summary["plain_run"])
summary["params"] = plain.data.params
summary["plain_inputs"] = len(plain.inputs.dataset_inputs)
summary["artifacts"] = sorted(a.path for a in client.list_artifacts(summary["plain_run"]))
summary["autolog_numpy_metrics"] = sorted(client.get_run(summary["autolog_numpy"]).data.metrics)
summary["autolog_numpy_inputs"] = len(
    client.get_run(summary["autolog_numpy"]).inputs.dataset_inputs
)
summary["autolog_stream_metrics"] = sorted(client.get_run(summary["autolog_stream"]).data.metrics)

# The only MLflow code that imports `datasets` is the Hugging Face support:
try:
    mlflow.data.from_huggingface(object())
    summary["from_huggingface"] = "no error"
except Exception as error:  # noqa: BLE001 — we report the kind and message
    summary["from_huggingface"] = f"{type(error).__name__}: {error}"
summary["resolve_source"] = type(resolve_dataset_source("https://example.com/x.csv")).__name__
summary["datasets_is_ours"] = sys.modules["datasets"].__file__ == ours
print("SUMMARY " + json.dumps(summary))
