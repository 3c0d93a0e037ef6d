"""TensorBoard logs: one TensorBoard run per grid point, scalars, images and texts.

The layout under `<tensorboard_root>`:

    <experiment>/<run name>/         one grid point, one TensorBoard "run": every epoch's
                                     `<metric>/train` and `<metric>/validation` scalars
                                     (`epoch_summaries`), its hyperparameters, and its
                                     final values as `breakdown/...` and `outcome/...`
                                     scalars at step = its length (`tensorboard_hparams`),
                                     probe images
    <experiment>/report/<sweep>/     the sweep's report: figures and its Markdown tables,
                                     and the HParams dashboard's definition (the newest
                                     sweep's only: `tensorboard_hparams`)
    <experiment>/report/<sweep>/<curve>/
                                     one run per curve: `breakdown/<quantity>` at
                                     step = length (`write_scalars`)

One folder per grid point keeps a sweep's run count at the number of grid points: the
legacy SCALARS / IMAGES / TEXT dashboards select no run by default above 40 runs, the
TIME SERIES dashboard none above 500 (`experiments.__main__` prints addresses that work
around the first). No event file sits in `<experiment>/` itself: TensorBoard would list
that folder as a run named ".".
"""

import contextlib
import errno
import math
import os
import pathlib
import re
import shutil

TRAIN = "train"
VALIDATION = "validation"
# Keras's epoch logs that are not a metric of the model (a constant learning rate is a
# hyperparameter already).
NOT_EPOCH_METRICS = ("learning_rate",)
# The folder of an experiment's sweep reports (`sweep_report_dir`).
REPORT_DIR = "report"


def tensorboard_safe(text):
    """A folder name TensorBoard shows as is (`deep, num_layers=2` -> `deep_num_layers=2`)."""
    return re.sub(r"[^A-Za-z0-9_.=\-]+", "_", str(text)).strip("_") or "curve"


def sweep_report_dir(tb_experiment_dir, sweep):
    """`<experiment>/report/<sweep>`: the TensorBoard run of a sweep's report, where its
    figures, its tables and the HParams dashboard's definition go (see the module).

    Args:
        tb_experiment_dir: `<tensorboard_root>/<experiment>`
            (`TrackingConfig.tb_experiment_dir`).
        sweep: the sweep's parent run name; made `tensorboard_safe` here.
    """
    return pathlib.Path(tb_experiment_dir) / REPORT_DIR / tensorboard_safe(sweep)


@contextlib.contextmanager
def full_disk_as_oserror(logdir):
    """TensorFlow's event writer reports a full disk as `ResourceExhaustedError`; the
    runner knows one as an `OSError` with errno ENOSPC (`errors.no_space`) that names
    the folder (the sweep then stops in one line that names it)."""
    import tensorflow as tf

    try:
        yield
    except tf.errors.ResourceExhaustedError as error:
        raise OSError(
            errno.ENOSPC, "No space left on device (writing TensorBoard events)", str(logdir)
        ) from error


def epoch_scalar_tag(log_key):
    """The TensorBoard tag of one of Keras's epoch-log keys.

    `loss` -> `loss/train`, `val_loss` -> `loss/validation`, `val_mse` ->
    `mse/validation`. TensorBoard groups cards by the part before the first `/`, so a
    metric's train and validation charts sit side by side, and every chart overlays
    the selected runs.
    """
    if log_key.startswith("val_"):
        return f"{log_key[len('val_') :]}/{VALIDATION}"
    return f"{log_key}/{TRAIN}"


def epoch_summaries(tb_dir):
    """A Keras callback writing every epoch's metrics into the run's own TensorBoard folder.

    It replaces `keras.callbacks.TensorBoard`, which writes two more TensorBoard runs per
    grid point (`<run>/train` and `<run>/validation`). Each number of Keras's epoch logs
    but the learning rate becomes the scalar `epoch_scalar_tag(key)` with `step = epoch`
    (0-based), the step MLflow's per-epoch metrics use. NaN is written as is, so a
    diverging run shows where it diverged. The event file is flushed after every epoch
    (the curves grow while a run trains) and closed when training ends.

    Args:
        tb_dir: `<tensorboard_root>/<experiment>/<run name>`.

    Returns:
        A `keras.callbacks.Callback`.

    Example:

    >>> model.fit(data, epochs=10, validation_data=val, callbacks=[epoch_summaries(tb_dir)])
    """
    import keras

    class EpochSummaries(keras.callbacks.Callback):
        def __init__(self, logdir):
            super().__init__()
            self.logdir = str(logdir)
            self._writer = None

        def on_epoch_end(self, epoch, logs=None):
            import tensorflow as tf

            scalars = {
                epoch_scalar_tag(key): _number(value)
                for key, value in (logs or {}).items()
                if key not in NOT_EPOCH_METRICS and _number(value) is not None
            }
            if not scalars:
                return
            with full_disk_as_oserror(self.logdir):
                if self._writer is None:  # made on the first epoch: a failed start writes nothing
                    self._writer = tf.summary.create_file_writer(self.logdir)
                with self._writer.as_default():
                    for tag, value in scalars.items():
                        tf.summary.scalar(tag, value, step=epoch)
                self._writer.flush()

        def on_train_end(self, logs=None):
            if self._writer is not None:
                with full_disk_as_oserror(self.logdir):
                    self._writer.close()
                self._writer = None

    return EpochSummaries(tb_dir)


def _number(value):
    # Keras's logs hold Python or NumPy floats, or 0-d tensors; anything else is skipped.
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def write_scalars(logdir, series):
    """Writes scalar series into one event file: `{tag: [(step, value), ...]}`.

    Non-finite values are left out (a point that was never measured is no point).
    """
    import tensorflow as tf

    with full_disk_as_oserror(logdir):
        writer = tf.summary.create_file_writer(str(logdir))
        with writer.as_default():
            for tag, points in series.items():
                for step, value in points:
                    if math.isfinite(float(value)):
                        tf.summary.scalar(tag, float(value), step=int(step))
        writer.close()


def write_images(logdir, images, step=0):
    """Writes PNGs as image summaries into one event file.

    Args:
        logdir: the TensorBoard folder (a "run").
        images: tag -> PNG bytes (e.g. `plots.figure_to_png(figure)`).
        step: the step of every image.
    """
    import tensorflow as tf

    with full_disk_as_oserror(logdir):
        writer = tf.summary.create_file_writer(str(logdir))
        with writer.as_default():
            for tag, png in images.items():
                tf.summary.image(tag, tf.image.decode_png(png, channels=4)[None], step=step)
        writer.close()


def write_texts(logdir, texts, step=0):
    """Writes Markdown texts as text summaries into one event file.

    Args:
        logdir: the TensorBoard folder (a "run").
        texts: tag -> Markdown (the TEXT dashboard renders tables and headings).
        step: the step of every text.
    """
    import tensorflow as tf

    with full_disk_as_oserror(logdir):
        writer = tf.summary.create_file_writer(str(logdir))
        with writer.as_default():
            for tag, text in texts.items():
                tf.summary.text(tag, text, step=step)
        writer.close()


def count_runs(logdir):
    """How many TensorBoard runs (folders holding event files) are under `logdir`."""
    return sum(
        any(name.startswith("events.out.tfevents.") for name in files)
        for _, _, files in os.walk(logdir)
    )


def reset_dir(path):
    """Removes a run's previous TensorBoard logs so a rerun does not overlay them."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)
