"""The run schema: every name the sweep writes into MLflow and the report reads back.

A sweep is one MLflow parent run and one child run per grid point. The writers
(`experiments.sweep`, `experiments.training`) and the reader (`experiments.report`) share
the names below and two typed records, so that a name changes in one place:

- `SweepInfo`: what a sweep is (task, metric, threshold, report kind, ...): the parent
  run's tags (`to_tags`), read back by the report (`SweepInfo.from_run`);
- `GridPointOutcome`: what training one grid point gave (`training.run_job` returns it).

Per grid point, the child run holds:

- params: every hyperparameter of the point that applies to its model
  (`GridPoint.params`: `config.Hyperparameters`, plus `task`, `model`, `length`, `seed`,
  and `kind` where it is not the model's name), the task's `task_params.<key>`, the
  task's `chance` and `solved_threshold`, and `trainable_params`;
- tags: the grid axes, `grid_point`, `config_hash`, `attempt`, `kind`, `task`, `not_run`
  (the reason) on a point the sweep skipped (no metrics), `extra_seed` on a seed added to
  an open cell; the description (`mlflow.note.content`): model, length, seed and result;
- metrics: per epoch `loss`, `val_loss`, the task metric and `val_<metric>`; at the end
  `test_<metric>`, `test_loss`, `solved`, `diverged`, `train_time_s`, `epochs_trained`,
  and the time to solve: `updates_to_solve`, `sequences_to_solve`, `solve_censored`.
"""

import dataclasses
import math
import re

from datasets.base import is_solved

# ----------------------------------------------------------- tags MLflow defines
PARENT_RUN_ID = "mlflow.parentRunId"
NOTE = "mlflow.note.content"
SOURCE_NAME = "mlflow.source.name"
GIT_COMMIT = "mlflow.source.git.commit"
GIT_BRANCH = "mlflow.source.git.branch"
# An experiment of model training (not GenAI), for the UIs that read it.
EXPERIMENT_KIND = "mlflow.experimentKind"
MODEL_TRAINING_KIND = "custom_model_development"
# Ours: whether the working tree had uncommitted changes to tracked files.
GIT_DIRTY = "git.dirty"

# ------------------------------------------------------ the parent run (a sweep)
SWEEP_EXPERIMENT = "sweep.experiment"
SWEEP_PROFILE = "sweep.profile"
SWEEP_HASH = "sweep.config_hash"
SWEEP_OVERRIDES = "sweep.overrides"
SWEEP_GRID_SIZE = "sweep.grid_size"
SWEEP_N_FAILED = "sweep.n_failed"
# The extra-seed protocol of the sweep (`sweep.seeds`): the most seeds a cell may have, and
# the relative margin of the threshold that leaves a seed's verdict open.
SWEEP_MAX_SEEDS = "sweep.max_seeds"
SWEEP_SEED_MARGIN = "sweep.seed_margin"
# Which driver runs the sweep now, and when it last said so (`experiments.sweep.claim`).
SWEEP_DRIVER = "sweep.driver"
SWEEP_HEARTBEAT = "sweep.heartbeat"
# How long that driver's heartbeat may be silent before its claim is stale (seconds): it
# rides out a tracking server's outage that long.
SWEEP_STALE_AFTER = "sweep.stale_after_s"
REPORT_ERROR = "report_error"
# What the sweep's task measures (the report reads them back; see `SweepInfo`).
METRIC = "metric"
HIGHER_IS_BETTER = "higher_is_better"
REPORT = "report"
# The sweep's grid is logged as params `grid.<axis>`: the report's curve axes come from it.
GRID_PARAM_PREFIX = "grid."
N_FINISHED = "n_finished"
N_FAILED = "n_failed"
N_NOT_RUN = "n_not_run"

