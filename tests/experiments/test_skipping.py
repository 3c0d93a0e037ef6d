"""The skipping rule (`skip_decided_lengths`): what is skipped, what is recorded, and that a
resumed sweep skips the same points."""

import pandas as pd
import pytest

from experiments import config, schema, sweep
from experiments.config import load_config
from experiments.sweep import skipping
from experiments.sweep.skipping import FAILED, NOT_SOLVED, RUN, SKIP, SOLVED, WAIT

LENGTHS = [10, 20, 50, 100, 200]


def points(models=("vanilla", "lstm"), lengths=LENGTHS, seeds=(0, 1, 2), **extra_axes):
    overrides = [
        f"grid.model=[{','.join(models)}]",
        f"grid.length={list(lengths)}",
        f"grid.seed={list(seeds)}",
        *(f"grid.{axis}={values}" for axis, values in extra_axes.items()),
    ]
    return config.expand_grid(load_config("long_dependency", "smoke", overrides))


def named(all_points):
    return {p.name: p for p in all_points}


def record_length(skipper, by_name, model, length, outcomes, suffix=""):
    for seed, outcome in enumerate(outcomes):
        skipper.record(by_name[f"{model}-L{length}-s{seed}{suffix}"], outcome)


def decisions(skipper, all_points):
    return {p.name: skipper.decide(p) for p in all_points}


def test_after_a_length_every_seed_failed_one_more_runs_and_the_rest_are_skipped():
    all_points = points()
    by_name = named(all_points)
    skipper = skipping.LengthSkipper(all_points)
    # The two shortest lengths are always decided at once; L=50 waits on L=10.
    assert skipper.decide(by_name["vanilla-L10-s0"]) == RUN
    assert skipper.decide(by_name["vanilla-L20-s2"]) == RUN
    assert skipper.decide(by_name["vanilla-L50-s0"]) == WAIT
    record_length(skipper, by_name, "vanilla", 10, [SOLVED, SOLVED, NOT_SOLVED])
    assert skipper.decide(by_name["vanilla-L50-s0"]) == RUN  # L=10 was not a breakdown
    assert skipper.decide(by_name["vanilla-L100-s0"]) == WAIT  # L=20 not known yet
    record_length(skipper, by_name, "vanilla", 20, [NOT_SOLVED] * 3)
    found = decisions(skipper, all_points)
    # L=20 failed on every seed: L=50 runs (the plateau), L=100 and L=200 are skipped.
    assert {n: d for n, d in found.items() if n.startswith("vanilla-L50")} == dict.fromkeys(
        ["vanilla-L50-s0", "vanilla-L50-s1", "vanilla-L50-s2"], RUN
    )
    assert {d for n, d in found.items() if n.startswith(("vanilla-L100", "vanilla-L200"))} == {SKIP}
    # Another model is its own curve: nothing of the LSTM is decided by the vanilla RNN.
    assert found["lstm-L50-s0"] == WAIT and found["lstm-L10-s0"] == RUN


def test_one_seed_solving_is_not_a_breakdown():
    all_points = points(models=("gru",))
    by_name = named(all_points)
    skipper = skipping.LengthSkipper(all_points)
    record_length(skipper, by_name, "gru", 10, [NOT_SOLVED, NOT_SOLVED, SOLVED])
    record_length(skipper, by_name, "gru", 20, [NOT_SOLVED, SOLVED, NOT_SOLVED])
    record_length(skipper, by_name, "gru", 50, [NOT_SOLVED] * 3)
    found = decisions(skipper, all_points)
    assert found["gru-L100-s0"] == RUN  # L=10 and L=20: one seed solved each, no breakdown
    assert found["gru-L200-s0"] == SKIP  # L=50 failed on every seed: L=100 runs, L=200 not


