"""The smoke profile of every named experiment, end to end, into a temporary store, on each
backend a sweep can train on.

One module-scoped fixture per backend runs each experiment's smoke sweep into a temporary
SQLite store and TensorBoard root (on TensorFlow in this process, on JAX in one child
process whose Keras loads on JAX; both with the runner's inline executor); the tests then
read everything back through MLflow's own client.
"""

import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

from experiments import config as experiment_config
from experiments.config import expand_grid

# Experiment -> (report kind, artifacts the report must log, artifacts every child must have).
EXPECTED = {
    "long_dependency": ("breakdown", [], []),
    "short_dependency": ("breakdown", [], []),
    "copy_memory": ("breakdown", [], []),
    "latch": ("breakdown", [], []),
    "depth": ("depth", ["report/horizon_vs_depth.png"], []),
    "depth_adding": ("depth", ["report/horizon_vs_depth.png"], []),
    "two_weights": (
        "two_weights",
        ["report/two_weights.csv", "report/weights.png"],
        ["probes/loss_surface.png", "probes/loss_surface.json"],
    ),
    "gradient_flow": (
        "gradient_flow",
        ["report/gradient_flow.csv", "report/gradient_flow.png"],
        ["probes/gradient_flow.png", "probes/gradient_flow.json"],
    ),
    "horizon_levers": (
        "horizon_levers",
        ["report/levers.csv", "report/lever_horizons.png", "report/hs_criterion.csv"],
        ["probes/gradient_flow.png", "probes/gradient_flow.json"],
    ),
}
COMMON_REPORT_FILES = [
    "report/results.csv",
    "report/summary.md",
    "report/horizons.csv",
    "report/breakdown.png",
]
# long_dependency's smoke sweep is the runner's own test subject (test_sweep.py); here
# two of its four models are enough to check that the report draws it.
OVERRIDES = {"long_dependency": ["grid.model=[vanilla,lstm]"]}


# On JAX each new model compiles for seconds: there, the smoke grid's first length only (the
# longer ones test the skipping rule and the report's lengths, which TensorFlow covers).
BACKEND_OVERRIDES = {
    "tensorflow": lambda name: [],
    "jax": lambda name: [f"grid.length=[{_smoke_grid(name)['length'][0]}]"],
}


# On JAX, one experiment per report kind and probe: the kinds' code is the same for every
# experiment of a kind, and each JAX sweep costs its compilations (TensorFlow runs them all).
JAX_EXPERIMENTS = {"short_dependency", "depth", "two_weights", "gradient_flow", "horizon_levers"}


def _on_backend(backend):
    return [n for n in EXPECTED if backend == "tensorflow" or n in JAX_EXPERIMENTS]


def _smoke_grid(name):
    return experiment_config.load_config(name, "smoke", OVERRIDES.get(name, ())).settings.grid


def _overrides(name, backend):
    return [*OVERRIDES.get(name, ()), *BACKEND_OVERRIDES[backend](name), f"backend={backend}"]


def test_every_named_experiment_is_covered_here():
    assert sorted(experiment_config.experiment_names()) == sorted(EXPECTED)


# On JAX the sweeps run in one child process whose Keras is on JAX, so that each sweep's grid
# points train in that driver (the inline executor) instead of in freshly spawned workers.
RUN_ON_JAX = """
import dataclasses, json, sys
from experiments import sweep
results = {}
for name, overrides in json.loads(sys.argv[1]).items():
    result = sweep.run_sweep(name, "smoke", overrides, out=lambda *_: None)
    results[name] = dataclasses.asdict(result)
print(json.dumps(results))
"""


