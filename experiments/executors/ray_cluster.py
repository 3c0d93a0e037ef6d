"""The Ray executor: every grid point of a sweep is one Ray task.

`python -m experiments run NAME --executor ray [--address ADDRESS]` fans the grid out
over Ray; the driver (`experiments.sweep`) keeps every rule it has with the local
executor (runs, FAILED / KILLED, resume). The README's "Sweeps on Ray" section is the
user's guide; what this module adds:

- Without `--address` a local Ray instance starts (`--workers N` x `resources.num_cpus`
  CPUs, or all of this machine's) and stops at the end; `auto`, `HOST:6379` or
  `ray://HOST:10001` join a cluster.
- Each task asks Ray for the config's `resources`; TensorFlow uses `num_cpus` threads.
  As many grid points are in flight as the cluster fits (re-read every few seconds, so
  nodes that join are used); `--workers N` (N > 1) caps it.
- Tracking: workers log to the URI the driver resolved (it travels in each job, with
  the outage window of `mlflow.yaml`: a worker rides out a server's restart as a local
  worker process does, `tracking.outage`). A cluster needs a tracking server every
  node reaches: a local file store with `--address`, or a loopback server once the
  cluster has other machines, is refused before any run exists.
- TensorBoard: on a local instance workers write into `tensorboard_root`; on a cluster
  each task sends its logs back with its result (`VRL_RAY_TENSORBOARD=direct` makes
  workers write a shared mount themselves).
- Failures: a task whose worker or node dies is not retried by Ray (`max_retries=0`):
  the driver marks it FAILED and running the same command again retries it.
- Environment variables starting with `VRL_`, `TF_`, `MLFLOW_` (not
  `MLFLOW_TRACKING_URI`, which the job carries) and `KERAS_BACKEND` are forwarded to
  every task, as a local worker process inherits them.
"""

import concurrent.futures
import dataclasses
import io
import os
import pathlib
import shutil
import sys
import tarfile
import tempfile
import threading
import time

import ray

from experiments import schema, tracking
from experiments.errors import InputError, one_line
from experiments.executors.base import Executor
from experiments.executors.ray_checks import (
    check_reachable,
    check_tracking_for_cluster,
    is_local_store,
    is_loopback_uri,
    preflight,
    tensorboard_mode,
    wants_cluster,
)
from experiments.training import run_job

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
FORWARDED_ENV_PREFIXES = ("VRL_", "TF_", "MLFLOW_")
FORWARDED_ENV_NAMES = ("KERAS_BACKEND",)
NOT_FORWARDED_ENV = ("MLFLOW_TRACKING_URI",)  # the job carries the driver's resolved URI
# What Ray must not upload with the repository to a cluster (on top of .gitignore).
WORKING_DIR_EXCLUDES = [
    ".venv",
    ".git",
    ".pytest_cache",
    "mlruns",
    "mlartifacts",
    "mlflow.db",
    "mlflow.db-*",
    "tb_logs",
    "artifacts",
    "runs",
    "notebooks",
    "benchmarks/out",
    "tutorials/out",
    "**/__pycache__",
]
CAPACITY_REFRESH_S = 5.0  # how often max_in_flight re-reads the cluster's resources


def _forwarded_env():
    names = [
        name
        for name in os.environ
        if (name.startswith(FORWARDED_ENV_PREFIXES) or name in FORWARDED_ENV_NAMES)
        and name not in NOT_FORWARDED_ENV
    ]
    return {name: os.environ[name] for name in sorted(names)}


# ----------------------------------------------------------- the Ray task
def _pack_dir(folder):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(folder, arcname=".")
    return buffer.getvalue()


def _unpack_dir(data, folder):
    tracking.reset_dir(folder)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        archive.extractall(folder, filter="data")  # no absolute paths or links out of `folder`


def _tag_placement(job):
    # Where the grid points ran: the node to look at when one misbehaves.
    context = ray.get_runtime_context()
    client = tracking.configure_mlflow(job.tracking_uri, job.outage_window_s)
    for point_run in job.points:
        logger = tracking.RunLogger(client, point_run.run_id)
        logger.set_tags(
            {
                schema.EXECUTOR: "ray",
                schema.RAY_NODE_IP: ray.util.get_node_ip_address(),
                schema.RAY_TASK_ID: context.get_task_id(),
                schema.RAY_WORKER_PID: os.getpid(),
            }
        )
        logger.drain()  # through a server's outage too, as `run_job` logs


