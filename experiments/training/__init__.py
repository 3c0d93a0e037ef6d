"""Training one job: a grid point, or the seeds of one grid cell trained as a group.

- `job`: `TrainingJob` (what an executor is handed), `PointRun` (one of its grid points
  and the child run it trains into) and `run_job(job)` (trains them; returns their
  outcomes).
- `member`: `Member`, a grid point being trained in the worker (its run logger, data,
  model and callbacks), and `start_member`.
- `compiled_loop`: the default loop (`training_loop: compiled`): a group of members, one
  compiled epoch program per shape (`programs/`: the programs of both backends and the
  cache that keeps them).
- `keras_fit`: the reference loop (`training_loop: keras_fit`), Keras's own `fit`.
- `data`: a grid point's task, stream and fixed sets; `callbacks`: per-epoch metrics,
  progress lines, the time to solve; `finish`: a run's results, description and model.

The models come from `experiments.models`; the failures that stop a sweep are decided by
`errors.sweep_stopper`; a failed grid point is recorded by `tracking.record_failure`.
"""

from experiments.training.job import PointRun, TrainingJob, run_job

__all__ = ["PointRun", "TrainingJob", "run_job"]
