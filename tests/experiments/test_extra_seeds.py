"""More seeds where a verdict is close: which cells get them, how many, that a resumed
sweep adds the same ones, and what the report says of cells that stay open."""

import pandas as pd
import pytest

from experiments import config, schema, sweep, tracking
from experiments.report import verdicts
from experiments.report.results import results_table
from experiments.report.verdicts import DECIDED, MORE, UNDECIDED, verdict_state
from experiments.sweep.seeds import CellResult, SeedDecider

INFO = schema.SweepInfo(
    metric="mse", solved_threshold=0.01, chance=1 / 6, max_seeds=9, seed_margin=0.2
)


@pytest.mark.parametrize(
    "solved, marginal, cap, expected",
    [
        ([1, 1, 1], [0, 0, 0], 9, (DECIDED, 0)),  # unanimous and clear: three decide
        ([0, 0, 0], [0, 0, 0], 9, (DECIDED, 0)),
        ([1, 0, 0], [0, 0, 0], 9, (MORE, 3)),  # five failed of nine settle it soonest
        ([1, 1, 0], [0, 0, 0], 9, (MORE, 3)),  # five solved of nine
        ([1, 1, 1], [1, 1, 1], 9, (MORE, 2)),  # at the threshold: 5 of 9 must solve
        ([1, 1, 1, 1, 1, 0], [0] * 6, 9, (DECIDED, 0)),  # 5 solved: 4 to come cannot undo
        ([1, 1, 1, 1, 0, 0, 0, 0], [0] * 8, 8, (DECIDED, 0)),  # at the cap a tie is solved
        ([1, 0, 0], [0, 0, 0], 3, (DECIDED, 0)),  # the cap is the grid: majority
    ],
)
def test_when_seeds_decide_a_cell_and_how_many_more_it_needs(solved, marginal, cap, expected):
    assert verdict_state(solved, marginal, cap) == expected


def _decider(overrides):
    cfg = config.load_config(
        "long_dependency", "smoke", ["grid.model=[vanilla]", "max_seeds=9", *overrides]
    )
    points = config.expand_grid(cfg)
    return SeedDecider(cfg, points, INFO), {p.name: p for p in points}


def test_only_an_open_cell_gets_seeds_at_its_chosen_rate():
    decider, points = _decider(["grid.length=[5,10]", "grid.seed=[0,1,2]", "grid.lr=[0.001,0.01]"])
    for point in points.values():
        lr, length = point.hyperparameters.lr, point.length
        # L=5: unanimous and clear at both rates. L=10: 0.01 best on validation, split.
        solved = length == 5 or (lr == 0.01 and point.seed != 2)
        val = 0.004 if lr == 0.01 else 0.05
        decider.record(point, CellResult(lr, point.seed, solved, 0.004 if solved else 0.1, val))
    by_cell = {decider.cell_of(p): p for p in points.values()}
    five = decider.cell_of(points["vanilla-L5-s0-lr1e-3"])
    ten = decider.cell_of(points["vanilla-L10-s0-lr1e-3"])
    assert decider.extra_points(five) == [] and ten in by_cell
    extra = decider.extra_points(ten)
    assert [p.name for p in extra] == [f"vanilla-L10-s{s}-lr1e-2" for s in (3, 4, 5)]
    assert decider.extra_points(ten) == []  # waits for them
    for point in extra:
        decider.record(point, CellResult(0.01, point.seed, True, 0.004, 0.004))
    assert decider.state(ten)[0] == DECIDED  # 5 of 6 solved: 3 to come cannot undo it


def test_the_report_marks_open_cells_undecided_and_bands_every_horizon():
    rows = [
        {"model": "vanilla", "length": n, "seed": s, "test_metric": m, schema.EXTRA_SEED: x}
        for n, s, m, x in [
            (10, 0, 0.004, 0),
            (10, 1, 0.004, 0),
            (10, 2, 0.004, 0),
            (20, 0, 0.004, 0),
            (20, 1, 0.05, 0),
            (20, 2, 0.05, 0),
        ]
    ]
    df = results_table(rows, INFO)
    off = schema.SweepInfo(metric="mse", solved_threshold=0.01, max_seeds=0)
    found = verdicts.cell_verdicts(df, off)
    assert found["state"].tolist() == [DECIDED, UNDECIDED]
    assert "vanilla at L=20: undecided (1/3 seeds solved" in verdicts.open_sentences(found)[0]
    low, high = verdicts.horizon_bands(df)["vanilla"]
    assert low == 10 and high in (10, 20)  # L=20 passes in a draw with 2 of 3 solved
    assert verdicts.horizon_bands(df, seed=1)["vanilla"][0] == 10


def test_a_sweep_adds_seeds_where_they_decide_and_a_rerun_adds_nothing(tracking_dir):
    # Eight updates solve nothing; a margin this wide makes every seed's verdict open.
    overrides = [
        "grid.model=[vanilla]",
        "grid.length=[5]",
        "grid.seed=[0]",
        "max_seeds=4",
        "seed_margin=100",
    ]
    lines = []
    first = sweep.run_sweep("long_dependency", "smoke", overrides, out=lines.append)
    assert sorted(first.finished) == ["vanilla-L5-s0", "vanilla-L5-s1", "vanilla-L5-s2"]
    assert first.extra_seeds == ["vanilla-L5-s1", "vanilla-L5-s2"] and first.ok
    assert any(line.startswith("  more seeds for vanilla L=5 (s1, s2)") for line in lines)
    again = sweep.run_sweep("long_dependency", "smoke", overrides, out=lines.append)
    assert again.finished == [] and again.extra_seeds == [] and len(again.skipped) == 3
    settings = tracking.load_tracking_config()
    import mlflow

    client = mlflow.MlflowClient(settings.tracking_uri)
    experiment = client.get_experiment_by_name(settings.experiment_name("long_dependency"))
    children = client.search_runs(
        [experiment.experiment_id], f"tags.mlflow.parentRunId = '{first.parent_run_id}'"
    )
    names = sorted(run.data.tags[schema.GRID_POINT] for run in children)
    assert names == ["vanilla-L5-s0", "vanilla-L5-s1", "vanilla-L5-s2"]  # one run each
    extra = {r.data.tags[schema.GRID_POINT]: r.data.tags.get(schema.EXTRA_SEED) for r in children}
    assert extra == {"vanilla-L5-s0": None, "vanilla-L5-s1": "1", "vanilla-L5-s2": "1"}
    table = pd.read_csv(client.download_artifacts(first.parent_run_id, "report/verdicts.csv"))
    assert table[["n_seeds", "n_extra", "state"]].values.tolist() == [[3, 2, DECIDED]]