def _train_on_worker(job, sync_tensorboard):
    """The body of one Ray task: `training.run_job`, TensorBoard logs optionally sent back.

    Args:
        job: a `training.TrainingJob` (its runs already created by the driver).
        sync_tensorboard: write TensorBoard logs into a temporary folder on
            this node and return them instead of writing to the points' `tb_dir`.

    Returns:
        `(outcomes, archives)`: `run_job`'s outcomes, and per point its TensorBoard
        folder as gzipped tar bytes (None unless `sync_tensorboard`).
    """
    _tag_placement(job)
    if not sync_tensorboard:
        return run_job(job), [None] * len(job.points)
    scratch = tempfile.mkdtemp(prefix="vrl-tb-")
    try:
        points = [
            dataclasses.replace(p, tb_dir=p.tb_dir and os.path.join(scratch, p.point.name))
            for p in job.points
        ]
        outcomes = run_job(dataclasses.replace(job, points=points))
        archives = [
            _pack_dir(p.tb_dir) if p.tb_dir and os.path.isdir(p.tb_dir) else None for p in points
        ]
        return outcomes, archives
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _store_tensorboard(archive, point_run):
    """A point's TensorBoard logs, sent back from its node, into its folder here."""
    try:
        _unpack_dir(archive, point_run.tb_dir)
    except Exception as error:  # the run is logged: only its TensorBoard copy is lost
        print(
            f"Ray: could not write {point_run.point.name}'s TensorBoard logs to "
            f"{point_run.tb_dir}: {error}",
            file=sys.stderr,
        )


# max_retries=0: a worker or node that dies fails its grid point, as with the local
# executor; running the command again retries it (Ray retrying would rerun into the
# same MLflow run and log its epochs twice).
_train_task = ray.remote(max_retries=0)(_train_on_worker)


# --------------------------------------------------------------- executor
def _task_environment(backend, num_cpus):
    """The variables every task sets before Keras loads: the driver's `VRL_`, `TF_`,
    `MLFLOW_` variables, the backend, and TensorFlow threads = the CPUs Ray reserved for
    the task (Ray sets OMP_NUM_THREADS itself)."""
    env = _forwarded_env()
    env.update(
        KERAS_BACKEND=backend,
        TF_NUM_INTRAOP_THREADS=str(max(1, int(num_cpus))),
        TF_NUM_INTEROP_THREADS="1",
        TF_FORCE_GPU_ALLOW_GROWTH="true",  # fractional GPUs: several tasks share a card
        XLA_PYTHON_CLIENT_PREALLOCATE="false",  # JAX: the same
    )
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Each finished run would print two "View run ... at: URL" lines into the driver's output.
    env.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    return env


