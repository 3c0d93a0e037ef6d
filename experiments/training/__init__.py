"""Training one grid point.

- `job`: `GridPointJob` (what an executor is handed) and `run_job(job)` (the run's
  lifecycle: RUNNING, then FINISHED or FAILED with its traceback).
- `fit`: the training itself, from the task to the test metrics and the logged model.
- `models`: the models of the built-in kinds (`build_model`), checked before a sweep.
- `callbacks`: per-epoch metrics, progress lines, the time to solve.
- `faults`: the test-only faults a run can be asked to raise.
"""

from experiments.training.job import GridPointJob, run_job

__all__ = ["GridPointJob", "run_job"]
