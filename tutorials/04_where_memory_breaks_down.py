# %% [raw]
"""
Title: Where short-term memory breaks down
Author: vanilla-rnn-lab contributors
Date created: 2026/11/26
Last modified: 2026/12/07
Description: Run the short_dependency and long_dependency experiments, browse them in MLflow and TensorBoard, and read the breakdown plot.
"""

# %% [markdown]
"""
## Introduction

Lessons 1 to 3 showed that a vanilla RNN forgets geometrically: the influence of an
input shrinks by a roughly constant factor per step. This lesson asks the practical
question: **as the distance between a clue and the moment it is needed grows, at what
distance does a vanilla RNN stop learning the task?** And how do LSTM and GRU, the gated
RNNs built to fix this, compare?

The project answers with *named experiments*. An experiment is a YAML file in
`experiments/configs/` that fixes a task, a grid to sweep (dependency length × model ×
seed), and a training budget. Running it trains one model per grid point and records
everything:

- in **MLflow** (a database of runs: one *parent* run per sweep, one *child* run per
  grid point, with parameters, per-epoch metrics, the final test metric and the trained
  model), and
- in **TensorBoard** (training curves of every run, a hyperparameter table, figures).

At the end, a **report** reads the runs back from MLflow and draws the *breakdown plot*:
the test metric against the dependency length, one curve per model.

We run two experiments:

- `short_dependency`: the `delayed_recall` task (at every step, output the symbol seen
  `lag` steps ago), lags 1, 2, 4, ..., 64 in the `quick` profile (up to 128 in `long`);
- `long_dependency`: the *adding problem* (read a long sequence of numbers, two of them
  marked, and output the sum of the two marked numbers at the end), lengths from 10 to
  100 in `quick` (up to 750 in `full`).

From a terminal, at the repository root, the same runs are one command each (`make`
creates `.venv` on first use; `.venv/bin/python -m experiments ...` is what it runs):

```
make experiments                          # the named experiments
make experiment NAME=short_dependency     # the quick profile, two workers
make experiment NAME=long_dependency
make report NAME=long_dependency          # redraw the report from MLflow
```

**Profiles.** `smoke` trains for seconds and proves only that everything is wired up
(its numbers mean nothing); `quick` (the default here) takes minutes per experiment on
a 2-core CPU and shows the breakdown (the measured times are on the site's "Measured times"
page, `docs/timings.md`); `full` is paper-scale, for a GPU. Set `VRL_TUTORIAL_PROFILE` to choose; the tests run `smoke` with two models.

**Expected output:** both sweeps finish with every child run `FINISHED`; the breakdown
plots `04_short_dependency_breakdown.png` and `04_long_dependency_breakdown.png`, and a
table of each model's *memory horizon* (the longest length it solves), logged on the
parent run as `horizon_<model>`.
"""

# %% [markdown]
"""
## Setup
"""

# %%
import pathlib

from lesson import FAST, OUT_DIR, PROFILE

# In fast mode, two models instead of four: enough to exercise the whole pipeline.
OVERRIDES = ["grid.model=[vanilla,lstm]"] if FAST else []

# %%
import json
import shutil

import matplotlib.pyplot as plt
import mlflow

from experiments import config as experiment_config
from experiments import schema, sweep, tracking
from experiments.config import expand_grid

results = {"profile": PROFILE}

# %% [markdown]
"""
## Where the runs go

The tracking settings live in `mlflow.yaml` at the repository root: the MLflow store
(by default a SQLite file, `mlflow.db`, so no server is needed), where artifacts go,
and the TensorBoard log folder. The environment variable `MLFLOW_TRACKING_URI`
overrides the store (to log to a team's MLflow server, for example), and
`VRL_MLFLOW_CONFIG` can point to another settings file (the tests use both to keep
their runs in a temporary folder).
"""

# %%
tracking_config = tracking.load_tracking_config()
print("MLflow store:     ", tracking_config.tracking_uri)
print("TensorBoard root: ", tracking_config.tensorboard_root)
mlflow.set_tracking_uri(tracking_config.tracking_uri)

# %% [markdown]
"""
## What an experiment sweeps

`experiments.config.load_config` reads a config the way the runner does (defaults,
then the file, then the profile, then the `--set` overrides, all validated), and
`expand_grid` lists its grid points. Each grid point becomes one MLflow child run,
named `<model>-L<length>-s<seed>`.
"""

