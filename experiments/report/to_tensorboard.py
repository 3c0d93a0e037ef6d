"""The report in TensorBoard: its figures as images, the breakdown as scalars per curve."""

import pathlib
import re
import shutil

import numpy as np

from experiments import plots, tracking

FLOAT32_MAX = float(np.finfo(np.float32).max)


def tensorboard_safe(text):
    """A folder name TensorBoard shows as is (`deep, num_layers=2` -> `deep_num_layers=2`)."""
    return re.sub(r"[^A-Za-z0-9_.=\-]+", "_", str(text)).strip("_") or "curve"


def write_tensorboard(report_dir, figures, summary, horizons, info):
    """Figures as images and the breakdown as scalars under `report_dir`.

    `report_dir` is `<tensorboard_root>/<experiment>/report/<parent run name>`; each curve
    gets its own sub-folder (a TensorBoard "run"), so the scalars `breakdown/test_<metric>`
    and `breakdown/solved_fraction` (step = length) of every curve overlay in one chart.
    Old event files there are removed first, so redrawing a report does not double it.
    """
    import tensorflow as tf

    report_dir = pathlib.Path(report_dir)
    shutil.rmtree(report_dir, ignore_errors=True)
    report_dir.mkdir(parents=True, exist_ok=True)
    images = {f"report/{name}": plots.figure_to_png(figure) for name, figure in figures.items()}
    tracking.write_images(report_dir, images)
    if summary is None or summary.empty:
        return
    horizon_of = dict(zip(horizons["curve"], horizons["horizon"])) if len(horizons) else {}
    for curve, group in summary.groupby("curve", sort=True):
        writer = tf.summary.create_file_writer(str(report_dir / tensorboard_safe(curve)))
        with writer.as_default():
            for _, row in group.sort_values("length").iterrows():
                step = int(row["length"])
                if abs(row["mean"]) <= FLOAT32_MAX:  # TensorBoard stores float32; False for NaN
                    tag = f"breakdown/test_{info.metric}"
                    tf.summary.scalar(tag, float(row["mean"]), step=step)
                fraction = float(row["solved_fraction"])
                tf.summary.scalar("breakdown/solved_fraction", fraction, step=step)
            if curve in horizon_of:
                tf.summary.scalar("breakdown/horizon", float(horizon_of[curve]), step=0)
        writer.close()
