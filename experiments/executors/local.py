"""The local executor: grid points train on this machine.

With `--workers 1` each job runs in the driver's own process, one after the other (no
process start-up: the driver has imported Keras already), when the sweep's backend is the
driver's; otherwise, and with N > 1, they run in a pool of spawned worker processes, each
limited to `cpu_count // N` threads so that the workers share the cores instead of
fighting over them.

Each worker selects the sweep's Keras backend before Keras loads (`KERAS_BACKEND`). On a
machine with GPUs, worker i sees GPU i mod (number of GPUs) only (`CUDA_VISIBLE_DEVICES`):
several workers share a card, and several cards share the workers round-robin; no worker
takes a card's whole memory (TensorFlow's memory growth, JAX without preallocation).
"""

import concurrent.futures
import multiprocessing
import os
import shutil
import signal
import subprocess
import threading
import time

from experiments import terminal
from experiments.errors import InputError
from experiments.executors.base import Executor
from experiments.training import run_job

DRIVER_POLL_S = 1.0


def _exit_when_driver_dies(driver_pid):
    # A driver killed with SIGKILL cannot stop its pool: without this, each worker would
    # stay blocked on the pool's queue for minutes, holding its TensorFlow memory.
    while True:
        time.sleep(DRIVER_POLL_S)
        if os.getppid() != driver_pid:
            os._exit(1)


def visible_gpus():
    """The GPUs workers may use: `CUDA_VISIBLE_DEVICES` if set, else what `nvidia-smi` lists."""
    chosen = os.environ.get("CUDA_VISIBLE_DEVICES")
    if chosen is not None:
        return [g.strip() for g in chosen.split(",") if g.strip() and g.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listed = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return listed.stdout.split() if listed.returncode == 0 else []


def worker_environment(backend, threads, gpus, worker_index, jax_cache=None):
    """The variables a worker sets before TensorFlow, JAX or Keras load.

    `jax_cache`: the folder JAX's workers share as their persistent compilation cache
    (`jax_cache_dir` of mlflow.yaml), kept across sweeps: grid points that differ only in
    values, not shapes, compile the same programs, and a rerun compiles none (measured
    with a per-sweep cache: the JAX smoke sweeps of every named experiment took 131 s
    instead of 161 s).
    """
    env = {
        "KERAS_BACKEND": backend,
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": "1",
        "OMP_NUM_THREADS": str(threads),
        "TF_FORCE_GPU_ALLOW_GROWTH": "true",  # several workers share one GPU
        "XLA_PYTHON_CLIENT_PREALLOCATE": "false",  # JAX: the same
    }
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = gpus[worker_index % len(gpus)]
    if jax_cache is not None and backend == "jax":
        env.update(jax_cache_environment(jax_cache))
    return env


def use_jax_cache(folder):
    """JAX's persistent compilation cache in `folder`, for this process (before it compiles)."""
    import jax

    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def jax_cache_environment(folder):
    """The variables that keep every compiled program of a JAX process in `folder`."""
    return {
        "JAX_COMPILATION_CACHE_DIR": folder,
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",  # small models compile fast
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }


def _init_worker(threads, driver_pid, backend, gpus, counter, jax_cache):
    # Runs in each spawned worker before TensorFlow, JAX or Keras are imported there.
    threading.Thread(target=_exit_when_driver_dies, args=(driver_pid,), daemon=True).start()
    with counter.get_lock():
        worker_index = counter.value
        counter.value += 1
    os.environ.update(worker_environment(backend, threads, gpus, worker_index, jax_cache))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Ctrl-C reaches the whole process group: only the driver handles it (and stops us).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tf = terminal.import_tensorflow()  # after the variables above; the calls below make sure

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    if backend != "tensorflow":
        # TensorFlow only writes TensorBoard files here: the GPU is the backend's.
        tf.config.set_visible_devices([], "GPU")


def _driver_backend():
    import keras

    return keras.backend.backend()


class LocalExecutor(Executor):
    """Runs grid points in this process (`workers == 1`) or in a pool of processes."""

    def __init__(self, *, workers=1, config=None, tracking=None, address=None, out=print):
        del address, out  # checked by `preflight`
        self._workers = workers
        self._threads = max(1, (os.cpu_count() or 1) // workers)
        self._backend = config.settings.backend if config is not None else "tensorflow"
        self._gpus = visible_gpus()
        in_process = workers == 1 and not self._gpus and self._backend == _driver_backend()
        self._jax_cache = None
        if self._backend == "jax" and tracking is not None and tracking.jax_cache_dir:
            self._jax_cache = tracking.jax_cache_dir  # kept: a rerun compiles nothing
        if in_process and self._jax_cache is not None:
            use_jax_cache(self._jax_cache)
        self._pool = None if in_process else self._new_pool()

    @classmethod
    def preflight(cls, *, workers, config, tracking, address):
        del workers, config, tracking
        if address is not None:
            raise InputError(
                "--address is for the Ray executor; the local executor runs on this machine."
            )

    def _new_pool(self):
        spawn = multiprocessing.get_context("spawn")
        worker_count = spawn.Value("i", 0)  # each worker takes the next index (its GPU)
        return concurrent.futures.ProcessPoolExecutor(
            self._workers,
            mp_context=spawn,
            initializer=_init_worker,
            initargs=(
                self._threads,
                os.getpid(),
                self._backend,
                self._gpus,
                worker_count,
                self._jax_cache,
            ),
        )

    @property
    def max_in_flight(self):
        return self._workers

    def submit(self, job):
        if self._pool is None:
            future = concurrent.futures.Future()
            future.set_result(run_job(job))  # an interrupt propagates to the driver
            return future
        try:
            return self._pool.submit(run_job, job)
        except concurrent.futures.process.BrokenProcessPool:
            # A worker died (its run is marked FAILED by the driver): start a new pool.
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            return self._pool.submit(run_job, job)

    def interrupt(self):
        if self._pool is None:
            return
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

    def shutdown(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True)
