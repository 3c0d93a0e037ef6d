"""The benchmark scripts run end to end on tiny sizes (their figures are not checked here:
timings belong in `make bench`, not in tests), and their guards work."""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from benchmarks import bench

TINY = bench.Size("tiny", batch=4, timesteps=4, features=2, units=3)


def test_bench_run_writes_json_with_medians_and_ratios(tmp_path):
    lines = []
    results, path = bench.run(
        [TINY],
        rounds=2,
        warmup=1,
        include_torch=False,
        torch_device="cpu",
        out_dir=tmp_path,
        log=lines.append,
    )
    saved = json.loads(path.read_text())
    assert saved["sizes"][0]["label"] == TINY.label()
    names = [c["name"] for c in saved["sizes"][0]["candidates"]]
    assert names[0].startswith("VanillaRNN") and any(n.startswith("SimpleRNN") for n in names)
    simple = next(c for c in saved["sizes"][0]["candidates"] if c["name"] == "SimpleRNN")
    assert simple["train_vs_simple_default"] == pytest.approx(1.0)
    for candidate in saved["sizes"][0]["candidates"]:
        assert candidate["train"]["median_ms"] > 0 and candidate["inference"]["median_ms"] > 0
        assert candidate["train_vs_fastest_peer"] > 0
    assert any("| candidate |" in line for line in lines)


def test_check_same_outputs_refuses_candidates_that_differ():
    class Fixed:
        def __init__(self, name, value):
            self.name, self.value, self.info = name, value, {}

        def output(self):
            return np.full((2, 1), self.value)

    bench.check_same_outputs([Fixed("a", 0.0), Fixed("b", 1e-4)])
    with pytest.raises(RuntimeError, match="b differs from a"):
        bench.check_same_outputs([Fixed("a", 0.0), Fixed("b", 0.1)])


def test_train_flop_counts_the_products():
    # One layer: forward x·U and h·W, backward g·Wᵀ, dW, dU.
    size = bench.Size("s", batch=2, timesteps=3, features=5, units=7)
    assert size.train_flop() == 6 * 2 * 3 * 7 * 7 + 4 * 2 * 3 * 7 * 5


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the ablations use the TensorFlow backend"
)
def test_ablation_variants_give_the_same_weights(monkeypatch, capsys):
    from benchmarks import ablations

    monkeypatch.setitem(bench.ALL_SIZES, "tiny", TINY)
    ablations.main(
        ["--size", "tiny", "--variants", "current,while,unroll2,dw_chunks4,no_dw", "--rounds", "1"]
    )
    out = capsys.readouterr().out
    differences = [
        float(line.rsplit(" ", 1)[1])
        for line in out.splitlines()
        if "differ from current by" in line
    ]
    assert len(differences) == 3 and max(differences) < 1e-5, (
        out
    )  # no_dw is diagnostic: not compared
    assert "| no_dw |" in out and "| SimpleRNN |" in out
    with pytest.raises(SystemExit):  # 5 steps cannot be unrolled two at a time
        monkeypatch.setitem(bench.ALL_SIZES, "odd", bench.Size("odd", 4, 5, 2, 3))
        ablations.main(["--size", "odd", "--variants", "unroll2", "--rounds", "1"])


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the overlap check uses TensorFlow"
)
def test_overlap_script_prints_both_executors(capsys):
    from benchmarks import overlap

    overlap.main(["--steps", "3", "--batch", "4", "--units", "4", "--rounds", "1"])
    out = capsys.readouterr().out
    assert "| chain + independent |" in out and out.count("\n|") >= 4


