"""Named experiments: sweeps of RNN memory tasks, tracked in MLflow and TensorBoard.

Run them from the command line (`python -m experiments --help`, or the make
targets `experiment`, `experiments`, `report`, `tensorboard`, `mlflow-ui`):

    python -m experiments list
    python -m experiments run long_dependency --profile smoke
    python -m experiments report long_dependency

One module per concern; imports point down this list:

- `__main__`: the command line.
- `sweep`: the driver (resume, FAILED / KILLED rules); `sweep_runs`: the sweep's parent
  and child runs in MLflow; `sweep_claim`: one driver per sweep; `progress`: its
  progress lines.
- `executors/`: where grid points train (`local` processes, `ray`), one interface.
- `train`: one grid point (task -> model -> fit -> metrics, model file);
  `fault_injection`: the test-only faults it can be asked to raise.
- `models`: `build_model(model_spec, task, seed)`.
- `config`: the config keys and `DEFAULTS`, loading and validation (`checks` holds
  the value checks); `grid`: the grid points of a config.
- `schema`: every tag, param and metric name the sweep writes and the report reads.
- `tracking/`: `mlflow.yaml`, MLflow helpers, TensorBoard folders.
- `report/`: the report kinds; `probes/`: the measurement callbacks; `plots/`: every
  figure.
- `quiet`: TensorFlow imported without its C++ start-up notices (every process that
  trains or reports, the lessons, `tensorboard`).
"""
