"""The report's entry point: read a sweep back, let its kind fill the report, write it.

A report kind is a module with `add_to_report(report)` (see `experiments.report`): it
adds tables, Markdown sections, figures and parent-run metrics to the `Report` it is
given. This module does the rest, the same for every kind: it reads the sweep, writes
the files (`summary.md`, one CSV per table, one PNG per figure), logs them on the parent
run under `report/`, logs the metrics, writes the report's TensorBoard run (its figures as
images, `summary.md` as text), and prints the terminal summary.
"""

import dataclasses
import pathlib
import shutil
import tempfile

import pandas as pd

from experiments import plots, schema, tracking
from experiments.errors import TrackingError
from experiments.report.kinds import kind_module
from experiments.report.results import results_from_runs, split_not_run
from experiments.report.text import budget_text, terminal_summary
from experiments.report.to_tensorboard import tensorboard_safe, write_tensorboard


@dataclasses.dataclass
class Report:
    """One sweep's report, filled by its kind.

    Attributes:
        title: the report's title (experiment, parent run name, task).
        info: the sweep's `schema.SweepInfo`.
        results: the results table (`results.results_table`), one row per FINISHED child
            that trained.
        not_run: the rows of the grid points the sweep decided not to train (the
            `not_run` column says why), in the same columns.
        runs: run id -> the MLflow `Run` of each FINISHED child (for probe metrics).
        client: the `mlflow.MlflowClient` the sweep was read with (for metric histories).
        summary, horizons: the breakdown analysis (`horizon.summarize`,
            `horizon.memory_horizon`), set by the breakdown section every kind adds.
        tables: file stem -> DataFrame, written as `<stem>.csv`.
        sections: Markdown sections of `summary.md`, in order.
        terminal_sections: extra text printed after the terminal summary.
        figures: name -> matplotlib Figure, written as `<name>.png` and shown in
            TensorBoard as the image `report/<name>` (the sections, as the text
            `report/summary`).
        metrics: name -> number, logged on the parent run.
        metric_series: name -> `[(step, value), ...]`, logged on the parent run with
            those steps (e.g. a horizon against the budget in updates).
    """

    title: str
    info: schema.SweepInfo
    results: pd.DataFrame
    runs: dict
    not_run: pd.DataFrame | None = None
    client: object = None
    summary: pd.DataFrame | None = None
    horizons: pd.DataFrame | None = None
    tables: dict = dataclasses.field(default_factory=dict)
    sections: list = dataclasses.field(default_factory=list)
    terminal_sections: list = dataclasses.field(default_factory=list)
    figures: dict = dataclasses.field(default_factory=dict)
    metrics: dict = dataclasses.field(default_factory=dict)
    metric_series: dict = dataclasses.field(default_factory=dict)

    def metric_history(self, run_id, key):
        """`[(step, value), ...]` of one metric of one child run, by step."""
        return sorted((m.step, m.value) for m in self.client.get_metric_history(run_id, key))


def _experiment_name(client, parent, tracking_config):
    name = parent.data.tags.get(schema.SWEEP_EXPERIMENT)
    if name:
        return name
    name = client.get_experiment(parent.info.experiment_id).name
    prefix = tracking_config.experiment_prefix if tracking_config else ""
    return name[len(prefix) :] if prefix and name.startswith(prefix) else name


def _addresses(tracking_config, parent):
    """The MLflow UI pages of the experiment's runs and of this sweep, to open next."""
    if tracking_config is None:
        return []
    experiment_id, run_id = parent.info.experiment_id, parent.info.run_id
    served = "" if tracking_config.is_remote else " (serve them with `make mlflow-ui`)"
    return [
        f"MLflow runs{served}: {tracking_config.ui_address(experiment_id)}",
        f"This sweep's parent run: {tracking_config.ui_address(experiment_id, run_id)}",
    ]