def test_failed_runs_never_decide_and_keep_the_longer_lengths_waiting():
    all_points = points(models=("vanilla",))
    by_name = named(all_points)
    skipper = skipping.LengthSkipper(all_points)
    record_length(skipper, by_name, "vanilla", 10, [NOT_SOLVED, FAILED, NOT_SOLVED])
    record_length(skipper, by_name, "vanilla", 20, [NOT_SOLVED] * 3)
    found = decisions(skipper, all_points)
    # L=50 depends on L=10 alone, where a seed failed to run; L=100 is decided by L=20.
    assert found["vanilla-L50-s0"] == WAIT and found["vanilla-L100-s0"] == SKIP
    skipper.record(by_name["vanilla-L10-s1"], NOT_SOLVED)  # the retry
    found = decisions(skipper, all_points)
    # Now L=10 is the breakdown: L=20 ran as the plateau, L=50 and longer are skipped.
    assert found["vanilla-L50-s0"] == SKIP and found["vanilla-L200-s2"] == SKIP


def test_extra_grid_axes_are_separate_curves_and_the_key_off_runs_everything():
    all_points = points(models=("deep",), seeds=(0,), num_layers=[2, 3])
    by_name = named(all_points)
    skipper = skipping.LengthSkipper(all_points)
    for length in (10, 20):
        skipper.record(by_name[f"deep-L{length}-s0-num_layers2"], NOT_SOLVED)
    found = decisions(skipper, all_points)
    assert found["deep-L100-s0-num_layers2"] == SKIP
    assert found["deep-L100-s0-num_layers3"] == WAIT
    off = skipping.LengthSkipper(all_points, enabled=False)
    assert set(decisions(off, all_points).values()) == {RUN}


def test_a_length_is_decided_only_once_every_seed_failed_at_every_rate():
    all_points = points(models=("vanilla",), lr="[0.001,0.01]")
    by_name = named(all_points)
    skipper = skipping.LengthSkipper(all_points)
    record_length(skipper, by_name, "vanilla", 10, [NOT_SOLVED] * 3, suffix="-lr1e-3")
    record_length(skipper, by_name, "vanilla", 20, [NOT_SOLVED] * 3, suffix="-lr1e-3")
    # The other rate has not spoken: nothing is skipped, and L=50 waits on it.
    found = decisions(skipper, all_points)
    assert found["vanilla-L100-s0-lr1e-3"] == WAIT and found["vanilla-L50-s0-lr1e-2"] == WAIT
    record_length(skipper, by_name, "vanilla", 10, [NOT_SOLVED, NOT_SOLVED, SOLVED], "-lr1e-2")
    record_length(skipper, by_name, "vanilla", 20, [NOT_SOLVED] * 3, suffix="-lr1e-2")
    found = decisions(skipper, all_points)
    # L=10 was solved by a seed at 0.01: no breakdown there; L=20 failed everywhere.
    assert found["vanilla-L50-s0-lr1e-3"] == RUN and found["vanilla-L50-s2-lr1e-2"] == RUN
    assert found["vanilla-L100-s0-lr1e-3"] == SKIP and found["vanilla-L200-s1-lr1e-2"] == SKIP


def test_a_cells_seeds_and_rates_are_one_job():
    from experiments.sweep.scheduler import job_units

    all_points = points(models=("vanilla", "lstm"), lengths=[10, 20], lr="[0.001,0.01]")
    units = job_units(all_points, group_seeds=True)
    assert len(units) == 4  # two models x two lengths
    assert sorted(p.name for p in units[0]) == sorted(
        f"vanilla-L10-s{seed}-lr{rate}" for seed in range(3) for rate in ("1e-3", "1e-2")
    )
    assert len(job_units(all_points, group_seeds=False)) == len(all_points)