# %%
for name in ("short_dependency", "long_dependency"):
    config = experiment_config.load_config(name, PROFILE, OVERRIDES)
    points = expand_grid(config)
    settings, hyperparameters = config.settings, config.hyperparameters
    print(f"{name}: task {settings.task}, grid {settings.grid}")
    print(f"  {len(points)} runs, e.g. {', '.join(p.name for p in points[:4])}, ...")
    batches = hyperparameters.epochs * hyperparameters.steps_per_epoch
    print(f"  budget per run: at most {batches} batches of {hyperparameters.batch_size}")

# %% [markdown]
"""
## Running the sweeps

`sweep.run_sweep` is what `make experiment` (`.venv/bin/python -m experiments run`) calls.
It creates the parent run, trains the grid points one after another here (`make experiment`
passes `--workers 2`, which trains two at a time in separate processes: `workers=2`), prints a progress line per run, and draws the report at the end.

Running the same sweep again **resumes** it: grid points that already finished with the
same settings are skipped, so an interrupted sweep (Ctrl-C) loses only the runs in
flight. Pass `force=True` (`--force` on the command line) to train everything again.
"""

# %%
# The report draws off-screen (matplotlib's Agg backend). In a notebook, start its own
# backend before the sweeps and switch back to it after them, so that the figures below
# show inline.
backend = plt.get_backend()
plt.switch_backend(backend)
sweeps = {}
for name in ("short_dependency", "long_dependency"):
    sweeps[name] = sweep.run_sweep(name, PROFILE, OVERRIDES, tracking_config=tracking_config)
    print(f"\n{name}: parent run {sweeps[name].parent_run_id}\n")
plt.switch_backend(backend)

# %% [markdown]
"""
## Reading the runs back from MLflow

Everything the report shows comes from MLflow, and you can query it the same way.
`mlflow.search_runs` returns a pandas DataFrame with one row per run: parameters as
`params.*` columns, final metric values as `metrics.*`, tags as `tags.*`. The child runs
of a sweep carry the tag `mlflow.parentRunId`.
"""

# %%
for name, outcome in sweeps.items():
    runs = mlflow.search_runs(
        experiment_names=[tracking_config.experiment_name(name)],
        filter_string=f"tags.mlflow.parentRunId = '{outcome.parent_run_id}'",
    )
    # The parent run names the task's main metric (its tag `metric`); the children log it
    # as test_<metric>, beside other test metrics (adding's test_max_abs_error).
    info = schema.SweepInfo.from_run(mlflow.get_run(outcome.parent_run_id))
    metric, metric_column = info.metric, info.test_metric_column
    runs["length"] = runs["params.length"].astype(int)
    table = runs.pivot_table(
        index="length", columns="params.model", values=metric_column, aggfunc="mean"
    )
    print(f"{name}: mean test {metric} over seeds (rows: length, columns: model)")
    print(table.round(3).to_string(), "\n")
    results[name] = {
        "parent_run_id": outcome.parent_run_id,
        "children": len(runs),
        "children_finished": int((runs["status"] == "FINISHED").sum()),
        "metric": metric,
    }
    assert (runs["status"] == "FINISHED").all(), runs[["tags.mlflow.runName", "status"]]

# %% [markdown]
"""
## The breakdown plot

The report is stored with the parent run, under the artifact folder `report/`:
`breakdown.png` (the plot), `results.csv` (one row per run), `summary.md` (tables) and
`horizons.csv`. We download the plot with `mlflow.artifacts.download_artifacts`, exactly
as you would from another machine sharing the same tracking server.
"""

# %%
for name, outcome in sweeps.items():
    local = mlflow.artifacts.download_artifacts(
        run_id=outcome.parent_run_id,
        artifact_path="report/breakdown.png",
        dst_path=str(OUT_DIR / f"04_{name}_report"),
    )
    figure_path = OUT_DIR / f"04_{name}_breakdown.png"
    shutil.copyfile(local, figure_path)
    fig, ax = plt.subplots(figsize=(8, 7))
    ax.imshow(plt.imread(figure_path))
    ax.axis("off")
    plt.show()

