"""A sweep's runs in MLflow: the parent, the children, and which grid points are done.

The driver (`sweep.driver`) calls these; the names they write are those of
`experiments.schema`.

- A sweep is identified by its config hash (profile and `--set` included): running the
  same command again finds the newest parent with that hash.
- A grid point with a FINISHED child of the same `config_hash` under that parent is
  done; its other children are earlier attempts (FAILED, KILLED, left RUNNING by a
  killed driver). A new attempt soft-deletes them when it starts
  (`MlflowClient.restore_run` brings one back; `mlflow gc` removes them for good), so
  each grid point has one visible child run and at most one FINISHED; the new attempt's
  `attempt` tag counts the tries and `previous_attempts` names the deleted run ids.
"""

import collections

from experiments import schema, tracking


def flat_params(values):
    """The sweep's resolved config as flat MLflow params (`grid.<axis>`, `resources.<key>`)."""
    params = {}
    for key, value in values.items():
        if key in ("grid", "resources"):
            for sub, sub_value in value.items():
                params[f"{key}.{sub}"] = sub_value
        else:
            params[key] = value
    return params


def sweep_info(config, task):
    """The `schema.SweepInfo` of a config (the task gives its metric and levels)."""
    return schema.SweepInfo(
        task=config.settings.task,
        metric=task.metric,
        higher_is_better=bool(task.higher_is_better),
        chance=task.chance,
        solved_threshold=task.solved_threshold,
        report=config.settings.report,
        experiment=config.name,
        profile=config.profile,
        config_hash=config.config_hash,
        max_seeds=config.settings.max_seeds,
        seed_margin=config.settings.seed_margin,
    )


def create_parent(client, experiment_id, config, task, points):
    """Creates the sweep's parent run (RUNNING); returns `(run_id, run_name)`."""
    tags = {
        **tracking.source_tags(),
        **sweep_info(config, task).to_tags(),
        schema.SWEEP_OVERRIDES: tracking.param_value(list(config.overrides)),
        schema.SWEEP_GRID_SIZE: str(len(points)),
        schema.NOTE: config.settings.description,
    }
    name = f"{config.name}-{config.profile}-{config.config_hash[:6]}"
    parent = client.create_run(experiment_id, run_name=name, tags=tags)
    parent_id = parent.info.run_id
    logger = tracking.RunLogger(client, parent_id)
    # The driver's own libraries, and the backend its workers train on.
    logger.set_tags({**tracking.system_tags(), schema.KERAS_BACKEND: config.settings.backend})
    logger.log_params(
        {
            **flat_params(config.values),
            schema.CHANCE: task.chance,
            schema.SOLVED_THRESHOLD: task.solved_threshold,
        }
    )
    logger.log_artifact(config.path, schema.CONFIG_ARTIFACT_DIR)
    logger.log_text(config.to_yaml(), schema.RESOLVED_CONFIG)
    logger.drain()  # through a server's outage: written before the sweep goes on
    return parent_id, name


def existing_children(client, experiment_id, parent_id, points):
    """Splits the parent's children into done and earlier attempts.

    Returns:
        `(finished, earlier)`: run name -> its FINISHED child of the same config hash;
        run name -> the list of its other children.
    """
    by_name = {p.name: p for p in points}
    finished = {}
    earlier = collections.defaultdict(list)
    for run in tracking.child_runs(client, experiment_id, parent_id):
        name = run.data.tags.get(schema.GRID_POINT)
        point = by_name.get(name)
        same = point is not None and run.data.tags.get(schema.CONFIG_HASH) == point.config_hash
        if same and run.info.status == schema.STATUS_FINISHED and name not in finished:
            finished[name] = run
        else:
            earlier[name].append(run)
    # A FINISHED duplicate can only come from concurrent sweeps: keep the first, hide the rest.
    for name in finished:
        for run in earlier.pop(name, []):
            tracking.end_run(client, run.info.run_id, schema.STATUS_KILLED)
            client.delete_run(run.info.run_id)
    # This driver holds the sweep: a child still RUNNING was left so by one that stopped
    # without marking it (its store went away; SIGKILL): FAILED now, whatever comes next.
    for attempts in earlier.values():
        for run in attempts:
            if run.info.status in schema.ACTIVE_STATUSES:
                client.set_terminated(run.info.run_id, schema.STATUS_FAILED)
    return finished, earlier


def retire_orphans(client, experiment_id, parent_id):
    """At a sweep's end: a child still RUNNING is one the driver lost track of (a run
    created twice by a request retried through a server's outage): FAILED and hidden."""
    for run in tracking.child_runs(client, experiment_id, parent_id):
        if run.info.status in schema.ACTIVE_STATUSES:
            client.set_terminated(run.info.run_id, schema.STATUS_FAILED)
            client.delete_run(run.info.run_id)


def create_child(client, config, experiment_id, parent_id, point, earlier_runs, extra_seed=False):
    """Creates the child run of one grid point (RUNNING); soft-deletes its earlier attempts.
    `extra_seed`: the point is a seed added to a cell whose verdict was open (a tag)."""
    attempts = [run.info.run_id for run in earlier_runs]
    tags = {
        **tracking.source_tags(),
        schema.PARENT_RUN_ID: parent_id,
        schema.GRID_POINT: point.name,
        schema.CONFIG_HASH: point.config_hash,
        schema.TASK: point.task,
        schema.KIND: point.kind,
        **{axis: tracking.param_value(value) for axis, value in point.axes.items()},
        schema.ATTEMPT: str(len(attempts) + 1),
    }
    if attempts:
        tags[schema.PREVIOUS_ATTEMPTS] = ",".join(attempts)
    if extra_seed:
        tags[schema.EXTRA_SEED] = "1"
    run = client.create_run(experiment_id, run_name=point.name, tags=tags)
    run_id = run.info.run_id
    logger = tracking.RunLogger(client, run_id)
    logger.log_params(point.params())
    logger.log_text(config.to_yaml(), schema.RESOLVED_CONFIG)
    logger.drain()  # through a server's outage: written before the point trains
    for old in earlier_runs:
        tracking.end_run(client, old.info.run_id, schema.STATUS_KILLED)
        client.delete_run(old.info.run_id)
    return run_id


def mark_not_run(client, run_id, point, reason):
    """Ends a just-created child run as a grid point the sweep decided not to train.

    FINISHED with no metrics, the tag `not_run` (the reason) and a one-line description,
    so the MLflow UI, the report and a resumed sweep all see it as decided, never as
    solved or as failed.
    """
    note = f"{point.label()}: not run ({reason}; skip_decided_lengths)."
    tracking.RunLogger(client, run_id).set_tags({schema.NOT_RUN: reason, schema.NOTE: note})
    tracking.end_run(client, run_id, schema.STATUS_FINISHED)


def end_runs(client, in_flight, status=schema.STATUS_KILLED):
    """Ends the runs in flight (run id -> (point, start time)) with `status`; empties it.

    Returns:
        `(names, unmarked)`: the run names, in order, and those the store would not end
        (it failed): they stay RUNNING until the next run of the sweep replaces them.
    """
    names, unmarked = [], []
    for run_id, (point, _) in list(in_flight.items()):
        try:
            tracking.end_run(client, run_id, status)
        except Exception:  # keep marking the others; the caller reports the store failure
            unmarked.append(point.name)
        names.append(point.name)
    in_flight.clear()
    return names, unmarked