def test_not_run_points_are_recorded_and_a_resumed_sweep_skips_the_same(tracking_dir, monkeypatch):
    """Smoke budget on adding never solves: L=2 and L=4 train, L=8 and L=16 are not run."""
    import mlflow

    overrides = ["grid.model=[vanilla]", "grid.length=[2,4,8,16]", "skip_decided_lengths=true"]
    lines = []
    # The first attempt breaks at L=2. L=4 fails on its seed, which decides L=16 (not run);
    # L=8 depends on L=2 and waits for its retry.
    monkeypatch.setenv("VRL_FAIL_GRID_POINT", "vanilla-L2-s0")
    first = sweep.run_sweep("long_dependency", "smoke", overrides, out=lines.append)
    assert first.failed == ["vanilla-L2-s0"] and first.finished == ["vanilla-L4-s0"]
    assert first.not_run == ["vanilla-L16-s0"] and first.held_back == ["vanilla-L8-s0"]
    assert not first.ok and any("wait for a failed shorter length" in line for line in lines)

    monkeypatch.delenv("VRL_FAIL_GRID_POINT")
    lines.clear()
    second = sweep.run_sweep("long_dependency", "smoke", overrides, out=lines.append)
    assert second.parent_run_id == first.parent_run_id and second.ok
    assert second.finished == ["vanilla-L2-s0"] and second.not_run == ["vanilla-L8-s0"]
    assert second.skipped == ["vanilla-L16-s0", "vanilla-L4-s0"]
    assert any(
        line.endswith("vanilla L=8 seed 0  not run: a shorter length failed") for line in lines
    )

    client = mlflow.MlflowClient()
    children = client.search_runs(
        [client.get_run(second.parent_run_id).info.experiment_id],
        f"tags.`mlflow.parentRunId` = '{second.parent_run_id}'",
    )
    by_name = {run.info.run_name: run for run in children}
    assert sorted(by_name) == ["vanilla-L16-s0", "vanilla-L2-s0", "vanilla-L4-s0", "vanilla-L8-s0"]
    for name in ("vanilla-L8-s0", "vanilla-L16-s0"):
        run = by_name[name]
        assert run.info.status == "FINISHED" and run.data.metrics == {}
        assert run.data.tags[schema.NOT_RUN] == skipping.NOT_RUN_REASON
        assert run.data.params["length"] in ("8", "16")
        length = run.data.params["length"]
        assert run.data.tags[schema.NOTE] == (
            f"vanilla L={length} seed 0: not run ({skipping.NOT_RUN_REASON}; skip_decided_lengths)."
        )
    assert schema.NOT_RUN not in by_name["vanilla-L4-s0"].data.tags
    parent = client.get_run(second.parent_run_id)
    assert parent.data.metrics[schema.N_NOT_RUN] == 2

    # The report: never solved, never failed, named in the CSV, the tables and the plot.
    results = pd.read_csv(
        client.download_artifacts(second.parent_run_id, "report/results.csv")
    ).set_index("run_name")
    assert results.loc["vanilla-L8-s0", "not_run"] == skipping.NOT_RUN_REASON
    assert results.loc["vanilla-L8-s0", "solved"] == 0
    assert pd.isna(results.loc["vanilla-L4-s0", "not_run"])
    summary = open(client.download_artifacts(second.parent_run_id, "report/summary.md")).read()
    assert "| not run | not run |" in summary
    assert "Not run (a shorter length failed" in summary and "vanilla L=8, 16" in summary
    assert "Not run (a shorter length failed" in second.report

    # A sweep that never broke skips exactly the same points.
    clean = sweep.run_sweep("long_dependency", "smoke", overrides, force=True, out=lambda _: None)
    assert clean.finished == ["vanilla-L2-s0", "vanilla-L4-s0"]
    assert clean.not_run == ["vanilla-L8-s0", "vanilla-L16-s0"]

    # Running the same command again trains nothing and skips nothing new.
    again = sweep.run_sweep("long_dependency", "smoke", overrides, out=lambda _: None)
    assert again.finished == [] and again.not_run == [] and len(again.skipped) == 4


@pytest.mark.parametrize("value", ["maybe", "1"])
def test_the_key_is_a_boolean(value):
    from experiments.config import ConfigError

    with pytest.raises(ConfigError, match="skip_decided_lengths"):
        load_config("long_dependency", "smoke", [f"skip_decided_lengths={value}"])
