"""Training one grid point.

- `job`: `TrainingJob` (what an executor is handed: one grid point, or the seeds of a
  cell) and `run_job(job)` (the runs' lifecycle: RUNNING, then FINISHED or FAILED).
- `member`: one grid point of a job: its run, data, model and callbacks.
- `group`: the compiled loop (`training_loop: compiled`), a group of seeds at once;
  `loop` (which program, kept per shape), `program` (their interface), `loop_jax`,
  `loop_tensorflow`: its compiled epoch programs.
- `keras_fit`: the reference loop (`training_loop: keras_fit`), Keras's own `fit`.
- `data`: a grid point's task, stream and fixed sets; `finish`: a run's results and model.
- `models`: the models of the built-in kinds (`build_model`), checked before a sweep;
  `factories`: layers of the user's own (`package.module:factory`), tried before a sweep.
- `callbacks`: per-epoch metrics, progress lines, the time to solve.
- `autodiff`: gradients through the backend (the probes'); `faults`: test-only faults.
"""

from experiments.training.job import JobMember, TrainingJob, run_job

__all__ = ["JobMember", "TrainingJob", "run_job"]
