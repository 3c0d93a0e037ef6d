"""TensorBoard logs: one TensorBoard run per grid point, the HParams dashboard, images.

The layout under `<tensorboard_root>`:

    <experiment>/                    the HParams dashboard's definition (one per sweep)
    <experiment>/<run name>/         one grid point, one TensorBoard "run": every epoch's
                                     `<metric>/train` and `<metric>/validation` scalars
                                     (`epoch_summaries`), its hyperparameters and final
                                     metrics (`write_run_hparams`), probe images
    <experiment>/report/<parent>/    the sweep's report: figures and its Markdown tables

One folder per grid point keeps a sweep's run count at the number of grid points: the
legacy SCALARS / IMAGES / TEXT dashboards select no run by default above 40 runs, the
TIME SERIES dashboard none above 500 (`experiments.__main__` prints addresses that work
around the first).
"""

import contextlib
import errno
import json
import math
import numbers
import os
import pathlib
import shutil

from experiments import schema

TRAIN = "train"
VALIDATION = "validation"
# Keras's epoch logs that are not a metric of the model (a constant learning rate is a
# hyperparameter already).
NOT_EPOCH_METRICS = ("learning_rate",)


@contextlib.contextmanager
def _full_disk_as_oserror(logdir):
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
            with _full_disk_as_oserror(self.logdir):
                if self._writer is None:  # made on the first epoch: a failed start writes nothing
                    self._writer = tf.summary.create_file_writer(self.logdir)
                with self._writer.as_default():
                    for tag, value in scalars.items():
                        tf.summary.scalar(tag, value, step=epoch)
                self._writer.flush()

        def on_train_end(self, logs=None):
            if self._writer is not None:
                with _full_disk_as_oserror(self.logdir):
                    self._writer.close()
                self._writer = None

    return EpochSummaries(tb_dir)


def _number(value):
    # Keras's logs hold Python or NumPy floats, or 0-d tensors; anything else is skipped.
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def tensorboard_hparam_value(value):
    """An hyperparameter value as the HParams plugin stores it.

    bool, numbers and str stay what they are (NumPy scalars become Python ones); None
    becomes "None", everything else (lists, dicts) its JSON text. The dashboard's domains
    (`write_hparams_config`) and each run's values (`write_run_hparams`) both go through
    this function, so a column and its values have one type.
    """
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if value is None:
        return "None"
    return json.dumps(value, sort_keys=True)


def hparam_domain(values):
    """The `hp.Discrete` domain of one hyperparameter's values across a sweep, or None.

    Numbers give a numeric domain (the dashboard sorts and scales them as numbers),
    bools a bool one, text a text one, each with the distinct values sorted. Values of
    mixed types (e.g. `units` 32 for one model, [64, 32] for another) get no domain:
    the plugin then shows them as they are.
    """
    from tensorboard.plugins.hparams import api as hp

    distinct = sorted(
        {tensorboard_hparam_value(v) for v in values}, key=lambda v: (type(v).__name__, v)
    )
    kinds = {_kind(v) for v in distinct}
    if len(kinds) != 1 or not distinct:
        return None
    kind = kinds.pop()
    if kind is numbers.Real:
        if all(isinstance(v, int) for v in distinct):
            return hp.Discrete(distinct, dtype=int)
        return hp.Discrete([float(v) for v in distinct], dtype=float)
    return hp.Discrete(distinct, dtype=kind)


def _kind(value):
    if isinstance(value, bool):
        return bool
    if isinstance(value, numbers.Real):
        return numbers.Real
    return str


def sweep_hparams(points_params, axes=()):
    """Which hyperparameters the HParams dashboard declares, and which of them vary.

    Args:
        points_params: one dict of params per grid point (name -> value).
        axes: the grid's axes in config order (`model`, `length`, `seed`, ...).

    Returns:
        `(names, varying)`: the grid axes first (in grid order), then every other
        hyperparameter whose value differs between grid points; and the set of those
        names that take more than one value. Left out: hyperparameters constant over the
        sweep (the same in every row, and in every MLflow run's params), and those equal
        to an axis at every grid point (`kind` where the model names are the kinds).
    """
    points_params = list(points_params)
    values = {}
    for params in points_params:
        for name, value in params.items():
            values.setdefault(name, set()).add(json.dumps(tensorboard_hparam_value(value)))
    varying = {name for name, seen in values.items() if len(seen) > 1}
    names = [a for a in axes if a in values]

    def repeats_an_axis(name):
        return any(all(p.get(name) == p.get(a) for p in points_params) for a in names)

    names += [n for n in values if n in varying and n not in names and not repeats_an_axis(n)]
    return names, varying & set(names)


