"""The Ray executor: every grid point of a sweep is one Ray task.

`python -m experiments run NAME --executor ray [--address ADDRESS]` (or
`make experiment NAME=... EXECUTOR=ray ARGS="--address ..."`) fans the grid out
over a Ray cluster. The driver (`experiments.sweep`) keeps every rule it has
with the local executor: it creates the parent and each child run, skips
FINISHED grid points, marks failed workers FAILED and interrupted runs
KILLED. This module only runs `experiments.train.run_job(job)` as a Ray task,
so a grid point trains exactly as it does locally.

- Without `--address` a local Ray instance is started (all of this machine's
  CPUs, or `--workers N` x `resources.num_cpus`; no dashboard) and shut
  down at the end. `--address auto` joins a cluster started on this machine
  with `ray start --head`; `--address HOST:6379` from a cluster node; and
  `--address ray://HOST:10001` (Ray Client) from a machine outside it.
- Each task asks Ray for the config's `resources: {num_cpus, num_gpus}`
  (fractions of a GPU share one card). TensorFlow in a task uses
  `num_cpus` intra-op threads, like a local worker process.
- Concurrency: as many grid points are in flight as the cluster's CPUs and
  GPUs fit (re-read every few seconds, so nodes that join are used);
  `--workers N` (N > 1) caps it. Only grid points in flight have a RUNNING
  child run.
- Tracking: workers log to the tracking URI the driver resolved, passed in
  each job (never a worker's own `mlflow.yaml` or environment). A remote
  cluster needs a tracking server every node reaches: the driver refuses,
  before any run exists, a local file store (SQLite / `file:`) with
  `--address`, and a loopback server (`http://127.0.0.1:...`) once the
  cluster turns out to have nodes on other machines.
- TensorBoard: on a local instance workers write straight into the driver's
  `tensorboard_root` (from `mlflow.yaml`). On a cluster (`--address`) each
  task writes into a temporary folder on its node and returns it with its
  result; the driver unpacks it into `<tensorboard_root>/<experiment>/<run
  name>`, so no shared file system is needed (a run's curves appear in
  TensorBoard when the run ends). `VRL_RAY_TENSORBOARD=direct` makes
  cluster workers write to `tensorboard_root` themselves: use it when that
  path is a mount every node shares, to watch runs live.
- Failures behave as locally: a grid point that raises ends FAILED by
  `run_job`; a task whose worker or node dies is not retried by Ray
  (`max_retries=0`): the driver marks it FAILED, and running the same command
  again retries it.
- The code: a local instance's workers import the repository from its
  folder; on a cluster Ray ships the repository (`runtime_env.working_dir`,
  without `.venv`, `.git` and run output). Every node needs the same Python
  packages: `pip install -r requirements.txt -r requirements-ray.txt`.

Environment variables forwarded from the driver to every task: those
starting with `VRL_`, `TF_`, `MLFLOW_` (e.g. `MLFLOW_TRACKING_TOKEN` for an
authenticated server; not `MLFLOW_TRACKING_URI`, which the job carries) and
`KERAS_BACKEND`, as a local worker process inherits them.
"""

import concurrent.futures
import dataclasses
import io
import ipaddress
import os
import pathlib
import shutil
import socket
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse

import ray

from experiments import tracking
from experiments.train import run_job

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
TENSORBOARD_MODE_ENV = "VRL_RAY_TENSORBOARD"
TENSORBOARD_MODES = ("direct", "sync")
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
TENSORBOARD_ARCHIVE_KEY = "_tensorboard_tar"


# ------------------------------------------------------------- input checks
def _is_local_store(tracking_uri):
    scheme = urllib.parse.urlparse(tracking_uri).scheme.lower()
    # "" / "file": a folder; one letter: a Windows drive; sqlite: an embedded database file.
    return scheme in ("", "file", "sqlite") or len(scheme) == 1


def _is_loopback_uri(tracking_uri):
    host = urllib.parse.urlparse(tracking_uri).hostname
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other nodes may resolve


def _wants_cluster(address):
    return address is not None and address != "local"


