"""The report in TensorBoard: its figures and tables in one run, the breakdown as scalars in
one run per curve."""

import pathlib

from experiments import plots, tracking
from experiments.tracking.tensorboard_logs import tensorboard_safe

SUMMARY_TAG = "report/summary"


def write_tensorboard(report_dir, figures, markdown, curve_scalars=None):
    """The report as TensorBoard runs: the report's run, and one run per curve.

    `report_dir` is the sweep's `tracking.sweep_report_dir`. There,
    each figure is the image `report/<name>` (IMAGES) and the report's Markdown (the
    same text as `summary.md` on the parent run) the text `report/summary` (TEXT,
    rendered as tables). Each curve is the run `report_dir/<curve>` with its scalars
    against length (`breakdown/test_<metric>`, `breakdown/solved_fraction`, step =
    length): SCALARS and TIME SERIES overlay the curves, x = length. The address the
    command line prints opens TIME SERIES unsmoothed. The report's earlier logs are
    removed first, so redrawing a report does not double it (the HParams definition
    that shares the folder stays).

    Args:
        report_dir: the report's TensorBoard folder.
        figures: name -> matplotlib Figure.
        markdown: the report's Markdown, or None.
        curve_scalars: curve label -> `{tag: [(step, value), ...]}`.
    """
    report_dir = pathlib.Path(report_dir)
    tracking.clear_report_dir(report_dir)
    images = {f"report/{name}": plots.figure_to_png(figure) for name, figure in figures.items()}
    tracking.write_images(report_dir, images)
    if markdown:
        tracking.write_texts(report_dir, {SUMMARY_TAG: markdown})
    for curve, series in (curve_scalars or {}).items():
        tracking.write_scalars(report_dir / tensorboard_safe(curve), series)
