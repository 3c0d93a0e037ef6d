"""`RunLogger`: logs to one MLflow run by id (no global "active run"), with its TensorBoard
folder; the object the training loop and the probes log through."""

import json
import numbers
import time


def param_value(value):
    """A param/tag value as MLflow stores it: lists and dicts as JSON, the rest as str."""
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(value, sort_keys=True)
    return str(value)


DATASET_ATTEMPTS = 5


# --------------------------------------------------------------- RunLogger
class RunLogger:
    """Logs to one MLflow run by id, plus the run's TensorBoard directory.

    This is the object probes receive (`experiments.probes.make_probes`).

    Args:
        client: an `mlflow.MlflowClient`.
        run_id: the run to log to.
        tb_dir: the run's TensorBoard directory (`<root>/<experiment>/<run name>`),
            for `tf.summary` images and scalars; None when TensorBoard is off.

    Example:

    >>> logger = RunLogger(client, run.info.run_id, tb_dir="tb_logs/exp/vanilla-L10-s0")
    >>> logger.log_metrics({"grad_norm": 0.3}, step=4)
    """

    # What is logged with wait=False is written at most this long after it was logged.
    BUFFER_S = 5.0
    # MLflow's limits on one batch.
    BATCH_LIMITS = {"metrics": 1000, "params": 100, "tags": 100}

    def __init__(self, client, run_id, tb_dir=None):
        self.client = client
        self.run_id = run_id
        self.tb_dir = tb_dir
        self._kept = {"metrics": [], "params": [], "tags": []}  # logged with wait=False
        self._written_at = time.monotonic()

    def log_metrics(self, metrics, step=None, *, wait=True):
        """Logs `{name: number}` at `step` (an int; None: 0), with this moment's timestamp.

        With `wait=False` (here and in `log_params`, `set_tags`) what is logged is kept
        until `BUFFER_S` seconds have passed since the last write, then written in one
        batch with everything else kept: a training loop's per-epoch metrics then cost it
        one store round trip (about 25 ms on SQLite) every `BUFFER_S`, not one per epoch,
        and a run's start or end one, not one per kind of thing. `flush()` writes what
        is kept.
        """
        from mlflow.entities import Metric

        timestamp = int(time.time() * 1000)
        entries = [
            Metric(key, float(value), timestamp, int(step or 0))
            for key, value in metrics.items()
            if isinstance(value, numbers.Real) or hasattr(value, "__float__")
        ]
        self._keep("metrics", entries, wait)

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
        self._kept[kind] += entries
        if wait or time.monotonic() - self._written_at >= self.BUFFER_S:
            self.flush()

    def flush(self):
        """Writes everything kept, in order, in as few batches as MLflow's limits allow."""
        kept = self._kept
        self._kept = {kind: [] for kind in kept}
        while any(kept.values()):
            batch = {kind: kept[kind][:limit] for kind, limit in self.BATCH_LIMITS.items()}
            kept = {kind: kept[kind][len(batch[kind]) :] for kind in kept}
            self.client.log_batch(self.run_id, **batch)
        self._written_at = time.monotonic()

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
        from mlflow.exceptions import MlflowException
        from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

        dataset = mlflow.data.from_numpy(features, targets=targets, name=name, digest=digest)
        # What the fluent `mlflow.log_input` sends, for a run given by id.
        entry = DatasetInput(
            dataset._to_mlflow_entity(), tags=[InputTag(MLFLOW_DATASET_CONTEXT, context)]
        )
        for attempt in range(DATASET_ATTEMPTS):
            try:
                self.client.log_inputs(self.run_id, datasets=[entry])
                return
            except MlflowException:
                # Grid points that share a task, length and seed share their datasets; the
                # SQL store looks a dataset up, then inserts it, so two workers logging it at
                # once collide on its unique key, which reaches us as an internal error
                # (the server's or the local store's). The next attempt finds the dataset
                # and links it; any other failure fails every attempt the same way.
                if attempt == DATASET_ATTEMPTS - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def log_artifact(self, local_path, artifact_path=None):
        """Copies a local file into the run's artifacts (under `artifact_path`)."""
        self.client.log_artifact(self.run_id, str(local_path), artifact_path)

    def log_figure(self, figure, artifact_file, tensorboard_tag=None):
        """Saves a matplotlib figure as an artifact (e.g. `"plots/loss.png"`) and, with a
        `tensorboard_tag` and a TensorBoard directory, as that image in TensorBoard."""
        self.client.log_figure(self.run_id, figure, artifact_file)
        if tensorboard_tag and self.tb_dir:
            from experiments import plots
            from experiments.tracking.tensorboard_logs import write_images

            write_images(self.tb_dir, {tensorboard_tag: plots.figure_to_png(figure)})

    def log_dict(self, dictionary, artifact_file):
        """Saves a dict as a JSON/YAML artifact (by the file's extension)."""
        self.client.log_dict(self.run_id, dictionary, artifact_file)

    def log_text(self, text, artifact_file):
        """Saves a string as a text artifact."""
        self.client.log_text(self.run_id, text, artifact_file)
