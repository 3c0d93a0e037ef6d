"""The HParams dashboard of TensorBoard: its definition per sweep, and each run's values.

The definition (`write_hparams_config`) declares the sweep's grid axes and the other
hyperparameters that vary, and the metric columns; each grid point's run holds its
hyperparameters and final values (`write_run_hparams`).

The plugin (TensorBoard 2.21, `plugins/hparams/list_session_groups.py`) reads a session's
metric values as the last value of scalars in the session's run (or `<run>/<group>`),
the data TIME SERIES draws: written at step = length (`final_value_tag`), the final values
are every grid point's result against its length, not points at step 0. It takes the
definition from any run that holds one, so there is one, in the sweep's report run.
"""

import json
import math
import numbers
import pathlib
import shutil

from experiments import schema
from experiments.tracking.tensorboard_logs import (
    REPORT_DIR,
    epoch_scalar_tag,
    full_disk_as_oserror,
    sweep_report_dir,
)

EVENT_FILES = "events.out.tfevents.*"
# The name ending of the HParams definition's event file.
HPARAMS_FILE = ".hparams"


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


def write_hparams_config(tb_experiment_dir, sweep, points_params, metric, axes=()):
    """Configures the HParams dashboard once, in the sweep's report folder.

    Declares the sweep's grid axes and the other hyperparameters that vary between its
    grid points (`sweep_hparams`), each with its `hp.Discrete` domain of the sweep's
    values (numbers as numbers: `length` sorts 10, 20, 50, 100), and marks those that
    vary with `differs`. The plugin lists hyperparameters that differ first (its backend
    sorts them by `differs`, then by name; it ignores the declared order) and its
    dashboard shows the first 5 hyperparameter columns and the first 5 metrics by
    default, so the grid axes and the test metric are what the table opens with.

    The plugin takes the definition from any run that holds one, so there is one, in
    `<experiment>/report/<sweep>/` (the report's run; an event file `*.hparams` that
    redrawing the report keeps); earlier sweeps' ones and one in `<experiment>/` (the
    "." run of older logs) are removed.

    Args:
        tb_experiment_dir: `<tensorboard_root>/<experiment>`.
        sweep: the sweep's parent run name (`sweep_report_dir` makes its folder).
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
    summary = hp.hparams_config_pb(hparams=hparams, metrics=_hparams_metrics(metric))
    # `hp.HParam` has no `differs`; the proto has, and the plugin orders columns by it.
    content = summary.value[0].metadata.plugin_data
    plugin_data = plugin_data_pb2.HParamsPluginData.FromString(content.content)
    for info in plugin_data.experiment.hparam_infos:
        info.differs = info.name in varying
    content.content = plugin_data.SerializeToString()

    root = pathlib.Path(tb_experiment_dir)
    for old in (*root.glob(EVENT_FILES), *root.glob(f"{REPORT_DIR}/*/{EVENT_FILES}{HPARAMS_FILE}")):
        old.unlink()
    folder = sweep_report_dir(root, sweep)
    folder.mkdir(parents=True, exist_ok=True)
    with full_disk_as_oserror(folder):
        writer = tf.summary.create_file_writer(str(folder), filename_suffix=HPARAMS_FILE)
        with writer.as_default():
            tf.summary.experimental.write_raw_pb(summary.SerializeToString(), step=0)
        writer.close()


def clear_report_dir(report_dir):
    """Prepares a report's folder to be drawn (again): removes the report's own logs (its
    events, its curves' runs) and keeps the HParams definition that may share it.

    Logs written before the definition moved there have it in `<experiment>/`, shown as a
    run named "."; it moves into this folder (or goes, when this one has its own).
    """
    report_dir = pathlib.Path(report_dir)
    for path in report_dir.glob("*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.match(EVENT_FILES) and not path.name.endswith(HPARAMS_FILE):
            path.unlink()
    report_dir.mkdir(parents=True, exist_ok=True)
    has_definition = any(report_dir.glob(EVENT_FILES + HPARAMS_FILE))
    for old in report_dir.parent.parent.glob(EVENT_FILES):
        if has_definition:
            old.unlink()
        else:
            old.rename(report_dir / (old.name + HPARAMS_FILE))


def final_value_tag(name, metric):
    """A grid point's final value as a TensorBoard scalar (written at step = its length).

    The task's test metric (`test_<metric>`) is `breakdown/test_<metric>` and `solved` (0
    or 1) the run's `breakdown/solved_fraction`: the cards of the report's curves, which
    then overlay every seed's own result. The rest (the other test metrics too) is
    `outcome/<name>`, a group of cards after them.
    """
    if name == schema.SOLVED:
        return schema.BREAKDOWN_TAG_PREFIX + schema.SOLVED_FRACTION
    if name == schema.test_metric_name(metric):
        return schema.BREAKDOWN_TAG_PREFIX + name
    return schema.OUTCOME_TAG_PREFIX + name


def hparams_final_values(metric):
    """The final values the HParams table shows, in its column order."""
    return (
        schema.test_metric_name(metric),
        schema.SOLVED,
        schema.DIVERGED,
        schema.TRAIN_TIME_S,
        schema.UPDATES_TO_SOLVE,
        schema.SOLVE_CENSORED,
    )


def _hparams_metrics(metric):
    """The HParams table's metric columns: the test metric first, then the rest."""
    from tensorboard.plugins.hparams import api as hp

    shown = {
        schema.test_metric_name(metric): f"test {metric}",
        schema.SOLVED: "solved",
        schema.DIVERGED: "diverged",
        schema.TRAIN_TIME_S: "train time (s)",
        schema.UPDATES_TO_SOLVE: "updates to solve",
        schema.SOLVE_CENSORED: "not solved within budget",
    }
    return [
        *(hp.Metric(final_value_tag(name, metric), display_name=shown[name]) for name in shown),
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


def write_run_hparams(tb_dir, run_name, hparams, final_metrics, *, metric, length):
    """Writes one run's hyperparameters and final values into its TensorBoard dir.

    Values go through `tensorboard_hparam_value`, as the dashboard's domains do. The final
    values the HParams table shows (`hparams_final_values`) are the scalars
    `final_value_tag(name, metric)` at step = the run's length; non-finite ones are left out.
    """
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    values = {k: tensorboard_hparam_value(v) for k, v in hparams.items()}
    with full_disk_as_oserror(tb_dir):
        writer = tf.summary.create_file_writer(str(tb_dir))
        with writer.as_default():
            hp.hparams(values, trial_id=run_name)
            for name in hparams_final_values(metric):
                value = final_metrics.get(name)
                if value is not None and math.isfinite(float(value)):
                    tf.summary.scalar(final_value_tag(name, metric), float(value), step=int(length))
        writer.close()
