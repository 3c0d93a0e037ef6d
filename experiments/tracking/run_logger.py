"""`RunLogger`: logs to one MLflow run by id (no global "active run"), with its TensorBoard
folder; the object the training loop and the probes log through.

Through a tracking server's outage (`tracking.outage`) it keeps what it is given, in
order, with each metric's step and timestamp (files copied aside), and writes it once the
server answers: training never waits for the store. `drain()` waits for it, at a run's end.
"""

import copy
import json
import numbers
import os
import shutil
import tempfile
import threading
import time

from experiments.tracking import outage


def param_value(value):
    """A param/tag value as MLflow stores it: lists and dicts as JSON, the rest as str."""
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(value, sort_keys=True)
    return str(value)


DATASET_ATTEMPTS = 5
# MLflow's limits on one batch.
BATCH_LIMITS = {"metrics": 1000, "params": 100, "tags": 100}


class _Batch:
    """Metrics, params and tags of one run, written in as few `log_batch` calls as
    MLflow's limits allow; what a failed call did not write stays for the next try."""

    def __init__(self, entries):
        self.entries = entries

    def extend(self, entries):
        """Adds later entries (kept during an outage): a tag set twice keeps its last
        value, a param its first (MLflow refuses a key twice in one batch)."""
        self.entries["metrics"] += entries["metrics"]
        for kind, last_wins in (("tags", True), ("params", False)):
            merged = {}
            for entry in self.entries[kind] + entries[kind]:
                if last_wins:
                    merged.pop(entry.key, None)
                merged.setdefault(entry.key, entry)
            self.entries[kind] = list(merged.values())

    def __call__(self, store, run_id):
        while any(self.entries.values()):
            batch = {kind: self.entries[kind][:limit] for kind, limit in BATCH_LIMITS.items()}
            store.log_batch(run_id, **batch)
            self.entries = {kind: self.entries[kind][len(batch[kind]) :] for kind in batch}