def check_tracking_for_cluster(tracking_uri, address):
    """Refuses a tracking store that a remote cluster's workers cannot reach.

    Called by the driver before any MLflow run exists (and again when the
    executor starts).

    Args:
        tracking_uri: the tracking URI the driver resolved (`mlflow.yaml` or
            `MLFLOW_TRACKING_URI`).
        address: the `--address` given, or None (a local Ray instance).

    Raises:
        ValueError: with `--address`, when `tracking_uri` is a local file
            store (SQLite, `file:` or a plain path).
    """
    if _wants_cluster(address) and _is_local_store(tracking_uri):
        raise ValueError(
            f"--executor ray --address {address}: the tracking store is {tracking_uri}, a file on this "
            f"machine. Ray workers on other nodes cannot log there (and SQLite must not be shared over a "
            f"network file system). Start a tracking server every node can reach, e.g. "
            f'`make mlflow-server ARGS="--host 0.0.0.0"` on this machine, and point the sweep at it: '
            f"MLFLOW_TRACKING_URI=http://<this host's name or IP>:5000. "
            f"(Without --address the sweep runs on a local Ray instance and may use the SQLite store.)"
        )


def _check_reachable(address, timeout=5.0):
    """Fails within seconds when nothing listens at `HOST:PORT` / `ray://HOST:PORT`.

    `ray.init` retries an unreachable GCS address for many minutes before it
    gives up; a mistyped `--address` should fail at once.
    """
    if not _wants_cluster(address) or address == "auto":
        return
    target = address[len("ray://") :] if address.startswith("ray://") else address
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(
            f"--address {address!r}: expected auto, HOST:PORT (the head node's GCS port, 6379 by default) "
            f"or ray://HOST:PORT (Ray Client, 10001 by default)."
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return
    except OSError as error:
        raise ValueError(
            f"--address {address}: nothing answers at {host}:{port} ({error}). Start the cluster "
            f"(`ray start --head` on the head node prints its address) or fix the address."
        ) from None


def preflight(workers=1, config=None, tracking=None, address=None):
    """The executor's input checks that need no cluster: run before any MLflow run exists.

    Args:
        workers: `--workers`.
        config: the `ExperimentConfig` (unused: its `resources` are validated on load).
        tracking: the driver's `tracking.TrackingConfig`.
        address: `--address`, or None.

    Raises:
        ValueError: see `check_tracking_for_cluster`; a malformed `--address`,
            or one where nothing answers.
    """
    del workers, config
    if tracking is not None:
        check_tracking_for_cluster(tracking.tracking_uri, address)
    _tensorboard_mode(address)  # a bad VRL_RAY_TENSORBOARD fails here too
    _check_reachable(address)


def _tensorboard_mode(address):
    mode = os.environ.get(TENSORBOARD_MODE_ENV, "").strip().lower()
    if not mode:
        return "sync" if _wants_cluster(address) else "direct"
    if mode not in TENSORBOARD_MODES:
        raise ValueError(
            f"{TENSORBOARD_MODE_ENV}={os.environ[TENSORBOARD_MODE_ENV]!r}: expected one of "
            f"{', '.join(TENSORBOARD_MODES)} (direct: workers write into tensorboard_root, which every node "
            f"must mount; sync: workers send their logs back to the driver). Unset it for the default."
        )
    return mode


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
    # Where the grid point ran: the node to look at when one misbehaves.
    context = ray.get_runtime_context()
    client = tracking.configure_mlflow(job.tracking_uri)
    tracking.RunLogger(client, job.run_id).set_tags(
        {
            "executor": "ray",
            "ray.node_ip": ray.util.get_node_ip_address(),
            "ray.task_id": context.get_task_id(),
            "ray.worker_pid": os.getpid(),
        }
    )


def _train_on_worker(job, sync_tensorboard):
    """The body of one Ray task: `train.run_job`, TensorBoard logs optionally sent back.

    Args:
        job: a `train.GridPointJob` (its run already created by the driver).
        sync_tensorboard: write TensorBoard logs into a temporary folder on
            this node and return them (as a gzipped tar under
            `TENSORBOARD_ARCHIVE_KEY`) instead of writing to `job.tb_dir`.

    Returns:
        `run_job`'s result dict.
    """
    _tag_placement(job)
    if not (sync_tensorboard and job.tb_dir):
        return run_job(job)
    scratch = tempfile.mkdtemp(prefix="vrl-tb-")
    try:
        local_dir = os.path.join(scratch, job.run_name)
        outcome = run_job(dataclasses.replace(job, tb_dir=local_dir))
        if os.path.isdir(local_dir):
            outcome[TENSORBOARD_ARCHIVE_KEY] = _pack_dir(local_dir)
        return outcome
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# max_retries=0: a worker or node that dies fails its grid point, as with the local
# executor; running the command again retries it (Ray retrying would rerun into the
# same MLflow run and log its epochs twice).
_train_task = ray.remote(max_retries=0)(_train_on_worker)


# --------------------------------------------------------------- executor
class RayExecutor:
    """Runs grid points as Ray tasks (the sweep's executor interface).

    Use `make_executor` (the `--executor ray` factory) rather than this class.

    Args:
        num_cpus: CPUs each grid point asks Ray for (`resources.num_cpus`).
        num_gpus: GPUs (or a fraction) each grid point asks for (`resources.num_gpus`).
        max_workers: cap on grid points in flight, or None (what the cluster fits).
        address: the Ray address to connect to, or None for a local instance.
        local_num_cpus: CPUs of a local instance (ignored with `address`).
        tracking_uri: the driver's tracking URI (checked against the cluster).
        tensorboard_mode: "direct" or "sync" (see the module docstring).
        out: where notices go.

    Attributes:
        max_in_flight: grid points the driver keeps submitted at once.
    """

    def __init__(
        self,
        *,
        num_cpus=1,
        num_gpus=0,
        max_workers=None,
        address=None,
        local_num_cpus=2,
        tracking_uri="",
        tensorboard_mode="direct",
        out=print,
    ):
        self._num_cpus = num_cpus
        self._num_gpus = num_gpus
        self._max_workers = max_workers
        self._sync_tensorboard = tensorboard_mode == "sync"
        self._out = out
        self._refs = {}  # ObjectRef -> run name, while in flight
        self._lock = threading.Lock()
        self._capacity = None
        self._capacity_read_at = 0.0
        self._owns_ray = False

        env = _forwarded_env()
        # TensorFlow threads per task = the CPUs Ray reserved for it (Ray sets OMP_NUM_THREADS itself).
        env.update(
            TF_NUM_INTRAOP_THREADS=str(max(1, int(num_cpus))),
            TF_NUM_INTEROP_THREADS="1",
            TF_FORCE_GPU_ALLOW_GROWTH="true",  # fractional GPUs: several tasks share a card
        )
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        # Each finished run would print two "View run ... at: URL" lines into the driver's output.
        env.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        if ray.is_initialized():
            self._out("Ray: using the Ray connection this process already has.")
        elif _wants_cluster(address):
            _check_reachable(address)
            # Ray uploads the repository once per job; every node imports it from there.
            try:
                ray.init(
                    address=address,
                    runtime_env={"working_dir": str(REPO_ROOT), "excludes": WORKING_DIR_EXCLUDES},
                    log_to_driver=True,
                )
            except (ConnectionError, ray.exceptions.RayError) as error:
                first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
                raise ValueError(
                    f"--address {address}: cannot connect to the Ray cluster ({first_line}). Check the address "
                    f"(`ray status` on the head node prints it), that this machine reaches it, and, with token "
                    f"authentication, that RAY_AUTH_MODE=token and the cluster's ~/.ray/auth_token are set here."
                ) from None
            self._owns_ray = True
        else:
            ray.init(
                address="local",
                num_cpus=local_num_cpus,
                include_dashboard=False,
                log_to_driver=True,
            )
            self._owns_ray = True
        if not _wants_cluster(address):
            # Workers on this machine import the repository from its folder, whatever their cwd.
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
            )
        self._task_options = {
            "num_cpus": num_cpus,
            "num_gpus": num_gpus,
            "runtime_env": {"env_vars": env},
        }
        try:
            self._check_cluster(tracking_uri, address)
        except BaseException:
            self.close()
            raise

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
        if remote_hosts and _is_local_store(tracking_uri):
            check_tracking_for_cluster(tracking_uri, address or "<the running cluster>")
        if remote_hosts and _is_loopback_uri(tracking_uri):
            raise ValueError(
                f"The Ray cluster has nodes on other machines ({', '.join(remote_hosts)}), but the tracking "
                f"server {tracking_uri} is a loopback address they cannot reach. Start the server bound to an "
                f'address they reach (`make mlflow-server ARGS="--host 0.0.0.0"`) and set '
                f"MLFLOW_TRACKING_URI=http://<this host's name or IP>:<port>."
            )
        request = f"{self._num_cpus} CPU" + (f", {self._num_gpus:g} GPU" if self._num_gpus else "")
        if capacity < 1:
            resources = ray.cluster_resources()
            have = f"{resources.get('CPU', 0):g} CPU, {resources.get('GPU', 0):g} GPU"
            if not _wants_cluster(address):
                raise ValueError(
                    f"Each grid point asks for {request} (config `resources`), but the local Ray instance has "
                    f"{have}. Lower `resources` (e.g. --set resources.num_gpus=0) or give --address of a cluster."
                )
            self._out(
                f"Ray: no node fits a grid point ({request}; the cluster has {have}): tasks wait for a node "
                f"to join (an autoscaler) or run forever. Ctrl-C stops the sweep."
            )
        tensorboard = (
            "sent back to the driver" if self._sync_tensorboard else "written by the workers"
        )
        self._out(
            f"Ray: {len(hosts)} node(s), {capacity} grid point(s) at once ({request} each); "
            f"TensorBoard logs {tensorboard}."
        )

    # The executor interface of experiments.sweep.
    def submit(self, job):
        """Starts `train.run_job(job)` as a Ray task.

        Returns:
            A `concurrent.futures.Future` of `run_job`'s result dict; it raises
            when the task could not run (its worker or node died, it was
            cancelled).
        """
        ref = _train_task.options(**self._task_options).remote(job, self._sync_tensorboard)
        with self._lock:
            self._refs[ref] = job.run_name
        result = concurrent.futures.Future()
        target_tb_dir = job.tb_dir

        def relay(ray_future):
            with self._lock:
                self._refs.pop(ref, None)
            try:
                outcome = ray_future.result()
            except BaseException as error:  # noqa: BLE001 - handed to the driver
                result.set_exception(error)
                return
            archive = outcome.pop(TENSORBOARD_ARCHIVE_KEY, None)
            if archive is not None and target_tb_dir:
                try:
                    _unpack_dir(archive, target_tb_dir)
                except (
                    Exception
                ) as error:  # the run itself is logged: only its TensorBoard copy is lost
                    print(
                        f"Ray: could not write {job.run_name}'s TensorBoard logs to {target_tb_dir}: {error}",
                        file=sys.stderr,
                    )
            result.set_result(outcome)

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

    def close(self):
        """Cancels what is still in flight; shuts Ray down if this executor started it."""
        if ray.is_initialized():
            self._cancel_in_flight()
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False


