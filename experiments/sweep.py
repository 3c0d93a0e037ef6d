"""Run a named experiment's grid: one MLflow parent run, one child run per grid point.

The driver (this module, in the process that runs the CLI) owns every run's
lifecycle; executors only run `train.run_job` somewhere:

1. Validate the config and reach the tracking store (fast, before TensorFlow).
2. Create the MLflow database, the experiment and the parent run (never
   from workers: many processes creating a fresh SQLite store at once
   corrupt it). A sweep is identified by its config hash (the resolved
   config: profile and `--set` included): running the same command again
   reuses the newest parent with that hash; `--force` starts a new parent.
3. Plan: a grid point with a FINISHED child of the same `config_hash` under
   that parent is skipped; every other point runs.
4. For each point to run, the driver creates the child run (RUNNING, named
   e.g. `vanilla-L100-s0`, with `mlflow.parentRunId`, params and tags) and
   hands a `train.GridPointJob` to the executor; the job ends the run
   FINISHED or FAILED (with `traceback.txt`). A worker that dies is FAILED
   by the driver.
5. Earlier attempts of a point that is run again (FAILED, KILLED, or left
   RUNNING by a killed driver) are soft-deleted when the new attempt starts
   (`mlflow.delete_run`: recoverable with `MlflowClient.restore_run`, removed
   for good by `mlflow gc`). So each grid point has exactly one visible
   child run, and at most one FINISHED. The new attempt's `attempt` tag
   counts the tries and `previous_attempts` names the deleted run ids.
6. Ctrl-C / SIGTERM: the executor stops its work, the driver marks the runs
   in flight and the parent KILLED, and exits (code 130 / 143). Run the
   same command again to resume.
7. At the end, `experiments.report.write_report(parent_run_id)` draws the
   report, and the parent ends FINISHED.

These rules live in the driver, so every executor behaves the same.

Executors: an object with `max_in_flight` (int), `submit(job) ->
concurrent.futures.Future` (of `train.run_job(job)`'s result), `interrupt()`
(stop running work now) and `close()`. `EXECUTORS` maps `--executor` names
to factories `factory(workers=, config=, tracking=, address=)`; a factory
may carry `factory.preflight(workers=, config=, tracking=, address=)`, input
checks run before any MLflow run exists (Ray refuses a local SQLite store
for a remote cluster there). "local" runs in this process (`--workers 1`)
or in a pool of spawned processes, each limited to `cpu_count // workers`
TensorFlow threads; "ray" (`experiments/ray_executor.py`) runs each grid
point as a Ray task.
"""

import collections
import concurrent.futures
import contextlib
import dataclasses
import importlib
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback

from experiments import tracking
from experiments.config import ConfigError, expand_grid, load_config
from experiments.train import GridPointJob, run_job

# `--executor` name -> "module:factory". The Ray executor (issue 8) lives in its own module.
EXECUTORS = {
    "local": "experiments.sweep:make_local_executor",
    "ray": "experiments.ray_executor:make_executor",
}


class SweepInterrupted(Exception):
    """Raised by the driver after Ctrl-C / SIGTERM, once the runs are marked KILLED."""

    def __init__(self, signum, message):
        super().__init__(message)
        self.signum = signum


@dataclasses.dataclass
class SweepResult:
    """What a sweep did.

    Attributes:
        parent_run_id: the parent MLflow run.
        experiment_id: the MLflow experiment.
        finished: run names that finished in this invocation.
        failed: run names that failed in this invocation.
        skipped: run names already FINISHED before (resume).
        report: the report's terminal summary (or None).
        report_error: the report's error line when it raised (or None).
    """

    parent_run_id: str
    experiment_id: str
    finished: list
    failed: list
    skipped: list
    report: str | None = None
    report_error: str | None = None

    @property
    def ok(self):
        return not self.failed and self.report_error is None


# --------------------------------------------------------------- executors
class InlineExecutor:
    """Runs each job in this process, one at a time (`--workers 1`).

    No process start-up: the driver has imported TensorFlow already.
    """

    max_in_flight = 1

    def submit(self, job):
        future = concurrent.futures.Future()
        future.set_result(run_job(job))  # an interrupt propagates to the driver
        return future

    def interrupt(self):
        pass

    def close(self):
        pass