# %% [markdown]
"""
How to read it:

- **x-axis:** the dependency length, on a log scale (the lag for `delayed_recall`,
  the sequence length for the adding problem).
- **y-axis:** the test metric of each run on fresh sequences it never saw: accuracy for
  `delayed_recall` (higher is better), mean squared error for the adding problem (lower
  is better, log scale). The line is the mean over seeds, the band spans the best and
  the worst seed.
- **Chance** (dashed): what the best guess that ignores the input achieves: accuracy
  1/8 for 8 symbols; for the adding problem, always answering 1 (the average sum) gives
  an MSE of 1/6 ≈ 0.167. A model on this line has learned nothing about the clue.
- **Solved** (dotted): the bar a run must reach to count as having solved the task
  (accuracy 0.99; MSE 0.01).
- **Lower panel:** the fraction of seeds that solved each length.

A model's **memory horizon** is the longest length it solves, counting a length as
solved when at least half of the seeds solve it, and stopping at the first length that
fails. The report logs it on the parent run as the metric `horizon_<model>`, so that
MLflow can compare sweeps at a glance. Where a model solved every length tested, its
horizon is only a lower bound (the true one is at least that long): the metric
`horizon_censored_<model>` is then 1, and the report writes "≥ 100". A horizon of 0
means that not even the shortest length was solved.
"""

# %%
client = mlflow.MlflowClient()
for name, outcome in sweeps.items():
    metrics = client.get_run(outcome.parent_run_id).data.metrics
    horizons = {
        key.removeprefix("horizon_"): value
        for key, value in metrics.items()
        if key.startswith("horizon_") and not key.startswith("horizon_censored_")
    }
    shown = ", ".join(
        f"{model} {'≥ ' if metrics.get(f'horizon_censored_{model}') else ''}{horizon:g}"
        for model, horizon in sorted(horizons.items())
    )
    print(f"{name} memory horizon per model: {shown}")
    results[name]["horizons"] = horizons
    assert horizons, "the report logged no horizon_<model> metric"

