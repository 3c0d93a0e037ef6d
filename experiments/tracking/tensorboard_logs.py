"""TensorBoard logs: the HParams dashboard, one run's hyperparameters, images.

`<tensorboard_root>/<experiment>/<run name>/{train,validation}` are written by
`keras.callbacks.TensorBoard`; the HParams dashboard is configured once per sweep at
`<tensorboard_root>/<experiment>`, and every run writes its hyperparameters and final
metrics into its own folder.
"""

import json
import math
import os
import pathlib
import shutil

from experiments import schema


def tensorboard_hparam_value(value):
    """HParams accept bool/int/float/str: everything else becomes JSON text."""
    if isinstance(value, (bool, int, float, str)):
        return value
    if value is None:
        return "None"
    return json.dumps(value, sort_keys=True)


def write_hparams_config(tb_experiment_dir, hparam_names, metric):
    """Configures the HParams dashboard once at `<root>/<experiment>`.

    Earlier sweeps' configs in that folder are replaced so that the dashboard
    reads one definition.

    Args:
        tb_experiment_dir: `<tensorboard_root>/<experiment>`.
        hparam_names: the hyperparameters shown as columns.
        metric: the task's main metric name (e.g. "mse").
    """
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    root = pathlib.Path(tb_experiment_dir)
    root.mkdir(parents=True, exist_ok=True)
    for old in root.glob("events.out.tfevents.*"):
        old.unlink()
    metrics = [
        hp.Metric(schema.test_metric_name(metric), display_name=f"test {metric}"),
        hp.Metric(schema.SOLVED, display_name="solved"),
        hp.Metric(schema.DIVERGED, display_name="diverged"),
        hp.Metric(schema.TRAIN_TIME_S, display_name="train time (s)"),
        hp.Metric(schema.UPDATES_TO_SOLVE, display_name="updates to solve"),
        hp.Metric(schema.SOLVE_CENSORED, display_name="not solved within budget"),
        hp.Metric(f"epoch_{metric}", group="validation", display_name=f"val {metric}"),
        hp.Metric("epoch_loss", group="validation", display_name="val loss"),
        hp.Metric("epoch_loss", group="train", display_name="train loss"),
    ]
    writer = tf.summary.create_file_writer(str(root))
    with writer.as_default():
        hp.hparams_config(hparams=[hp.HParam(name) for name in hparam_names], metrics=metrics)
    writer.close()


def write_run_hparams(tb_dir, run_name, hparams, final_metrics):
    """Writes one run's hyperparameters and final metrics into its TensorBoard dir."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    writer = tf.summary.create_file_writer(str(tb_dir))
    with writer.as_default():
        hp.hparams({k: tensorboard_hparam_value(v) for k, v in hparams.items()}, trial_id=run_name)
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

    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default():
        for tag, png in images.items():
            tf.summary.image(tag, tf.image.decode_png(png, channels=4)[None], step=step)
    writer.close()


def reset_dir(path):
    """Removes a run's previous TensorBoard logs so a rerun does not overlay them."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)