# --------------------------------------------------------------- RunLogger
class RunLogger:
    """Logs to one MLflow run by id, plus the run's TensorBoard directory.

    This is the object probes receive (`experiments.probes.make_probes`).

    Args:
        client: an `mlflow.MlflowClient`, or the `GuardedClient` of
            `tracking.configure_mlflow` (which rides out a server's outage).
        run_id: the run to log to.
        tb_dir: the run's TensorBoard directory (`<root>/<experiment>/<run name>`),
            for `tf.summary` images and scalars; None when TensorBoard is off.

    Example:

    >>> logger = RunLogger(client, run.info.run_id, tb_dir="tb_logs/exp/vanilla-L10-s0")
    >>> logger.log_metrics({"grad_norm": 0.3}, step=4)
    """

    # What is logged with wait=False is written at most this long after it was logged.
    BUFFER_S = 5.0

    def __init__(self, client, run_id, tb_dir=None):
        self.client = client
        self.run_id = run_id
        self.tb_dir = tb_dir
        self._guard = outage.guard_of(client)
        self._store = outage.raw_client(client)
        self._kept = {"metrics": [], "params": [], "tags": []}  # logged with wait=False
        self._pending = []  # writes the store has not taken yet (an outage), oldest first
        self._spool = None  # a folder for the files among them
        self._written_at = time.monotonic()
        self._lock = threading.RLock()  # the training thread and the system metrics' thread

    @property
    def guard(self):
        """The store's `tracking.outage.StoreGuard`."""
        return self._guard

    def log_metrics(self, metrics, step=None, *, wait=True):
        """Logs `{name: number}` at `step` (an int; None: 0), with this moment's timestamp.

        With `wait=False` (here and in `log_params`, `set_tags`) what is logged is kept
        until `BUFFER_S` seconds have passed since the last write, then written in one
        batch with everything else kept: a training loop's per-epoch metrics then cost it
        one store round trip (about 25 ms on SQLite) every `BUFFER_S`, not one per epoch,
        and a run's start or end one, not one per kind of thing. `flush()` writes what
        is kept.
        """
        self._keep("metrics", _metrics(metrics, step), wait)

    def keep_metrics(self, metrics, step):
        """Keeps `{name: number}` at `step` for the run's next write (its own thread's
        `log_*` or `flush`): samples taken on another thread, which never writes itself."""
        entries = _metrics(metrics, step)
        with self._lock:
            self._kept["metrics"] += entries

    def log_params(self, params, *, wait=True):
        """Logs `{name: value}` as params (lists/dicts as JSON)."""
        from mlflow.entities import Param

        entries = [Param(key, param_value(value)) for key, value in params.items()]
        self._keep("params", entries, wait)

    def set_tags(self, tags, *, wait=True):
        """Sets `{name: value}` as tags."""
        from mlflow.entities import RunTag

        entries = [RunTag(key, param_value(value)) for key, value in tags.items()]
        self._keep("tags", entries, wait)

    def _keep(self, kind, entries, wait):
        with self._lock:
            self._kept[kind] += entries
            if wait or time.monotonic() - self._written_at >= self.BUFFER_S:
                self.flush()

    def flush(self):
        """Writes everything kept, in order, in as few batches as MLflow's limits allow.

        While the tracking server does not answer, this keeps it all for a later write
        and returns at once (`drain` waits for the server).
        """
        with self._lock:
            kept = self._kept
            self._kept = {kind: [] for kind in kept}
            if any(kept.values()):
                if self._pending and isinstance(self._pending[-1], _Batch):
                    self._pending[-1].extend(kept)  # an outage: one batch, not one per epoch
                else:
                    self._pending.append(_Batch(kept))
            self._write_pending()
            self._written_at = time.monotonic()

    def drain(self):
        """Writes everything kept, waiting through an outage of the tracking server.

        Raises:
            StoreUnavailable: the server did not answer for the outage window.
        """
        with self._lock:
            self.flush()
            while self._pending:
                self._guard.call(self._pending[0], self._store, self.run_id)
                self._pending.pop(0)
            self._remove_spool()

    def _write(self, write):
        """`write(store, run_id)` after everything pending; whether the store took it (if
        not, it is the last pending write)."""
        with self._lock:
            self._pending.append(write)
            return self._write_pending()

    def _write_pending(self):
        while self._pending:
            if not self._guard.attempt(self._pending[0], self._store, self.run_id):
                return False
            self._pending.pop(0)
        return True

    def _spooled(self, local_path, name=None):
        """A copy of a file (named `name`) that stays until the store has taken it."""
        if self._spool is None:
            self._spool = tempfile.mkdtemp(prefix="vrl-kept-")
        folder = tempfile.mkdtemp(dir=self._spool)
        target = os.path.join(folder, name or os.path.basename(local_path))
        shutil.copyfile(local_path, target)
        return target

    def _remove_spool(self):
        if self._spool is not None:
            shutil.rmtree(self._spool, ignore_errors=True)
            self._spool = None

    def log_dataset(self, name, features, targets, context, digest):
        """Records one input dataset of the run: the runs table's Dataset column.

        Args:
            name: the dataset's name, e.g. `adding-L10-s0`.
            features, targets: a sample of it (NumPy), for the schema and profile
                MLflow shows.
            context: `"validation"`, `"test"`, ... (MLflow's `mlflow.data.context` tag).
            digest: a short fingerprint of the whole dataset.
        """
        import mlflow.data
        from mlflow.entities import DatasetInput, InputTag
        from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

        dataset = mlflow.data.from_numpy(features, targets=targets, name=name, digest=digest)
        # What the fluent `mlflow.log_input` sends, for a run given by id.
        entry = DatasetInput(
            dataset._to_mlflow_entity(), tags=[InputTag(MLFLOW_DATASET_CONTEXT, context)]
        )
        self._write(lambda store, run_id: _log_input(store, run_id, entry))

    def log_artifact(self, local_path, artifact_path=None):
        """Copies a local file into the run's artifacts (under `artifact_path`)."""
        local_path = str(local_path)

        def write(store, run_id, path=local_path):
            store.log_artifact(run_id, path, artifact_path)

        with self._lock:
            if not self._write(write):  # the file may be gone when the store answers
                kept = self._spooled(local_path)
                self._pending[-1] = lambda store, run_id: write(store, run_id, kept)

    def log_figure(self, figure, artifact_file, tensorboard_tag=None):
        """Saves a matplotlib figure as an artifact (e.g. `"plots/loss.png"`) and, with a
        `tensorboard_tag` and a TensorBoard directory, as that image in TensorBoard."""
        with self._lock:
            if not self._write(
                lambda store, run_id: store.log_figure(run_id, figure, artifact_file)
            ):
                self._pending[-1] = self._figure_file(figure, artifact_file)
        if tensorboard_tag and self.tb_dir:
            from experiments import plots
            from experiments.tracking.tensorboard_logs import write_images

            write_images(self.tb_dir, {tensorboard_tag: plots.figure_to_png(figure)})

    def _figure_file(self, figure, artifact_file):
        # The figure may change or close before the store answers: a file of it now.
        folder, name = os.path.split(artifact_file)
        if self._spool is None:
            self._spool = tempfile.mkdtemp(prefix="vrl-kept-")
        path = os.path.join(tempfile.mkdtemp(dir=self._spool), name)
        figure.savefig(path)
        return lambda store, run_id: store.log_artifact(run_id, path, folder or None)

    def log_dict(self, dictionary, artifact_file):
        """Saves a dict as a JSON/YAML artifact (by the file's extension)."""
        kept = copy.deepcopy(dictionary)  # as it is now, whenever the store takes it
        self._write(lambda store, run_id: store.log_dict(run_id, kept, artifact_file))

    def log_text(self, text, artifact_file):
        """Saves a string as a text artifact."""
        self._write(lambda store, run_id: store.log_text(run_id, text, artifact_file))


def _metrics(metrics, step):
    """MLflow `Metric`s of `{name: number}` at `step`, stamped now (others skipped)."""
    from mlflow.entities import Metric

    timestamp = int(time.time() * 1000)
    return [
        Metric(key, float(value), timestamp, int(step or 0))
        for key, value in metrics.items()
        if isinstance(value, numbers.Real) or hasattr(value, "__float__")
    ]


def _log_input(store, run_id, entry):
    """`log_inputs` of one dataset, through the race of two runs inserting it at once."""
    from mlflow.exceptions import MlflowException

    for attempt in range(DATASET_ATTEMPTS):
        try:
            store.log_inputs(run_id, datasets=[entry])
            return
        except MlflowException as error:
            # Grid points that share a task, length and seed share their datasets; the
            # SQL store looks a dataset up, then inserts it, so two workers logging it at
            # once collide on its unique key, which reaches us as an internal error
            # (the server's or the local store's). The next attempt finds the dataset
            # and links it; any other failure fails every attempt the same way. A server
            # that does not answer is the guard's to wait for.
            if attempt == DATASET_ATTEMPTS - 1 or outage.unreachable(error):
                raise
            time.sleep(0.05 * (attempt + 1))
