"""Named experiments: sweeps of RNN memory tasks, tracked in MLflow and TensorBoard.

Run them from the command line (`python -m experiments --help`, or the make
targets `experiment`, `experiments`, `report`, `tensorboard`, `mlflow-ui`):

    python -m experiments list
    python -m experiments run long_dependency --profile smoke
    python -m experiments report long_dependency

One package per concern; a package imports only those below it in this list:

- `__main__`: the command line.
- `sweep/`: the driver of a sweep in phases (inputs, the claim, the parent and child
  runs, scheduling, skipping, progress, stops); it alone writes the runs' status.
- `executors/`: where jobs train (`local` processes, `ray`), one interface.
- `training/`: one job (a grid point, or the seeds of a cell): the compiled loop and its
  epoch programs (`training/programs/`), Keras's `fit` as the reference loop, callbacks,
  a run's results and model.
- `report/`: the report kinds, read back from MLflow, and the results page.
- `probes/`: measurement callbacks (and the state gradients they take).
- `models/`: the models a grid point trains (built-in kinds, the user's own factories).
- `tracking/`: `mlflow.yaml`, MLflow and TensorBoard writers, servers, the outage guard.
- `plots/`: every figure.
- `config/`: every config key declared once, loading, `--set`, the grid, the names of
  the probes and report kinds.
- loose modules: `schema` (every tag, param, metric and artifact name the sweep writes
  and the report reads), `errors` (the error types and the failure policy,
  `sweep_stopper`), `terminal` (TensorFlow imported quietly, times as text), `faults`
  (test-only faults, injected through the environment).
"""
