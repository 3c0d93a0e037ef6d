"""Register a sweep's best model in the MLflow Model Registry.

"Best" in a breakdown experiment is the model that remembers furthest: among the
sweep's solved grid points, the one with the longest dependency length, then the best
test metric (`SweepInfo.higher_is_better`). `--grid-point` names one instead.
"""

from experiments import schema, tracking
from experiments.errors import InputError


def best_grid_point(children, info):
    """The solved child run of the longest length (best test metric on ties), or None."""
    metric = schema.test_metric_name(info.metric)
    solved = [
        run
        for run in children
        if run.info.status == schema.STATUS_FINISHED
        and run.data.metrics.get(schema.SOLVED) == 1
        and run.data.metrics.get(schema.DIVERGED, 0) == 0
        and metric in run.data.metrics
    ]
    if not solved:
        return None
    sign = 1 if info.higher_is_better else -1
    return max(
        solved, key=lambda r: (int(r.data.params[schema.LENGTH]), sign * r.data.metrics[metric])
    )


def register_sweep_model(client, parent_run_id, *, grid_point=None, model_name=None):
    """Registers a grid point's logged model; returns `(model version, child run)`.

    Raises:
        ValueError: no such grid point, or (without `grid_point`) nothing solved.
    """
    import mlflow

    parent = client.get_run(parent_run_id)
    info = schema.SweepInfo.from_run(parent)
    children = tracking.child_runs(client, parent.info.experiment_id, parent_run_id)
    if grid_point is None:
        child = best_grid_point(children, info)
        if child is None:
            raise InputError(
                f"No grid point of sweep {parent.info.run_name} was solved: name one with "
                "--grid-point (e.g. vanilla-L10-s0)."
            )
    else:
        matches = [
            run
            for run in children
            if run.data.tags.get(schema.GRID_POINT) == grid_point
            and run.info.status == schema.STATUS_FINISHED
            and run.outputs.model_outputs
        ]
        if not matches:
            names = sorted({r.data.tags.get(schema.GRID_POINT, "?") for r in children})
            shown = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
            raise InputError(
                f"Sweep {parent.info.run_name} has no finished run {grid_point!r} with a "
                f"model; its grid points: {shown}"
            )
        child = matches[0]
    name = model_name or f"{info.experiment}-{child.data.tags[schema.KIND]}"
    # The run's Logged model (MLflow 3 stores it apart from the run's artifacts: a
    # `runs:/` address would work too, after a warning that the run has no such artifact).
    outputs = child.outputs.model_outputs if child.outputs else []
    if outputs:
        source = f"models:/{outputs[0].model_id}"
    else:  # a run logged before logged models were named for their grid point
        source = f"runs:/{child.info.run_id}/{schema.LEGACY_MODEL_ARTIFACT}"
    version = mlflow.register_model(
        source,
        name,
        tags={schema.GRID_POINT: child.data.tags.get(schema.GRID_POINT, "")},
    )
    return version, child


def load_snippet(tracking_uri, version):
    """Python that loads a registered model version from any folder: its store spelled out.

    Without `set_tracking_uri`, MLflow would look in (and create) `./mlflow.db` of the
    folder it runs in, and find no such model.
    """
    return (
        "    import mlflow\n"
        f"    mlflow.set_tracking_uri({tracking_uri!r})\n"
        f"    model = mlflow.pyfunc.load_model('models:/{version.name}/{version.version}')"
    )