# ------------------------------------------------- a child run (one grid point)
GRID_POINT = "grid_point"
CONFIG_HASH = "config_hash"
ATTEMPT = "attempt"
PREVIOUS_ATTEMPTS = "previous_attempts"
KIND = "kind"
TASK = "task"
ERROR = "error"
TRACEBACK_FILE = "traceback.txt"
TASK_PARAM_PREFIX = "task_params."
TASK_DESCRIPTION = "task.describe"
# The model's compilation: whether XLA was used, and why not when it was asked for.
JIT_COMPILE_EFFECTIVE = "jit_compile_effective"
JIT_COMPILE_FALLBACK = "jit_compile_fallback"
STOPPED_WHEN_SOLVED_AT_EPOCH = "stopped_when_solved_at_epoch"
# A model kind `package.module:factory` (a layer of the user's own): its module's file is
# logged under MODEL_SOURCE_DIR, and its SHA-256 is this tag.
MODEL_SOURCE_SHA256 = "model_source.sha256"
# Why the gradient_flow probe measured nothing (a layer of the user's own it cannot unroll).
GRADIENT_FLOW_SKIPPED = "probes.gradient_flow.skipped"
# The libraries and the machine (`tracking.system_tags`).
KERAS_BACKEND = "keras.backend"
VERSION_PREFIX = "version."
HOST = "host"
DEVICE = "device"
# Where a Ray task ran (`executors.ray_cluster`).
EXECUTOR = "executor"
RAY_NODE_IP = "ray.node_ip"
RAY_TASK_ID = "ray.task_id"
RAY_WORKER_PID = "ray.worker_pid"
# A grid point added to a cell whose grid seeds left its verdict open (`sweep.seeds`).
EXTRA_SEED = "extra_seed"
# A grid point the sweep decided not to train (`skip_decided_lengths`): a FINISHED child
# with this tag (the reason) and no metrics. Never solved, never a failed run.
NOT_RUN = "not_run"

# Params that describe a grid point without being a hyperparameter of its model.
MODEL = "model"
LENGTH = "length"
SEED = "seed"
# The learning rate: as a grid axis, chosen per (curve, length) cell on validation.
LEARNING_RATE = "lr"
CHANCE = "chance"
SOLVED_THRESHOLD = "solved_threshold"
DESCRIPTIVE_PARAMS = (TASK, LENGTH, SEED, CHANCE, SOLVED_THRESHOLD)
# The model's size, counted once it is built (a param: it describes the model).
TRAINABLE_PARAMS = "trainable_params"

# Final metrics of a child run (besides `test_metric_name(metric)`).
TEST_LOSS = "test_loss"
SOLVED = "solved"
DIVERGED = "diverged"
TRAIN_TIME_S = "train_time_s"
EPOCHS_TRAINED = "epochs_trained"
# When the validation metric first reached the threshold; censored runs never did (or
# diverged) and hold the updates they trained.
UPDATES_TO_SOLVE = "updates_to_solve"
SEQUENCES_TO_SOLVE = "sequences_to_solve"
SOLVE_CENSORED = "solve_censored"
TIME_TO_SOLVE_METRICS = (UPDATES_TO_SOLVE, SEQUENCES_TO_SOLVE, SOLVE_CENSORED)
RESULT_METRICS = (TEST_LOSS, SOLVED, DIVERGED, TRAIN_TIME_S, *TIME_TO_SOLVE_METRICS)
# The adding task's second metric (`datasets.adding.MAX_ABS_ERROR`): the largest absolute
# error over the test set, for Hochreiter & Schmidhuber's criterion (every test sequence
# within 0.04). A results table has the column when a run logged it.
TEST_MAX_ABS_ERROR = "test_max_abs_error"
OPTIONAL_RESULT_METRICS = (TEST_MAX_ABS_ERROR,)
# Where a compiled-loop run's time went (`training.compiled_loop`); seeds trained as one group
# share these numbers (the tag `group_size` says how many).
TIME_FIRST_EPOCH_S = "time_first_epoch_s"  # the first epoch, which compiles the program
TIME_EPOCHS_S = "time_epochs_s"  # the compiled epochs after it: the arithmetic
TIME_VALIDATION_S = "time_validation_s"
TIME_HOST_S = "time_host_s"  # drawing batches, callbacks (MLflow, TensorBoard), probes
TIME_TEST_S = "time_test_s"
TIMING_METRICS = (TIME_FIRST_EPOCH_S, TIME_EPOCHS_S, TIME_VALIDATION_S, TIME_HOST_S, TIME_TEST_S)
# The compiled program's time for one update of one member (from the epochs after the first).
COMPILED_UPDATE_MS = "compiled_update_ms"
GROUP_SIZE = "group_size"