# %% [markdown]
"""
What to look for with the `quick` profile (and what the published experiments found at
larger scale):

- `short_dependency` (lags 1 to 64) is the range where a vanilla RNN's short-term
  memory works: every model, the vanilla RNN included, recalls symbols a few steps
  back, and the question is only how far out each curve stays on the "solved" line.
  In a `quick` run the vanilla RNN recalled up to lag 8, two stacked layers up to 16,
  and every model was near chance from lag 32 on.
- On the adding problem (`long_dependency`, lengths 10 to 100 in `quick`), the vanilla
  RNN's curve starts below the "solved" line at length 10 and climbs to the chance line
  by length 50: there it predicts the average sum, 1, and ignores the marked numbers.
  In the `quick` run behind the README's figure (2-core CPU, 3 seeds, at most 1,500
  updates per run), the one-layer vanilla RNN solved length 10 only (horizon 10), the
  two-layer one length 10 too and length 20 with 1 seed of 3 (horizon 10; it sits
  right at the threshold there, and an earlier run had 2 of 3), the LSTM lengths up to
  50 (horizon 50), and the GRU every length up to 100 (the site's Results page has the
  tables).
- The gated models are not magic either: with this budget the LSTM is back at chance at
  length 100. The comparison the literature makes needs the `full` profile (lengths up
  to 750, 20,000 updates per run, on a GPU): at that scale, Arjovsky et al. (2016)
  found a tanh RNN stuck at the 0.167 baseline for every length from 100 to 750 while
  an LSTM solved lengths of a few hundred, and Le et al. (2015) report a tanh RNN
  solving only length 150, after more than a million updates.
- The deep vanilla RNN (`deep`) breaks down at about the same length as the shallow
  one (both are at chance by length 50): lesson 3 explained why.

The horizons depend on the budget, so always read them together with the profile:
more training pushes the gated models' curves much further out, the vanilla RNN's
hardly at all; lesson 5 shows why. The report lets you see this without training again.
Every run records when its validation metric first reached the "solved" bar
(`updates_to_solve`; a run that never did is *censored* at its budget), and the report
draws two more figures from those numbers: `time_to_solve.png`, the updates each model
needed against the length (a learning cost that grows with the length, then leaves the
budget), and `budget_horizons.png`, the horizon each model would have had had training
stopped at 1/8, 1/4, 1/2 or all of the budget. A horizon that still grew between half
and all of the budget is *budget-limited*: more training would likely move it. One that
had stopped is *architecture-limited* at this budget. The report prints one sentence per
model saying which, and `make experiment NAME=long_dependency PROFILE=long` gives every
run 10,000 updates to check the verdict. In the `smoke` profile (fast mode) nothing is
trained long enough to solve anything, so the plot shows only the plumbing.

## Browsing the runs: MLflow UI

Start the MLflow web UI on the same store, then open the address it prints
(`http://127.0.0.1:5000`):

```
make mlflow-ui        # or: .venv/bin/python -m experiments mlflow-ui
```

- Pick the experiment `long_dependency` on the left. Each sweep is a parent run
  (`long_dependency-quick-<hash>`); expand it to see one child run per grid point. The
  report's last lines print two addresses: this sweep's runs (the runs table filtered to
  the sweep's children) and its parent run.
- The parent run's **Description** is the result: a one-sentence verdict, one row per
  model with its horizon and `mean ± std (solved seeds / seeds)` at every length, and
  the budget. Its **Model metrics** tab draws the breakdown natively, one chart per
  model with x = length (the step): `test_mse/<model>` (the median over seeds),
  `test_mse_std/<model>` and `solved_fraction/<model>`. Its **Artifacts** hold the
  report: `report/report.html` is all of it in one page (figures, tables, config),
  beside `breakdown.png`, `summary.md` and the CSV files.
- Click a child run: its description is one line (model, length, seed, result);
  **Parameters** (model, length, seed, units, lr, the trainable parameter count, ...),
  **Metrics** (`loss`, `val_loss`, `val_mse` per epoch; `test_mse`, `solved`,
  `train_time_s`), and its **Logged model**, named for the grid point
  (`vanilla-L10-s0`).
- Select several child runs and press **Compare**: the parallel-coordinates and scatter
  views plot `test_mse` against `length`, colored by `model`: the breakdown again, built
  by hand.

## Browsing the runs: TensorBoard

```
make tensorboard NAME=long_dependency   # or: .venv/bin/python -m experiments tensorboard long_dependency
```

Open the address it prints. Every run is one folder, `<root>/<experiment>/<run name>`,
with the same run name as in MLflow: one TensorBoard run per grid point, holding each
epoch's `loss/train`, `loss/validation`, `<metric>/train` and `<metric>/validation`
(step = epoch, as in MLflow). The **Time Series** tab opens with every run selected,
coloured by model, unsmoothed, and the loss curves pinned on top; filter runs with a
regular expression such as `vanilla-L` or `L100` to overlay fewer curves: a vanilla run
that has broken down shows a loss that drops to the chance level and stays flat there.
Its first group, `breakdown`, is the breakdown against length (x = the step): a line
per model from the report's runs (`report/<sweep>/<model>`: `breakdown/test_mse`, the
median over seeds, and `breakdown/solved_fraction`) and a point per grid point (its own
result, at its length). The **HParams** tab has one row per run, showing the grid's
axes (model, length, seed) and the test metric by default, and the report's own run
(`report/<sweep>`) holds its figures (**Images**) and tables (**Text**). The folders are
plain files, so you can also list them:
"""

# %%
for name in sweeps:
    tb_dir = pathlib.Path(tracking_config.tb_experiment_dir(name))
    run_dirs = sorted(p.name for p in tb_dir.iterdir() if p.is_dir() and p.name != "report")
    print(f"{tb_dir}: {len(run_dirs)} run folders, e.g. {run_dirs[:3]}")
    results[name]["tensorboard_runs"] = len(run_dirs)

# %% [markdown]
"""
## Summary

- A named experiment sweeps dependency length × model × seed; `make experiment
  NAME=...` trains the grid, logs every run to MLflow and TensorBoard, and draws the report.
- The breakdown plot shows each model's test metric against the dependency length, next
  to the chance level and the "solved" bar; the memory horizon sums each curve up in
  one number.
- On the adding problem the vanilla RNN's memory breaks down within a few tens of
  steps, and stacking vanilla layers does not move it; gated models (LSTM, GRU) get
  several times further on the same budget.

Next: [lesson 5](05_why_vanishing_gradients.py) measures why, by looking at the
gradients themselves.
"""

# %%
(OUT_DIR / "04_results.json").write_text(json.dumps(results, indent=2, default=str))
print(f"The numbers this lesson claims: {OUT_DIR / '04_results.json'}")
