"""The report in TensorBoard: one run holding its figures as images and its tables as text."""

import pathlib
import re
import shutil

from experiments import plots, tracking

SUMMARY_TAG = "report/summary"


def tensorboard_safe(text):
    """A folder name TensorBoard shows as is (`deep, num_layers=2` -> `deep_num_layers=2`)."""
    return re.sub(r"[^A-Za-z0-9_.=\-]+", "_", str(text)).strip("_") or "curve"


def write_tensorboard(report_dir, figures, markdown):
    """The report as one TensorBoard run: figures as images, `summary.md` as text.

    `report_dir` is `<tensorboard_root>/<experiment>/report/<parent run name>`. Each
    figure is the image `report/<name>` (IMAGES); the report's Markdown (the same text as
    `summary.md` on the parent run: the memory horizons, the test metric per curve and
    length with the solved seeds, the budget tables) is the text `report/summary` (TEXT,
    rendered as tables). Nothing is a scalar against length: TensorBoard would smooth
    such a curve (by 0.6 by default) and draw values the sweep never measured. Old
    event files there are removed first, so redrawing a report does not double it.

    Args:
        report_dir: the report's TensorBoard folder.
        figures: name -> matplotlib Figure.
        markdown: the report's Markdown, or None.
    """
    report_dir = pathlib.Path(report_dir)
    shutil.rmtree(report_dir, ignore_errors=True)
    report_dir.mkdir(parents=True, exist_ok=True)
    images = {f"report/{name}": plots.figure_to_png(figure) for name, figure in figures.items()}
    tracking.write_images(report_dir, images)
    if markdown:
        tracking.write_texts(report_dir, {SUMMARY_TAG: markdown})