# Metrics of the report, on the parent run.
HORIZON_PREFIX = "horizon_"
# 1 where every length tested was solved: the horizon is then a lower bound ("≥ 100").
HORIZON_CENSORED_PREFIX = "horizon_censored_"
# The horizon had training stopped at a fraction of the budget; step = those updates.
BUDGET_HORIZON_PREFIX = "budget_horizon_"
# Per curve, with step = length (`curve_metric_name`): the breakdown as MLflow charts it.
SOLVED_FRACTION = "solved_fraction"
# The learning rate each cell chose on validation (a sweep with an `lr` grid axis).
CHOSEN_LR = "chosen_lr"
STD_SUFFIX = "_std"
# The same per-curve values in TensorBoard: the scalar `breakdown/<quantity>`, step = length,
# in a run per curve (`<experiment>/report/<sweep>/<curve>`); every grid point's run holds
# its own final values under the same group, at its length.
BREAKDOWN_TAG_PREFIX = "breakdown/"
# A grid point's other final values in TensorBoard (`outcome/train_time_s`, ...), at its length.
OUTCOME_TAG_PREFIX = "outcome/"
# The horizon under Hochreiter & Schmidhuber's criterion (adding: every test error < 0.04).
HS_HORIZON_PREFIX = "hs_horizon_"
# The horizon a lever's gradient decay predicts (`report.decay_prediction`), per `when`
# (init, trained): `predicted_horizon_init_<curve>`.
PREDICTED_HORIZON_PREFIX = "predicted_horizon_"

# What the probes log on a grid point's run (`experiments.probes`), read back by the
# report (`report.gradient_flow`, `report.decay_prediction`, `report.two_weights`).
# The gradient_flow probe measures at initialization and after training: its metrics are
# `probe_metric_name(<quantity>, <when>)`, e.g. `grad_decay_init`.
PROBE_INIT = "init"
PROBE_TRAINED = "trained"
PROBE_WHEN = (PROBE_INIT, PROBE_TRAINED)
GRAD_DECAY = "grad_decay"  # the per-step decay factor of |dL/dh_t|, fitted over the distance
SIGMA_MAX_W = "sigma_max_W"  # the largest singular value of the recurrent kernel(s)
DECAY_BOUND = "decay_bound"  # max|act'| * sigma_max(W), vanilla units only
GRAD_NORM = "grad_norm"  # |dL/dh_t| itself, with step = distance
# The weights probe: the one-unit RNN's input weight u and recurrent weight w, metrics
# every epoch, and params at initialization (`probe_metric_name(WEIGHT_U, PROBE_INIT)`).
WEIGHT_U = "u"
WEIGHT_W = "w"

STATUS_RUNNING = "RUNNING"
STATUS_SCHEDULED = "SCHEDULED"
STATUS_FINISHED = "FINISHED"
STATUS_FAILED = "FAILED"
STATUS_KILLED = "KILLED"
# A run in one of these has not ended.
ACTIVE_STATUSES = (STATUS_RUNNING, STATUS_SCHEDULED)