def write_report(parent_run_id, *, out_dir=None, client=None, tracking_config=None):
    """Builds the report of one sweep, logs it on the parent run, returns the summary text.

    Args:
        parent_run_id: the sweep's parent run id.
        out_dir: where the files are written (kept); default: a temporary folder removed
            after the files are logged to MLflow (they stay there as `report/*`).
        client: an `mlflow.MlflowClient`; default: one on the current tracking URI.
        tracking_config: a `tracking.TrackingConfig` for the TensorBoard root; default
            `tracking.load_tracking_config()` (mlflow.yaml). Without a usable one the
            TensorBoard part is skipped.

    Returns:
        The terminal summary (also printed).

    Example:

    >>> text = write_report(parent.info.run_id, out_dir="reports/long_dependency")
    """
    if client is None:
        import mlflow

        client = mlflow.MlflowClient()
    tracking_config = tracking_config or _default_tracking_config()
    parent = client.get_run(parent_run_id)
    report, experiment = _read_sweep(client, parent, tracking_config)
    temporary = out_dir is None
    out_dir = pathlib.Path(tempfile.mkdtemp(prefix="report-") if temporary else out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        if report.results.empty:
            return _report_nothing(client, parent_run_id, report.title, out_dir)
        kind_module(report.info.report).add_to_report(report)
        markdown = _write_files(report, out_dir)
        _log_metrics(client, parent_run_id, report)
        client.log_artifacts(parent_run_id, str(out_dir), schema.REPORT_ARTIFACT_DIR)
        where = f"report files: MLflow run {parent_run_id} artifacts report/"
        if not temporary:
            where += f" and {out_dir}"
        if tracking_config is not None:
            tb_dir = _report_tensorboard_dir(tracking_config, experiment, report.info)
            write_tensorboard(tb_dir, report.figures, markdown)
            where += f"; TensorBoard: {tb_dir}"
        text = terminal_summary(
            report.summary,
            report.horizons,
            report.info,
            title=report.title,
            where=where,
            budget=budget_text(report.results),
        )
        text = "\n".join([text, *report.terminal_sections, *_addresses(tracking_config, parent)])
        print(text)
        return text
    finally:
        plots.pyplot().close("all")
        if temporary:
            shutil.rmtree(out_dir, ignore_errors=True)


def _default_tracking_config():
    try:
        return tracking.load_tracking_config()
    except TrackingError:
        return None


def _report_tensorboard_dir(tracking_config, experiment, info):
    """`<tensorboard_root>/<experiment>/report/<parent run name>`."""
    experiment_dir = pathlib.Path(tracking_config.tb_experiment_dir(experiment))
    return experiment_dir / "report" / tensorboard_safe(info.run_name)


def _read_sweep(client, parent, tracking_config):
    """The sweep's runs read back into an empty `Report`, and the experiment's name."""
    info = schema.SweepInfo.from_run(parent)
    experiment = _experiment_name(client, parent, tracking_config)
    children = tracking.child_runs(client, parent.info.experiment_id, parent.info.run_id)
    results, not_run = split_not_run(results_from_runs(children, info))
    report = Report(
        title=f"{experiment} ({info.run_name}): {info.task}",
        info=info,
        results=results,
        not_run=not_run,
        runs={run.info.run_id: run for run in children},
        client=client,
    )
    return report, experiment


def _report_nothing(client, parent_run_id, title, out_dir):
    text = f"== {title} ==\nNo FINISHED child runs under parent {parent_run_id}: nothing to report."
    (out_dir / schema.REPORT_SUMMARY).write_text(text + "\n")
    client.log_artifact(
        parent_run_id, str(out_dir / schema.REPORT_SUMMARY), schema.REPORT_ARTIFACT_DIR
    )
    print(text)
    return text


def _write_files(report, out_dir):
    """`summary.md`, a CSV per table, a PNG per figure; returns the Markdown."""
    budget = budget_text(report.results)
    header = f"## {report.title}\n\n" + (f"{budget}\n\n" if budget else "")
    markdown = header + "\n".join(report.sections)
    (out_dir / schema.REPORT_SUMMARY).write_text(markdown)
    for stem, table in report.tables.items():
        table.to_csv(out_dir / f"{stem}.csv", index=False)
    for name, figure in report.figures.items():
        figure.savefig(out_dir / f"{name}.png", dpi=110, bbox_inches="tight")
    return markdown


def _log_metrics(client, parent_run_id, report):
    """The report's metrics on the parent; a redrawn report adds only the points it lacks."""
    for name, value in report.metrics.items():
        client.log_metric(parent_run_id, name, float(value))
    for name, points in report.metric_series.items():
        logged = {(m.step, m.value) for m in client.get_metric_history(parent_run_id, name)}
        for step, value in points:
            if (int(step), float(value)) not in logged:
                client.log_metric(parent_run_id, name, float(value), step=int(step))
