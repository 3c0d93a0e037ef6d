"""Running a sweep: the driver, its runs in MLflow, one driver per sweep, what to skip.

- `driver`: `run_sweep(name, profile, overrides, ...)`, in phases: check the inputs
  (`inputs`), open the store and claim the sweep, the parent run, plan, train, finish.
- `scheduler`: hands the grid points to the executor, records how each ended and ends
  its run with that status (the driver alone writes run status).
- `runs`: the sweep's parent and child runs in MLflow, and which points are done.
- `claim`: one driver per sweep (a lock file, or tags with a heartbeat on a server).
- `skipping`: the `skip_decided_lengths` rule.
- `progress`: the progress lines and the ETA.
"""

from experiments.errors import SweepBusy, SweepFailed, SweepInterrupted
from experiments.sweep.driver import SweepResult, run_sweep

__all__ = ["SweepBusy", "SweepFailed", "SweepInterrupted", "SweepResult", "run_sweep"]