# ---------------------------------------------------------------- artifacts
CONFIG_ARTIFACT_DIR = "config"  # the experiment's YAML file, as written
RESOLVED_CONFIG = "config/resolved.yaml"  # after the profile and --set
REPORT_ARTIFACT_DIR = "report"
REPORT_SUMMARY = "summary.md"
REPORT_HTML = "report.html"  # the whole report in one self-contained page
# Runs logged before the models were named for their grid point: `runs:/<run id>/model`.
LEGACY_MODEL_ARTIFACT = "model"
MODEL_SOURCE_DIR = "model_source"  # the factory's module file, as it was when the run trained
GRADIENT_FLOW_JSON = "probes/gradient_flow.json"
GRADIENT_FLOW_PNG = "probes/gradient_flow.png"
LOSS_SURFACE_JSON = "probes/loss_surface.json"
LOSS_SURFACE_PNG = "probes/loss_surface.png"


def test_metric_name(metric):
    """The final metric of a child run: `test_mse`, `test_accuracy`."""
    return f"test_{metric}"


def _curve_key(curve):
    """A curve label in characters MLflow accepts: `deep, num_layers=2` -> `deep_num_layers-2`."""
    text = re.sub(r",\s*", "_", str(curve))
    return re.sub(r"[^A-Za-z0-9_.\-/ ]", "-", text).replace(" ", "")


def horizon_metric_name(curve):
    """`horizon_<curve>`: the curve's memory horizon, a number (see `_curve_key`)."""
    return f"{HORIZON_PREFIX}{_curve_key(curve)}"


def horizon_censored_metric_name(curve):
    """`horizon_censored_<curve>`: 1 where `horizon_<curve>` is only a lower bound."""
    return f"{HORIZON_CENSORED_PREFIX}{_curve_key(curve)}"


def budget_horizon_metric_name(curve):
    """`budget_horizon_<curve>`, logged with step = updates (see `horizon_metric_name`)."""
    return f"{BUDGET_HORIZON_PREFIX}{_curve_key(curve)}"


def curve_metric_name(quantity, curve):
    """`<quantity>/<curve>`, logged on the parent with step = length: `test_mse/vanilla`.

    MLflow's charts put the metrics that share a prefix before `/` in one section, so
    the parent run's chart view shows the breakdown of every curve side by side.
    """
    return f"{quantity}/{_curve_key(curve)}"


def model_name(run_name):
    """The logged model of a grid point's run is named for it: `vanilla-L50-s0`."""
    return run_name


def hs_horizon_metric_name(curve):
    """`hs_horizon_<curve>` (see `horizon_metric_name`)."""
    return HS_HORIZON_PREFIX + horizon_metric_name(curve)[len(HORIZON_PREFIX) :]


def predicted_horizon_metric_name(when, curve):
    """`predicted_horizon_<when>_<curve>` (see `horizon_metric_name`)."""
    return f"{PREDICTED_HORIZON_PREFIX}{when}_" + horizon_metric_name(curve)[len(HORIZON_PREFIX) :]


def probe_metric_name(quantity, when):
    """A probe's value at one moment of training: `grad_decay_init`, `u_init`."""
    return f"{quantity}_{when}"