def make_executor(workers=1, config=None, tracking=None, address=None, out=print):
    """The `--executor ray` factory of `experiments.sweep.EXECUTORS`.

    Args:
        workers: `--workers`: with N > 1, at most N grid points at once (and a
            local instance gets N x `resources.num_cpus` CPUs); 1 (the
            default) means as many as the cluster fits.
        config: the `ExperimentConfig`; its `resources` are each task's request.
        tracking: the driver's `tracking.TrackingConfig`.
        address: `--address` (`auto`, `HOST:6379`, `ray://HOST:10001`), or
            None for a local instance on this machine.
        out: where notices go.

    Returns:
        A `RayExecutor`.

    Raises:
        ValueError: a tracking store the cluster cannot reach, resources no
            local node has, or a bad `VRL_RAY_TENSORBOARD`.

    Example:

    >>> from experiments import sweep
    >>> sweep.run_sweep("long_dependency", "smoke", executor="ray")  # a local Ray instance
    """
    preflight(workers=workers, config=config, tracking=tracking, address=address)
    resources = dict(config["resources"]) if config is not None else {}
    num_cpus = resources.get("num_cpus", 1)
    num_gpus = resources.get("num_gpus", 0)
    max_workers = workers if workers and workers > 1 else None
    local_num_cpus = max_workers * num_cpus if max_workers else max(os.cpu_count() or 1, num_cpus)
    return RayExecutor(
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        max_workers=max_workers,
        address=address,
        local_num_cpus=local_num_cpus,
        tracking_uri=tracking.tracking_uri if tracking is not None else "",
        tensorboard_mode=_tensorboard_mode(address),
        out=out,
    )


make_executor.preflight = preflight  # experiments.sweep calls it before creating any run
