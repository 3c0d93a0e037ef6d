"""A named experiment's sweep the old way and the new way, side by side, in one invocation.

    python -m benchmarks.sweep_bench [--experiment long_dependency] [--profile quick]
                                     [--workers 2] [--backend tensorflow] [--set KEY=VALUE]

`make bench-sweep` runs it. Each way is the command a user types (`python -m experiments
run ...`, a fresh process, its own throwaway tracking store), timed from start to end:

- old: Keras's `fit` per grid point (`training_loop=keras_fit`, `group_seeds=false`), the
  loop the lab had before the compiled one (with today's batched MLflow writes);
- new: the defaults (the compiled loop, the seeds of a cell as one job).

Then it reads the runs back and prints, per way: the wall time; the updates trained; the
all-in cost of an update (every second the workers spent on the jobs, divided by the
updates trained); and for the new way the compiled loop's own cost of an update, measured
in the same runs (`compiled_update_ms`: the epochs after the first, the program alone).
The ratios: old wall / new wall, and all in / compiled.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

WAYS = {
    "old": ["training_loop=keras_fit", "group_seeds=false"],
    "new": [],
}


def run_way(name, args, folder):
    """Runs the sweep the way `name` says, in its own store; returns its wall seconds."""
    config = os.path.join(folder, "mlflow.yaml")
    with open(config, "w") as file:
        file.write('experiment_prefix: ""\n')
    overrides = [item for value in (*WAYS[name], *args.overrides) for item in ("--set", value)]
    command = [sys.executable, "-m", "experiments", "run", args.experiment]
    command += ["--profile", args.profile, "--workers", str(args.workers)]
    command += ["--backend", args.backend, *overrides]
    env = {**os.environ, "VRL_MLFLOW_CONFIG": config, "TF_CPP_MIN_LOG_LEVEL": "2"}
    began = time.perf_counter()
    process = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if process.returncode != 0:
        raise SystemExit(
            f"the {name} way failed:\n{process.stdout[-3000:]}{process.stderr[-3000:]}"
        )
    return seconds


def measure_store(folder, experiment):
    """`{updates, worker_s, compiled_ms, horizons}` of the newest sweep in a store."""
    import mlflow

    from experiments import schema, tracking

    settings = tracking.load_tracking_config(os.path.join(folder, "mlflow.yaml"), environ={})
    client = mlflow.MlflowClient(settings.tracking_uri)
    experiment_id = client.get_experiment_by_name(
        settings.experiment_name(experiment)
    ).experiment_id
    parent = tracking.latest_parent_run(client, experiment_id)
    runs = [
        run
        for run in tracking.child_runs(client, experiment_id, parent.info.run_id)
        if schema.EPOCHS_TRAINED in run.data.metrics
    ]
    jobs = collections.defaultdict(list)
    for run in runs:
        jobs[_job_of(run)].append(run)
    worker_s = sum(
        (max(r.info.end_time for r in group) - min(r.info.start_time for r in group)) / 1e3
        for group in jobs.values()
    )
    steps = {r.info.run_id: _param(r, "steps_per_epoch") for r in runs}
    updates = {
        r.info.run_id: r.data.metrics[schema.EPOCHS_TRAINED] * steps[r.info.run_id] for r in runs
    }
    compiled = [
        (r.data.metrics[schema.COMPILED_UPDATE_MS], updates[r.info.run_id])
        for r in runs
        if schema.COMPILED_UPDATE_MS in r.data.metrics
    ]
    compiled_ms = (
        sum(ms * n for ms, n in compiled) / sum(n for _, n in compiled) if compiled else None
    )
    horizons = {k: v for k, v in parent.data.metrics.items() if k.startswith(schema.HORIZON_PREFIX)}
    return {
        "updates": sum(updates.values()),
        "worker_s": worker_s,
        "compiled_ms": compiled_ms,
        "horizons": horizons,
    }


def _job_of(run):
    """The seeds of a cell trained as a group were one job; every other run was its own."""
    from experiments import schema

    if run.data.tags.get(schema.GROUP_SIZE, "1") == "1":
        return run.info.run_id
    return run.data.tags[schema.GRID_POINT].rsplit("-s", 1)[0]


def _param(run, name):
    return float(run.data.params[name])


def _parser():
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sweep_bench", description=__doc__)
    parser.add_argument("--experiment", default="long_dependency")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backend", default="tensorflow", choices=("tensorflow", "jax"))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--ways", default="old,new", help="which ways, in order (old,new)")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    ways = [way.strip() for way in args.ways.split(",") if way.strip()]
    unknown = [way for way in ways if way not in WAYS]
    if unknown:
        raise SystemExit(f"--ways: unknown {unknown}; known: {', '.join(WAYS)}")
    figures = {}
    for way in ways:
        with tempfile.TemporaryDirectory(prefix=f"vrl-bench-{way}-") as folder:
            wall = run_way(way, args, folder)
            figures[way] = {"wall_s": wall, **measure_store(folder, args.experiment)}
        print(describe(way, figures[way]), flush=True)
    if {"old", "new"} <= set(figures):
        print(f"new / old wall time: {figures['new']['wall_s'] / figures['old']['wall_s']:.2f}x")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"args": vars(args), "figures": figures}, file, indent=1)


def describe(way, f):
    all_in = f["worker_s"] / f["updates"] * 1e3
    text = (
        f"{way}: {f['wall_s']:.0f} s wall, {f['updates']:,.0f} updates, all in "
        f"{all_in:.2f} ms per update ({f['worker_s']:.0f} worker-seconds)"
    )
    if f["compiled_ms"]:
        text += (
            f"; the compiled loop alone {f['compiled_ms']:.2f} ms per update: all in / "
            f"compiled = {all_in / f['compiled_ms']:.2f}x"
        )
    horizons = ", ".join(f"{k[len('horizon_') :]} {v:g}" for k, v in sorted(f["horizons"].items()))
    return f"{text}\n  horizons: {horizons}"


if __name__ == "__main__":
    main()