def _init_worker(threads):
    # Runs in each spawned worker before TensorFlow is imported there.
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")  # several workers share one GPU
    # Ctrl-C reaches the whole process group: only the driver handles it (and stops us).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import tensorflow as tf  # after the variables above; the calls below make sure

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


class ProcessExecutor:
    """A pool of `workers` spawned processes; each runs many grid points.

    Args:
        workers: number of processes (>= 2; use `InlineExecutor` for 1).
        threads: TensorFlow intra-op threads per worker.
    """

    def __init__(self, workers, threads):
        self.max_in_flight = workers
        self._workers = workers
        self._threads = threads
        self._pool = self._new_pool()

    def _new_pool(self):
        return concurrent.futures.ProcessPoolExecutor(
            self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self._threads,),
        )

    def submit(self, job):
        try:
            return self._pool.submit(run_job, job)
        except concurrent.futures.process.BrokenProcessPool:
            # A worker died (its run is marked FAILED by the driver): start a new pool.
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            return self._pool.submit(run_job, job)

    def interrupt(self):
        # ProcessPoolExecutor cannot stop running calls; terminate its processes.
        processes = list(getattr(self._pool, "_processes", {}).values())
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def close(self):
        self._pool.shutdown(wait=True)


def make_local_executor(workers=1, config=None, tracking=None, address=None):
    """The default executor: in this process for 1 worker, else a process pool."""
    if address is not None:
        raise ValueError(
            "--address is for the Ray executor; the local executor runs on this machine."
        )
    if workers == 1:
        return InlineExecutor()
    threads = max(1, (os.cpu_count() or 1) // workers)
    return ProcessExecutor(workers, threads)


def executor_factory(name):
    """The factory of an `--executor` name, or a ValueError listing the known ones."""
    if name not in EXECUTORS:
        raise ValueError(f"Unknown executor {name!r}. Known executors: {', '.join(EXECUTORS)}.")
    module_name, attribute = EXECUTORS[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            raise ValueError(
                f"The {name!r} executor is not available ({module_name} is missing)."
            ) from None
        raise ValueError(
            f"The {name!r} executor needs the package {error.name!r}; install it "
            f"(e.g. `pip install -r requirements-{name}.txt`)."
        ) from None
    return getattr(module, attribute)


# ------------------------------------------------------------ small helpers
def _print_now(line):
    print(line, flush=True)  # progress must show at once, also through a pipe (`| tee`)


def _format_seconds(seconds):
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _flat_params(values):
    """The sweep's resolved config as flat MLflow params (nested values as JSON)."""
    params = {}
    for key, value in values.items():
        if key in ("grid", "resources"):
            for sub, sub_value in value.items():
                params[f"{key}.{sub}"] = sub_value
        else:
            params[key] = value
    return params


def _point_params(point):
    params = dict(point.hparams)
    params.update({f"task_params.{k}": v for k, v in point.task_params.items()})
    return params


class _SignalsAsInterrupt:
    """Within the block, SIGTERM raises KeyboardInterrupt like Ctrl-C does."""

    def __init__(self):
        self.signum = None

    def _handler(self, signum, frame):
        if self.signum is not None:
            return  # already stopping: let the clean-up finish
        self.signum = signum
        raise KeyboardInterrupt

    def __enter__(self):
        self._previous = {}
        if threading.current_thread() is threading.main_thread():  # signal.signal needs it
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        return False


# ------------------------------------------------------------------ the sweep
def run_sweep(
    name,
    profile="quick",
    overrides=(),
    *,
    workers=1,
    executor="local",
    address=None,
    force=False,
    tracking_config=None,
    out=None,
):
    """Runs (or resumes) a named experiment's sweep.

    Args:
        name: the named experiment (`experiments/configs/<name>.yaml`).
        profile: `smoke`, `quick` or `full`.
        overrides: `--set` strings (`"lr=0.01"`).
        workers: grid points trained at the same time.
        executor: a name in `EXECUTORS`.
        address: the executor's cluster address (Ray), or None.
        force: start a new parent run and train every grid point again.
        tracking_config: a `tracking.TrackingConfig`; default from `mlflow.yaml`.
        out: a function that takes each progress line (default: print, flushed).

    Returns:
        A `SweepResult`.

    Raises:
        ConfigError, TrackingError, ValueError: bad input (before any run starts).
        SweepInterrupted: after Ctrl-C / SIGTERM (in-flight runs marked KILLED).
    """
    out = out or _print_now
    # 1. Everything that can be wrong with the input, before TensorFlow loads.
    config = load_config(name, profile, overrides)
    points = expand_grid(config)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"--workers must be an integer >= 1; got {workers!r}.")
    factory = executor_factory(executor)
    tracking_config = tracking_config or tracking.load_tracking_config()
    tracking.check_tracking_uri(tracking_config.tracking_uri)
    preflight = getattr(factory, "preflight", None)
    if preflight is not None:  # executor checks that need no cluster (e.g. Ray + a local store)
        preflight(workers=workers, config=config, tracking=tracking_config, address=address)

    import datasets  # loads Keras / TensorFlow

    try:
        first = points[0]
        probe_task = datasets.make(
            config["task"], length=first.hparams["length"], seed=0, **config["task_params"]
        )
    except ValueError as error:
        raise ConfigError(f"{config.path}: {error}") from None

    # 2. Database, experiment, parent run: created here, before any worker starts.
    client = tracking.configure_mlflow(tracking_config.tracking_uri)
    experiment_id = tracking.ensure_experiment(client, tracking_config, name)
    pool = factory(workers=workers, config=config, tracking=tracking_config, address=address)
    in_flight = {}  # run_id -> (point, start time): what an interrupt marks KILLED
    parent_id = None
    try:
        with _SignalsAsInterrupt() as signals:
            try:
                parent = (
                    None
                    if force
                    else tracking.find_parent_run(client, experiment_id, config.config_hash)
                )
                if parent is not None:
                    parent_id = parent.info.run_id
                    client.update_run(parent_id, status="RUNNING")
                    out(f"Resuming sweep {parent.info.run_name} (parent run {parent_id}).")
                else:
                    parent_id, parent_name = _create_parent(
                        client, experiment_id, config, probe_task, points
                    )
                    out(f"New sweep {parent_name} (parent run {parent_id}).")
                out(
                    f"Tracking: {tracking_config.tracking_uri}   TensorBoard: {tracking_config.tb_experiment_dir(name)}"
                )

                # 3. Plan: skip the points already FINISHED with the same config.
                finished, earlier = _existing_children(client, experiment_id, parent_id, points)
                todo = [p for p in points if p.name not in finished]
                if finished:
                    out(
                        f"Skipping {len(finished)} grid point(s) already FINISHED; {len(todo)} to run "
                        f"(--force reruns all)."
                    )
                hparam_names = list(points[0].hparams) + [
                    f"task_params.{k}" for k in points[0].task_params
                ]
                tracking.write_hparams_config(
                    tracking_config.tb_experiment_dir(name), hparam_names, probe_task.metric
                )

                # 4. Run.
                result = SweepResult(parent_id, experiment_id, [], [], sorted(finished))
                _run_points(
                    client,
                    pool,
                    config,
                    tracking_config,
                    experiment_id,
                    parent_id,
                    points,
                    todo,
                    earlier,
                    result,
                    in_flight,
                    out,
                )

                # 5. Report and close the parent.
                client.set_tag(parent_id, "sweep.n_failed", str(len(result.failed)))
                client.log_metric(
                    parent_id, "n_finished", len(result.skipped) + len(result.finished)
                )
                client.log_metric(parent_id, "n_failed", len(result.failed))
                result.report, result.report_error = _write_report(
                    client, parent_id, out, tracking_config
                )
                tracking.end_run(client, parent_id, "FINISHED")
            except KeyboardInterrupt:
                signum = signals.signum or signal.SIGINT
                pool.interrupt()
                killed = _mark_in_flight_killed(client, in_flight)
                if parent_id is not None:
                    tracking.end_run(client, parent_id, "KILLED")
                message = (
                    f"Interrupted ({signal.Signals(signum).name}): {len(killed)} run(s) in flight marked KILLED "
                    f"({', '.join(killed) or 'none'}); parent run KILLED. "
                    f"Run the same command again to resume."
                )
                out(message)
                raise SweepInterrupted(signum, message) from None
            except Exception:
                # The driver itself broke (e.g. the tracking server went away): leave nothing RUNNING.
                pool.interrupt()
                _mark_in_flight_killed(client, in_flight, status="FAILED")
                if parent_id is not None:
                    with contextlib.suppress(Exception):  # the original error matters more
                        tracking.end_run(client, parent_id, "FAILED")
                raise
    finally:
        pool.close()

    if result.failed:
        out(
            f"{len(result.failed)} grid point(s) FAILED: {', '.join(result.failed)}. "
            f"Their traceback is the run artifact traceback.txt; run the same command again to retry them."
        )
    return result


def _create_parent(client, experiment_id, config, task, points):
    tags = {
        tracking.TAG_SWEEP_HASH: config.config_hash,
        tracking.TAG_SWEEP_PROFILE: config.profile,
        "sweep.experiment": config.name,
        "sweep.overrides": tracking.param_value(list(config.overrides)),
        "sweep.grid_size": str(len(points)),
        "task": config["task"],
        "metric": task.metric,
        "higher_is_better": str(bool(task.higher_is_better)),
        "chance": str(task.chance),
        "solved_threshold": str(task.solved_threshold),
        "report": config["report"],
        "mlflow.note.content": config["description"],
    }
    name = f"{config.name}-{config.profile}-{config.config_hash[:6]}"
    parent = client.create_run(experiment_id, run_name=name, tags=tags)
    parent_id = parent.info.run_id
    logger = tracking.RunLogger(client, parent_id)
    logger.set_tags(tracking.system_tags())
    logger.log_params(
        {
            **_flat_params(config.values),
            "chance": task.chance,
            "solved_threshold": task.solved_threshold,
        }
    )
    logger.log_artifact(config.path, "config")
    logger.log_text(config.to_yaml(), "config/resolved.yaml")
    return parent_id, name


def _existing_children(client, experiment_id, parent_id, points):
    """Splits the parent's children into FINISHED-with-same-hash (by name) and earlier attempts."""
    by_name = {p.name: p for p in points}
    finished = {}
    earlier = collections.defaultdict(list)
    for run in tracking.child_runs(client, experiment_id, parent_id):
        name = run.data.tags.get(tracking.TAG_GRID_POINT)
        point = by_name.get(name)
        same = (
            point is not None and run.data.tags.get(tracking.TAG_CONFIG_HASH) == point.config_hash
        )
        if same and run.info.status == "FINISHED" and name not in finished:
            finished[name] = run
        else:
            earlier[name].append(run)
    # A FINISHED duplicate can only come from concurrent sweeps: keep the first, hide the rest.
    for name in finished:
        for run in earlier.pop(name, []):
            tracking.end_run(client, run.info.run_id, "KILLED")
            client.delete_run(run.info.run_id)
    return finished, earlier


def _create_child(client, config, experiment_id, parent_id, point, earlier_runs):
    attempts = [run.info.run_id for run in earlier_runs]
    tags = {
        tracking.TAG_PARENT: parent_id,
        tracking.TAG_GRID_POINT: point.name,
        tracking.TAG_CONFIG_HASH: point.config_hash,
        "task": config["task"],
        "kind": point.hparams["kind"],
        **{axis: tracking.param_value(value) for axis, value in point.axes.items()},
        tracking.TAG_ATTEMPT: str(len(attempts) + 1),
    }
    if attempts:
        tags["previous_attempts"] = ",".join(attempts)
    run = client.create_run(experiment_id, run_name=point.name, tags=tags)
    run_id = run.info.run_id
    logger = tracking.RunLogger(client, run_id)
    logger.log_params(_point_params(point))
    logger.log_text(config.to_yaml(), "config/resolved.yaml")
    # Earlier attempts of this point (FAILED / KILLED / left RUNNING) are soft-deleted.
    for old in earlier_runs:
        tracking.end_run(client, old.info.run_id, "KILLED")
        client.delete_run(old.info.run_id)
    return run_id


def _mark_in_flight_killed(client, in_flight, status="KILLED"):
    killed = []
    for run_id, (point, _) in list(in_flight.items()):
        try:
            tracking.end_run(client, run_id, status)
        except Exception as error:  # keep marking the others
            print(f"Could not mark {point.name} {status}: {error}", file=sys.stderr)
        killed.append(point.name)
    in_flight.clear()
    return killed


def _run_points(
    client,
    executor,
    config,
    tracking_config,
    experiment_id,
    parent_id,
    points,
    todo,
    earlier,
    result,
    in_flight,
    out,
):
    total = len(points)
    offset = total - len(todo)
    queue = collections.deque(todo)
    futures = {}
    started_at = time.monotonic()
    durations = []
    launched = 0
    verbose = 2 if executor.max_in_flight == 1 else 0

    def progress(point):
        elapsed = time.monotonic() - started_at
        remaining = len(todo) - len(durations)
        if durations:
            eta = sum(durations) / len(durations) * remaining / max(1, executor.max_in_flight)
            eta_text = f"ETA {_format_seconds(eta)}"
        else:
            eta_text = "ETA after the first run"
        return f"run {offset + launched}/{total}: {point.label()}  (elapsed {_format_seconds(elapsed)}, {eta_text})"

    def finish(run_id, outcome):
        point, began = in_flight.pop(run_id)
        durations.append(time.monotonic() - began)
        if outcome.get("status") == "FINISHED":
            result.finished.append(point.name)
            verdict = (
                "diverged"
                if outcome["diverged"]
                else ("solved" if outcome["solved"] else "not solved")
            )
            out(
                f"  {point.name}: test {outcome['metric']} {outcome['test_metric']:.4g}, {verdict}, "
                f"{outcome['train_time_s']:.1f}s training"
            )
        else:
            result.failed.append(point.name)
            out(f"  {point.name}: FAILED: {outcome.get('error', 'unknown error')}")

    while queue or futures:
        while queue and len(in_flight) < executor.max_in_flight:
            point = queue.popleft()
            launched += 1
            out(progress(point))
            run_id = _create_child(
                client, config, experiment_id, parent_id, point, earlier.get(point.name, [])
            )
            in_flight[run_id] = (point, time.monotonic())
            job = GridPointJob(
                experiment=config.name,
                tracking_uri=tracking_config.tracking_uri,
                run_id=run_id,
                run_name=point.name,
                hparams=point.hparams,
                task_params=point.task_params,
                probes=list(config["probes"]),
                tb_dir=tracking_config.tb_run_dir(config.name, point.name),
                verbose=verbose,
            )
            futures[executor.submit(job)] = run_id
        done, _ = concurrent.futures.wait(
            list(futures), return_when=concurrent.futures.FIRST_COMPLETED
        )
        for future in done:
            run_id = futures.pop(future)
            try:
                outcome = future.result()
            except Exception as error:  # the worker itself died (or the executor failed)
                text = "".join(traceback.format_exception(error))
                tracking.log_traceback(client, run_id, text)
                tracking.end_run(client, run_id, "FAILED")
                outcome = {
                    "status": "FAILED",
                    "error": f"worker failed: {type(error).__name__}: {error}",
                }
            finish(run_id, outcome)


def _write_report(client, parent_id, out, tracking_config):
    """Calls `experiments.report.write_report`; a report error does not lose the runs."""
    from experiments import report

    try:
        summary = report.write_report(parent_id, client=client, tracking_config=tracking_config)
    except Exception as error:
        text = traceback.format_exc()
        line = f"{type(error).__name__}: {error}"
        out(
            f"Report failed ({line}); the runs are logged. Redraw with `python -m experiments report`."
        )
        out(text)
        client.set_tag(parent_id, "report_error", line[:4000])
        return None, line
    return summary, None  # write_report prints the summary itself
