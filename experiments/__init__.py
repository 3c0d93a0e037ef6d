"""Named experiments: sweeps of RNN memory tasks, tracked in MLflow and TensorBoard.

Run them from the command line (`python -m experiments --help`, or the make
targets `experiment`, `experiments`, `report`, `tensorboard`, `mlflow-ui`):

    python -m experiments list
    python -m experiments run long_dependency --profile smoke
    python -m experiments report long_dependency

Modules, one concern each (imports point down the list):

- `__main__`: the command line.
- `sweep`: the grid, the executors, resume / FAILED / KILLED rules.
- `train`: one grid point (task -> model -> fit -> metrics, model file).
- `models`: `build_model(model_spec, task, seed)`.
- `config`: the config schema (`DEFAULTS`), loading and validation.
- `tracking`: `mlflow.yaml`, MLflow helpers, `RunLogger`, TensorBoard.
- `report`, `probes`: the breakdown report and measurement callbacks.
"""