def test_skip_savings_replays_the_rule_on_known_outcomes(tmp_path, capsys):
    import pandas as pd

    from benchmarks import skip_savings
    from experiments.config import expand_grid, load_config

    # vanilla: L=5 solved in 4 updates, L=10 never; so L=20 (one longer) runs, L=40 skipped.
    rows = [
        {"model": "vanilla", "length": 5, "seed": 0, "solved": 1, "updates_to_solve": 4},
        {"model": "vanilla", "length": 10, "seed": 0, "solved": 0, "updates_to_solve": 8},
    ]
    overrides = ["grid.model=[vanilla]", "grid.length=[5,10,20,40]"]
    points = expand_grid(load_config("long_dependency", "smoke", overrides))
    outcomes = skip_savings.outcomes_from_results(pd.DataFrame(rows))
    budget = 8  # the smoke profile: 2 epochs x 4 steps
    assert skip_savings.replay(points, outcomes, budget, enabled=False) == (
        4,
        0,
        4 + 8 + 8 + 8,
        4 * 5 + 8 * 10 + 8 * 20 + 8 * 40,
    )
    assert skip_savings.replay(points, outcomes, budget, enabled=True) == (
        3,
        1,
        4 + 8 + 8,
        4 * 5 + 8 * 10 + 8 * 20,
    )


def test_full_plan_times_each_shape_once_and_adds_up_the_grid():
    from benchmarks import full_plan
    from experiments.config import expand_grid, load_config

    lines = []
    points, seconds = full_plan.plan("long_dependency", "smoke", 2, steps=1, out=lines.append)
    grid = expand_grid(load_config("long_dependency", "smoke"))
    assert points == len(grid)
    shapes = {(p.params()["model"], p.params()["length"]) for p in grid}
    timed = [line for line in lines if " step " in line]
    assert len(timed) == len(shapes)  # seeds share a timing
    assert seconds > 0 and lines[-1].startswith("  planned: ")
    assert "wall with 2 at once" in lines[-1]


@pytest.mark.integration
def test_full_plan_on_jax_prints_only_its_own_lines():
    """What `gpu.sh` runs: the plan on the JAX backend, whose modules import TensorFlow too."""
    import subprocess
    import sys

    from experiments.terminal import startup_noise

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": repo}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user's shell has it
    command = ["-m", "benchmarks.full_plan", "short_dependency", "--profile", "smoke"]
    done = subprocess.run(
        [sys.executable, *command, "--steps", "1", "--max-length", "1"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("backend jax;")
    assert "planned:" in done.stdout
    noise = [line for line in done.stderr.splitlines() if startup_noise(line)]
    assert not noise, noise


def test_sweep_bench_reads_both_ways_costs_back(tmp_path, tracking_environment):
    from benchmarks import sweep_bench
    from experiments import sweep

    grid = ["grid.model=[vanilla]", "grid.length=[5]", "grid.seed=[0,1]"]
    figures = {}
    for way, overrides in sweep_bench.WAYS.items():
        folder = tmp_path / way
        with tracking_environment(folder):
            sweep.run_sweep("long_dependency", "smoke", [*grid, *overrides], out=lambda _: None)
        figures[way] = {"wall_s": 1.0, **sweep_bench.measure_store(folder, "long_dependency")}
    # Two seeds of smoke: 2 epochs x 4 steps each, whichever way.
    assert figures["old"]["updates"] == figures["new"]["updates"] == 16
    assert figures["old"]["compiled_ms"] is None and figures["new"]["compiled_ms"] > 0
    assert figures["new"]["worker_s"] > 0 and figures["old"]["worker_s"] > 0
    assert "all in / compiled" in sweep_bench.describe("new", figures["new"])
    assert "compiled" not in sweep_bench.describe("old", figures["old"])


def test_group_bench_times_each_group_size(capsys):
    from benchmarks import group_bench

    group_bench.main(
        ["--sizes", "1,2", "--units", "4", "--kinds", "vanilla", "--length", "5", "--steps", "2"]
    )
    lines = [line for line in capsys.readouterr().out.splitlines() if " G=" in line]
    assert len(lines) == 2 and "throughput 1.00x one member" in lines[0]