def _float(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


@dataclasses.dataclass(frozen=True)
class SweepInfo:
    """What a sweep is, as its parent run records it.

    Attributes:
        task: the task name (`datasets.TASKS`).
        metric: the task's main metric (`mse`, `accuracy`).
        higher_is_better: whether a larger metric is better.
        chance: the metric of the best input-independent predictor (NaN: unknown).
        solved_threshold: the metric that counts as solved (NaN: unknown).
        report: the report kind (`experiments.report.REPORT_KINDS`).
        experiment: the named experiment.
        profile: the config profile.
        config_hash: the sweep's config hash (resume matches on it).
        run_name: the parent run's name.
        grid_axes: the sweep's grid axes, or () when unknown (hand-made tables).
        max_seeds: the most seeds a cell may have (0: the grid's; `sweep.seeds`).
        seed_margin: the relative margin of the threshold that leaves a seed open.
    """

    task: str = ""
    metric: str = "mse"
    higher_is_better: bool = False
    chance: float = math.nan
    solved_threshold: float = math.nan
    report: str = "breakdown"
    experiment: str = ""
    profile: str = ""
    config_hash: str = ""
    run_name: str = ""
    grid_axes: tuple = ()
    max_seeds: int = 0
    seed_margin: float = 0.0

    def to_tags(self):
        """The parent run's tags that describe the sweep (all strings)."""
        return {
            SWEEP_EXPERIMENT: self.experiment,
            SWEEP_PROFILE: self.profile,
            SWEEP_HASH: self.config_hash,
            TASK: self.task,
            METRIC: self.metric,
            HIGHER_IS_BETTER: str(bool(self.higher_is_better)),
            CHANCE: str(self.chance),
            SOLVED_THRESHOLD: str(self.solved_threshold),
            REPORT: self.report,
            SWEEP_MAX_SEEDS: str(self.max_seeds),
            SWEEP_SEED_MARGIN: str(self.seed_margin),
        }

    @classmethod
    def from_run(cls, run):
        """Reads the description back from a parent run (tags first, then params)."""

        def value(key, default=""):
            return run.data.tags.get(key, run.data.params.get(key, default))

        max_seeds = _float(value(SWEEP_MAX_SEEDS, "0"))
        prefix = GRID_PARAM_PREFIX
        grid_axes = sorted(key[len(prefix) :] for key in run.data.params if key.startswith(prefix))
        return cls(
            task=value(TASK),
            metric=value(METRIC, "mse"),
            higher_is_better=str(value(HIGHER_IS_BETTER, "False")).lower() in ("true", "1"),
            chance=_float(value(CHANCE, None)),
            solved_threshold=_float(value(SOLVED_THRESHOLD, None)),
            report=value(REPORT, "breakdown") or "breakdown",
            experiment=value(SWEEP_EXPERIMENT),
            profile=value(SWEEP_PROFILE),
            config_hash=value(SWEEP_HASH),
            run_name=run.info.run_name or run.info.run_id[:8],
            grid_axes=tuple(grid_axes),
            max_seeds=int(max_seeds) if math.isfinite(max_seeds) else 0,
            seed_margin=_float(value(SWEEP_SEED_MARGIN, "0")),
        )

    @property
    def test_metric_column(self):
        """The task metric's column in `mlflow.search_runs`: `metrics.test_mse`. Children
        log other test metrics beside it (`test_loss`, adding's `test_max_abs_error`), so
        a reader takes this one, never the first `metrics.test_*` column it finds."""
        return f"metrics.{test_metric_name(self.metric)}"

    def is_solved(self, value):
        """Whether a metric value reaches the threshold (NaN: no)."""
        return is_solved(value, self.solved_threshold, self.higher_is_better)


@dataclasses.dataclass(frozen=True)
class GridPointOutcome:
    """What training one grid point gave (returned by `training.run_job`).

    Attributes:
        run_name: the grid point's run name, e.g. `vanilla-L100-s0`.
        status: `FINISHED` (also when the loss diverged) or `FAILED`.
        metric: the task's main metric name (finished runs).
        test_metric: its value on the test set.
        val_metric: its last epoch's value on the validation set (the rate choice).
        solved: whether the test metric reached the threshold (never when diverged).
        diverged: whether the loss or a weight turned non-finite.
        train_time_s: seconds spent in `fit`.
        run_time_s: seconds the worker spent on the run, all of it (data, model, fit,
            evaluation, logging), without the worker's own start; a group's time is shared
            out among its points.
        error: the exception's last line (failed runs).
    """

    run_name: str
    status: str
    metric: str = ""
    test_metric: float = math.nan
    val_metric: float = math.nan
    solved: bool = False
    diverged: bool = False
    train_time_s: float = math.nan
    run_time_s: float = math.nan
    error: str = ""

    @property
    def finished(self):
        return self.status == STATUS_FINISHED

    @property
    def verdict(self):
        """`diverged`, `solved` or `not solved`."""
        if self.diverged:
            return "diverged"
        return "solved" if self.solved else "not solved"
