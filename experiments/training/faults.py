"""Test-only faults, injected through environment variables so that they also reach
worker processes and Ray tasks. Never set them outside tests.

- `VRL_FAIL_GRID_POINT=<run name>[,<run name>...]`: those grid points raise before
  training (the FAILED and resume paths).
- `VRL_EPOCH_DELAY_S=<seconds>`: a pause after every epoch, so that the interruption
  tests signal a sweep that is surely still training, however slowly they poll.

Production code calls `callbacks_for(run_name)` once, in `training.fit.train_grid_point`: with
neither variable set it returns an empty list and does nothing else.
"""

import os
import time

FAIL_ENV = "VRL_FAIL_GRID_POINT"
EPOCH_DELAY_ENV = "VRL_EPOCH_DELAY_S"
ENV_NAMES = (FAIL_ENV, EPOCH_DELAY_ENV)


def callbacks_for(run_name):
    """The faults asked for this grid point: raises, or returns Keras callbacks (maybe [])."""
    names = [n.strip() for n in os.environ.get(FAIL_ENV, "").split(",") if n.strip()]
    if run_name in names:
        raise RuntimeError(
            f"Injected failure for grid point {run_name} ({FAIL_ENV} is set; test-only)."
        )
    seconds = float(os.environ.get(EPOCH_DELAY_ENV, "0") or 0)
    if seconds <= 0:
        return []
    import keras

    class EpochDelay(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            time.sleep(seconds)

    return [EpochDelay()]
