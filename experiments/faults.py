"""Test-only faults, injected through environment variables so that they also reach
worker processes and Ray tasks. Never set them outside tests.

- `VRL_FAIL_GRID_POINT=<run name>[,<run name>...]`: those grid points raise before
  training (the FAILED and resume paths).
- `VRL_EPOCH_DELAY_S=<seconds>`: a pause after every epoch, so that the interruption
  tests signal a sweep that is surely still training, however slowly they poll.
- `VRL_EXIT_WORKER_AT=<run name>:<epoch>`: the process training that grid point exits at
  once after that epoch (0-based), as a worker killed by the machine would (the job's
  runs are left RUNNING for the driver to mark).
- `VRL_DISK_FULL_UNDER=<folder>`: every grid point's first epoch ends in the `OSError`
  (errno ENOSPC) of a write under that folder whose disk is full, as a full artifact or
  TensorBoard root gives (the run FAILED, the sweep stopping in one line that names it).

Production code calls `callbacks_for(run_name)` once per grid point, in
`training.member.start_member`: with none of them set it returns an empty list and does
nothing else.
"""

import errno
import os
import time

FAIL_ENV = "VRL_FAIL_GRID_POINT"
EPOCH_DELAY_ENV = "VRL_EPOCH_DELAY_S"
EXIT_WORKER_ENV = "VRL_EXIT_WORKER_AT"
DISK_FULL_ENV = "VRL_DISK_FULL_UNDER"
ENV_NAMES = (FAIL_ENV, EPOCH_DELAY_ENV, EXIT_WORKER_ENV, DISK_FULL_ENV)


def callbacks_for(run_name):
    """The faults asked for this grid point: raises, or returns Keras callbacks (maybe [])."""
    names = [n.strip() for n in os.environ.get(FAIL_ENV, "").split(",") if n.strip()]
    if run_name in names:
        raise RuntimeError(
            f"Injected failure for grid point {run_name} ({FAIL_ENV} is set; test-only)."
        )
    chosen = []
    seconds = float(os.environ.get(EPOCH_DELAY_ENV, "0") or 0)
    if seconds > 0:
        chosen.append(_at_epoch_end(lambda epoch: time.sleep(seconds)))
    target, _, exit_epoch = os.environ.get(EXIT_WORKER_ENV, "").partition(":")
    if target == run_name:
        chosen.append(_at_epoch_end(lambda epoch: epoch == int(exit_epoch) and os._exit(3)))
    full = os.environ.get(DISK_FULL_ENV)
    if full:
        chosen.append(_at_epoch_end(lambda epoch: _disk_full(os.path.join(full, run_name))))
    return chosen


def _disk_full(path):
    raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} ({DISK_FULL_ENV}; test-only)", path)


def _at_epoch_end(action):
    import keras

    class AtEpochEnd(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            action(epoch)

    return AtEpochEnd()