def write_hparams_config(tb_experiment_dir, points_params, metric, axes=()):
    """Configures the HParams dashboard once at `<root>/<experiment>`.

    Declares the sweep's grid axes and the other hyperparameters that vary between its
    grid points (`sweep_hparams`), each with its `hp.Discrete` domain of the sweep's
    values (numbers as numbers: `length` sorts 10, 20, 50, 100), and marks those that
    vary with `differs`. The plugin lists hyperparameters that differ first (its backend
    sorts them by `differs`, then by name; it ignores the declared order) and its
    dashboard shows the first 5 hyperparameter columns and the first 5 metrics by
    default, so the grid axes and the test metric are what the table opens with.
    Earlier sweeps' configs in that folder are replaced so that the dashboard reads one
    definition.

    Args:
        tb_experiment_dir: `<tensorboard_root>/<experiment>`.
        points_params: one dict of params per grid point (`GridPoint.params()`).
        metric: the task's main metric name (e.g. "mse").
        axes: the grid's axes in config order.
    """
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp
    from tensorboard.plugins.hparams import plugin_data_pb2

    points_params = list(points_params)
    names, varying = sweep_hparams(points_params, axes)
    hparams = [
        hp.HParam(name, hparam_domain([p[name] for p in points_params if name in p]))
        for name in names
    ]
    metrics = _hparams_metrics(metric)
    summary = hp.hparams_config_pb(hparams=hparams, metrics=metrics)
    # `hp.HParam` has no `differs`; the proto has, and the plugin orders columns by it.
    content = summary.value[0].metadata.plugin_data
    plugin_data = plugin_data_pb2.HParamsPluginData.FromString(content.content)
    for info in plugin_data.experiment.hparam_infos:
        info.differs = info.name in varying
    content.content = plugin_data.SerializeToString()

    root = pathlib.Path(tb_experiment_dir)
    root.mkdir(parents=True, exist_ok=True)
    for old in root.glob("events.out.tfevents.*"):
        old.unlink()
    with _full_disk_as_oserror(root):
        writer = tf.summary.create_file_writer(str(root))
        with writer.as_default():
            tf.summary.experimental.write_raw_pb(summary.SerializeToString(), step=0)
        writer.close()


def _hparams_metrics(metric):
    """The HParams table's metric columns: the test metric first, then the rest."""
    from tensorboard.plugins.hparams import api as hp

    return [
        hp.Metric(schema.test_metric_name(metric), display_name=f"test {metric}"),
        hp.Metric(schema.SOLVED, display_name="solved"),
        hp.Metric(schema.DIVERGED, display_name="diverged"),
        hp.Metric(schema.TRAIN_TIME_S, display_name="train time (s)"),
        hp.Metric(schema.UPDATES_TO_SOLVE, display_name="updates to solve"),
        hp.Metric(schema.SOLVE_CENSORED, display_name="not solved within budget"),
        hp.Metric(
            epoch_scalar_tag(f"val_{metric}"),
            display_name=f"val {metric}",
            dataset_type=hp.Metric.VALIDATION,
        ),
        hp.Metric(
            epoch_scalar_tag("val_loss"), display_name="val loss", dataset_type=hp.Metric.VALIDATION
        ),
        hp.Metric(
            epoch_scalar_tag("loss"), display_name="train loss", dataset_type=hp.Metric.TRAINING
        ),
    ]


def write_run_hparams(tb_dir, run_name, hparams, final_metrics):
    """Writes one run's hyperparameters and final metrics into its TensorBoard dir.

    Values go through `tensorboard_hparam_value`, as the dashboard's domains do.
    """
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    with _full_disk_as_oserror(tb_dir):
        writer = tf.summary.create_file_writer(str(tb_dir))
        with writer.as_default():
            values = {k: tensorboard_hparam_value(v) for k, v in hparams.items()}
            hp.hparams(values, trial_id=run_name)
            for key, value in final_metrics.items():
                if value is not None and math.isfinite(float(value)):
                    tf.summary.scalar(key, float(value), step=0)
        writer.close()


def write_images(logdir, images, step=0):
    """Writes PNGs as image summaries into one event file.

    Args:
        logdir: the TensorBoard folder (a "run").
        images: tag -> PNG bytes (e.g. `plots.figure_to_png(figure)`).
        step: the step of every image.
    """
    import tensorflow as tf

    with _full_disk_as_oserror(logdir):
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

    with _full_disk_as_oserror(logdir):
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