# TensorFlow in `make test`; the other backends in `make test-integration`.
BACKEND_PARAMS = [
    b if b == "tensorflow" else pytest.param(b, marks=pytest.mark.integration)
    for b in experiment_config.BACKENDS
]


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def sweeps(request, tmp_path_factory, tracking_environment):
    """Runs every smoke sweep once on a backend; yields (client, tracking config, results)."""
    from experiments import sweep, tracking

    backend = request.param
    with tracking_environment(tmp_path_factory.mktemp(f"named-{backend}")) as tracking_config:
        if backend == "tensorflow":  # in this process
            results = {
                name: sweep.run_sweep(
                    name,
                    "smoke",
                    _overrides(name, backend),
                    tracking_config=tracking_config,
                    out=lambda *_: None,
                )
                for name in _on_backend(backend)
            }
        else:
            overrides = {name: _overrides(name, backend) for name in _on_backend(backend)}
            child = subprocess.run(
                [sys.executable, "-c", RUN_ON_JAX, json.dumps(overrides)],
                env={**os.environ, "KERAS_BACKEND": backend},  # VRL_MLFLOW_CONFIG: the store
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert child.returncode == 0, child.stderr[-3000:]
            summary = json.loads(child.stdout.strip().splitlines()[-1])
            results = {name: sweep.SweepResult(**fields) for name, fields in summary.items()}
        client = tracking.configure_mlflow(tracking_config.tracking_uri)
        yield client, tracking_config, results


def _children(client, result):
    from experiments import tracking

    return tracking.child_runs(client, result.experiment_id, result.parent_run_id)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_smoke_sweep_finishes_and_logs_its_report(sweeps, name):
    client, tracking_config, results = sweeps
    if name not in results:
        pytest.skip("on JAX, one experiment per report kind (see JAX_EXPERIMENTS)")
    result = results[name]
    kind, report_files, child_files = EXPECTED[name]

    assert result.ok, (result.failed, result.report_error)
    parent = client.get_run(result.parent_run_id)
    backend = parent.data.params["backend"]
    config = experiment_config.load_config(name, "smoke", _overrides(name, backend))
    points = expand_grid(config)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["report"] == kind
    children = _children(client, result)
    assert sorted(run.info.run_name for run in children) == sorted(p.name for p in points)
    assert {run.info.status for run in children} == {"FINISHED"}
    assert {run.data.tags["keras.backend"] for run in children} == {backend}
    assert parent.data.tags["keras.backend"] == backend

    # The report: its files on the parent run, one horizon metric per curve, TensorBoard images.
    logged = {artifact.path for artifact in client.list_artifacts(result.parent_run_id, "report")}
    assert set(COMMON_REPORT_FILES + report_files) <= logged
    horizons = {
        key: value for key, value in parent.data.metrics.items() if key.startswith("horizon_")
    }
    models = {p.axes["model"] for p in points}
    assert len(horizons) >= len(models)
    lengths = {p.axes["length"] for p in points}
    assert all(value == 0 or value in lengths for value in horizons.values())
    assert "horizon" in result.report
    hp = config.hyperparameters
    budget = f"Budget: at most {hp.epochs * hp.steps_per_epoch:,} {hp.optimizer} updates"
    assert budget in result.report
    tb_report = os.path.join(tracking_config.tb_experiment_dir(name), "report")
    assert any(files for _, _, files in os.walk(tb_report))

    # Probes: their artifacts on every child.
    for run in children:
        names = {
            a.path
            for folder in {os.path.dirname(f) for f in child_files}
            for a in client.list_artifacts(run.info.run_id, folder)
        }
        assert set(child_files) <= names, run.info.run_name


def test_two_weights_smoke_logs_u_and_w_every_epoch(sweeps):
    client, _, results = sweeps
    epochs = experiment_config.load_config("two_weights", "smoke").hyperparameters.epochs
    for run in _children(client, results["two_weights"]):
        for key in ("u", "w"):
            steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, key))
            assert steps == list(range(epochs)), (run.info.run_name, key)
        assert {"u_init", "w_init"} <= set(run.data.params)


def test_gradient_flow_smoke_logs_decay_beside_sigma_max(sweeps):
    client, _, results = sweeps
    for run in _children(client, results["gradient_flow"]):
        metrics = run.data.metrics
        for when in ("init", "trained"):
            assert metrics[f"grad_decay_{when}"] > 0
            assert metrics[f"sigma_max_W_{when}"] > 0
            vanilla = run.data.params["kind"] == "vanilla"
            assert (f"decay_bound_{when}" in metrics) is vanilla
        if run.data.params["model"] == "vanilla_identity_half":
            assert metrics["sigma_max_W_init"] == pytest.approx(0.5, rel=1e-5)
