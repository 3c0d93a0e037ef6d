"""The report's entry point: read a sweep back, let its kind fill the report, write it.

A report kind is a module with `add_to_report(report)` (see `experiments.report`): it
adds tables, Markdown sections, figures and parent-run metrics to the `Report` it is
given. This module does the rest, the same for every kind: it reads the sweep, writes
the files (`summary.md`, one CSV per table, one PNG per figure, `report.html`: all of it
in one page), logs them on the parent run under `report/`, logs the metrics and the
parent's description (the verdict and the result table) in one write, writes the
report's TensorBoard runs (its figures as images, `summary.md` as text, one run per
curve with the breakdown as scalars), and prints the terminal summary.
"""

import dataclasses
import pathlib
import shutil
import tempfile

import pandas as pd

from experiments import plots, schema, tracking
from experiments.errors import TrackingError
from experiments.report.html import report_html
from experiments.report.kinds import kind_module
from experiments.report.rates import choose_rates
from experiments.report.results import results_from_runs, split_not_run
from experiments.report.text import budget_text, description_markdown, terminal_summary
from experiments.report.to_tensorboard import write_tensorboard

# MLflow's limit on a tag's value (the description is the tag `mlflow.note.content`).
MAX_NOTE_LENGTH = 8000


@dataclasses.dataclass
class Report:
    """One sweep's report, filled by its kind.

    Attributes:
        title: the report's title (experiment, parent run name, task).
        info: the sweep's `schema.SweepInfo`.
        results: the results table (`results.results_table`), one row per FINISHED child
            that trained; with a learning-rate grid, those of each cell's chosen rate.
        rate_choice: the rate protocol's `rates.RateChoice` (every rate's runs, the choice
            per cell, the horizon per rate), or None when the runs have one rate.
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
            those steps (e.g. a horizon against the budget in updates, the test metric
            against the length).
        curve_scalars: curve -> `{tag: [(step, value), ...]}`, the TensorBoard run of
            each curve (`<experiment>/report/<sweep>/<curve>`).
    """

    title: str
    info: schema.SweepInfo
    results: pd.DataFrame
    runs: dict
    not_run: pd.DataFrame | None = None
    client: object = None
    rate_choice: object = None
    summary: pd.DataFrame | None = None
    horizons: pd.DataFrame | None = None
    tables: dict = dataclasses.field(default_factory=dict)
    sections: list = dataclasses.field(default_factory=list)
    terminal_sections: list = dataclasses.field(default_factory=list)
    figures: dict = dataclasses.field(default_factory=dict)
    metrics: dict = dataclasses.field(default_factory=dict)
    metric_series: dict = dataclasses.field(default_factory=dict)
    curve_scalars: dict = dataclasses.field(default_factory=dict)

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
    """The MLflow UI pages of this sweep's runs and of its parent run, to open next."""
    if tracking_config is None:
        return []
    experiment_id, run_id = parent.info.experiment_id, parent.info.run_id
    served = "" if tracking_config.is_remote else " (serve them with `make mlflow-ui`)"
    return [
        f"This sweep's runs{served}: {tracking_config.ui_address(experiment_id, sweep=run_id)}",
        f"Its parent run (the description, the breakdown charts): "
        f"{tracking_config.ui_address(experiment_id, run_id)}",
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
        markdown = _write_and_log(client, parent, report, out_dir)
        where = f"report files: MLflow run {parent_run_id} artifacts report/ ({schema.REPORT_HTML}"
        where += f": all of it in one page){'' if temporary else f' and {out_dir}'}"
        if tracking_config is not None:
            tb_dir = tracking.sweep_report_dir(
                tracking_config.tb_experiment_dir(experiment), report.info.run_name
            )
            write_tensorboard(tb_dir, report.figures, markdown, report.curve_scalars)
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


def _read_sweep(client, parent, tracking_config):
    """The sweep's runs read back into an empty `Report`, and the experiment's name."""
    info = schema.SweepInfo.from_run(parent)
    experiment = _experiment_name(client, parent, tracking_config)
    children = tracking.child_runs(client, parent.info.experiment_id, parent.info.run_id)
    results, not_run = split_not_run(results_from_runs(children, info))
    results, rate_choice = choose_rates(results, info)
    report = Report(
        title=f"{experiment} ({info.run_name}): {info.task}",
        info=info,
        results=results,
        not_run=not_run,
        runs={run.info.run_id: run for run in children},
        client=client,
        rate_choice=rate_choice,
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


def _write_and_log(client, parent, report, out_dir):
    """The files (`report.html` too) logged on the parent under `report/`, with the metrics
    and the parent's description; returns the Markdown of `summary.md`."""
    markdown = _write_files(report, out_dir)
    description = description_markdown(
        report.summary,
        report.horizons,
        report.info,
        budget_text(report.results),
        not_run=report.not_run,
    )
    _write_html(client, parent, report, out_dir, description, markdown)
    _log_results(client, parent, report, description)
    client.log_artifacts(parent.info.run_id, str(out_dir), schema.REPORT_ARTIFACT_DIR)
    return markdown


def _write_html(client, parent, report, out_dir, description, markdown):
    """`report.html`: the figures written by `_write_files`, the tables, the config."""
    figures = {name: (out_dir / f"{name}.png").read_bytes() for name in report.figures}
    source = (
        f"Drawn from MLflow run {parent.info.run_id} ({report.info.run_name}); "
        f"`python -m experiments report {report.info.experiment or '<experiment>'}` draws it again."
    )
    page = report_html(
        report.title, description, markdown, figures, _resolved_config(client, parent), source
    )
    (out_dir / schema.REPORT_HTML).write_text(page, encoding="utf-8")


def _resolved_config(client, parent):
    """The sweep's resolved config (the parent's `config/resolved.yaml`), else its params."""
    folder = tempfile.mkdtemp(prefix="report-config-")
    try:
        path = client.download_artifacts(parent.info.run_id, schema.RESOLVED_CONFIG, folder)
        return pathlib.Path(path).read_text()
    except Exception:  # a parent logged without it (hand-made, or an older store)
        params = sorted(parent.data.params.items())
        lines = [f"{key}: {value}" for key, value in params] or ["# (no config was logged)"]
        return "\n".join(lines) + "\n"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _log_results(client, parent, report, description):
    """The report's metrics and the parent's description, in one write.

    A redrawn report (`python -m experiments report`, also on a sweep logged before
    some of these metrics existed) adds only the points the run lacks: the history of
    a series is read only where the run holds that metric already.
    """
    held = parent.data.metrics
    run_id = parent.info.run_id
    logger = tracking.RunLogger(client, run_id)
    scalars = {
        name: float(value) for name, value in report.metrics.items() if held.get(name) != value
    }
    by_step = {}
    for name, points in report.metric_series.items():
        logged = set()
        if name in held:
            logged = {(m.step, m.value) for m in client.get_metric_history(run_id, name)}
        for step, value in points:
            if (int(step), float(value)) not in logged:
                by_step.setdefault(int(step), {})[name] = float(value)
    logger.log_metrics(scalars, wait=False)
    for step, metrics in sorted(by_step.items()):
        logger.log_metrics(metrics, step=step, wait=False)
    note = (
        description[: MAX_NOTE_LENGTH - 1] + "…"
        if len(description) > MAX_NOTE_LENGTH
        else description
    )
    logger.set_tags({schema.NOTE: note}, wait=False)
    logger.flush()