class RayExecutor(Executor):
    """Runs grid points as Ray tasks.

    Args:
        workers: `--workers`: with N > 1, at most N grid points at once (and a local
            instance gets N x `resources.num_cpus` CPUs); 1 means as many as the
            cluster fits.
        config: the `ExperimentConfig`; its `resources` are each task's request.
        tracking: the driver's `tracking.TrackingConfig`.
        address: `auto`, `HOST:6379`, `ray://HOST:10001`, or None for a local instance.
        out: where notices go.

    Raises:
        ValueError: a tracking store the cluster cannot reach, resources no local node
            has, or a cluster that does not answer.
    """

    @classmethod
    def preflight(cls, *, workers, config, tracking, address):
        preflight(workers=workers, config=config, tracking=tracking, address=address)

    def __init__(self, *, workers=1, config=None, tracking=None, address=None, out=print):
        resources = dict(config.settings.resources) if config is not None else {}
        backend = config.settings.backend if config is not None else "tensorflow"
        self._num_cpus = resources.get("num_cpus", 1)
        self._num_gpus = resources.get("num_gpus", 0)
        self._max_workers = workers if workers and workers > 1 else None
        self._sync_tensorboard = tensorboard_mode(address) == "sync"
        self._out = out
        self._refs = {}  # ObjectRef -> run name, while in flight
        self._lock = threading.Lock()
        self._capacity = None
        self._capacity_read_at = 0.0
        self._owns_ray = False
        env = _task_environment(backend, self._num_cpus)
        self._connect(address)
        if not wants_cluster(address):
            # Workers on this machine import the repository from its folder, whatever their cwd.
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
            )
        self._task_options = {
            "num_cpus": self._num_cpus,
            "num_gpus": self._num_gpus,
            "runtime_env": {"env_vars": env},
        }
        try:
            self._check_cluster(tracking.tracking_uri if tracking is not None else "", address)
        except BaseException:
            self.shutdown()
            raise

    def _connect(self, address):
        """Joins the Ray connection this process has, the cluster at `address`, or starts a
        local instance (as many CPUs as the machine, or as `--workers` tasks need)."""
        if ray.is_initialized():
            self._out("Ray: using the Ray connection this process already has.")
            return
        if wants_cluster(address):
            check_reachable(address)
            # Ray uploads the repository once per job; every node imports it from there.
            try:
                ray.init(
                    address=address,
                    runtime_env={"working_dir": str(REPO_ROOT), "excludes": WORKING_DIR_EXCLUDES},
                    log_to_driver=True,
                )
            except (ConnectionError, ray.exceptions.RayError) as error:
                raise InputError(
                    f"--address {address}: cannot connect to the Ray cluster ({one_line(error)}). "
                    "Check the address (`ray status` on the head node prints it), that this "
                    "machine reaches it, and, with token authentication, that RAY_AUTH_MODE=token "
                    "and the cluster's ~/.ray/auth_token are set here."
                ) from None
        else:
            if self._max_workers:
                num_cpus = self._max_workers * self._num_cpus
            else:
                num_cpus = max(os.cpu_count() or 1, self._num_cpus)
            ray.init(
                address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=True
            )
        self._owns_ray = True

    # What the cluster can run at once.
    def _read_capacity(self):
        resources = ray.cluster_resources()
        fits = [int(resources.get("CPU", 0) // self._num_cpus)] if self._num_cpus else []
        if self._num_gpus:
            fits.append(int(resources.get("GPU", 0) // self._num_gpus))
        return min(fits) if fits else 1

    @property
    def max_in_flight(self):
        now = time.monotonic()
        if self._capacity is None or now - self._capacity_read_at > CAPACITY_REFRESH_S:
            self._capacity = self._read_capacity()
            self._capacity_read_at = now
        capacity = max(1, self._capacity)  # an empty (autoscaling) cluster: one waits for a node
        return min(capacity, self._max_workers) if self._max_workers else capacity

    def _check_cluster(self, tracking_uri, address):
        nodes = [node for node in ray.nodes() if node.get("Alive")]
        hosts = sorted({node["NodeManagerAddress"] for node in nodes})
        here = ray.util.get_node_ip_address()
        remote_hosts = [host for host in hosts if host != here]
        capacity = self._read_capacity()
        if remote_hosts and is_local_store(tracking_uri):
            check_tracking_for_cluster(tracking_uri, address or "<the running cluster>")
        if remote_hosts and is_loopback_uri(tracking_uri):
            raise InputError(
                f"The Ray cluster has nodes on other machines ({', '.join(remote_hosts)}), but "
                f"the tracking server {tracking_uri} is a loopback address they cannot reach. "
                'Start the server bound to an address they reach (`make mlflow-server ARGS="--host '
                "0.0.0.0\"`) and set MLFLOW_TRACKING_URI=http://<this host's name or IP>:<port>."
            )
        request = f"{self._num_cpus} CPU" + (f", {self._num_gpus:g} GPU" if self._num_gpus else "")
        if capacity < 1:
            resources = ray.cluster_resources()
            have = f"{resources.get('CPU', 0):g} CPU, {resources.get('GPU', 0):g} GPU"
            if not wants_cluster(address):
                raise InputError(
                    f"Each grid point asks for {request} (config `resources`), but the local Ray "
                    f"instance has {have}. Lower `resources` (e.g. --set resources.num_gpus=0) or "
                    "give --address of a cluster."
                )
            self._out(
                f"Ray: no node fits a grid point ({request}; the cluster has {have}): tasks wait "
                "for a node to join (an autoscaler) or run forever. Ctrl-C stops the sweep."
            )
        tensorboard = (
            "sent back to the driver" if self._sync_tensorboard else "written by the workers"
        )
        self._out(
            f"Ray: {len(hosts)} node(s), {capacity} grid point(s) at once ({request} each); "
            f"TensorBoard logs {tensorboard}."
        )

    def submit(self, job):
        """Starts `training.run_job(job)` as a Ray task.

        Returns:
            A `concurrent.futures.Future` of `run_job`'s outcomes; it raises when the
            task could not run (its worker or node died, it was cancelled).
        """
        ref = _train_task.options(**self._task_options).remote(job, self._sync_tensorboard)
        with self._lock:
            self._refs[ref] = job.label
        result = concurrent.futures.Future()

        def relay(ray_future):
            with self._lock:
                self._refs.pop(ref, None)
            try:
                outcomes, archives = ray_future.result()
            except BaseException as error:  # noqa: BLE001 - handed to the driver
                result.set_exception(error)
                return
            for point_run, archive in zip(job.points, archives):
                if archive is not None and point_run.tb_dir:
                    _store_tensorboard(archive, point_run)
            result.set_result(outcomes)

        ref.future().add_done_callback(relay)
        return result

    def _cancel_in_flight(self):
        with self._lock:
            refs = list(self._refs)
            self._refs.clear()
        for ref in refs:
            try:
                ray.cancel(ref, force=True)  # kills the task's worker process
            except Exception as error:  # keep cancelling the others
                print(f"Ray: could not cancel a task: {error}", file=sys.stderr)

    def interrupt(self):
        """Stops the grid points in flight now (the driver marks their runs KILLED)."""
        self._cancel_in_flight()

    def shutdown(self):
        """Cancels what is still in flight; shuts Ray down if this executor started it."""
        if ray.is_initialized():
            self._cancel_in_flight()
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False
