"""Seeds trained as a group (`group_seeds`): each gives what it gives alone, each keeps its
own runs, and a worker that dies in the middle of a group loses and doubles nothing.

The seeds of one cell train as one job: on TensorFlow in turn through one compiled
program, on JAX side by side in one (`jax.vmap`). Both are checked against the same
seeds trained one job each.
"""

import os

import pytest

from experiments import schema, sweep, tracking
from tests.experiments.test_faults import EXPERIMENT, by_point, children, client_and_runs

THREE_SEEDS = ["grid.model=[vanilla]", "grid.length=[5]", "grid.seed=[0,1,2]", "epochs=3"]


def _results(folder, tracking_environment, overrides, **kwargs):
    """`{grid point: (test mse, epochs trained)}` of one sweep in its own store."""
    with tracking_environment(folder):
        result = sweep.run_sweep(EXPERIMENT, "smoke", overrides, out=lambda line: None, **kwargs)
        assert result.ok, result
        _, runs = client_and_runs()
        mine = children(runs, result.parent_run_id)
        settings = tracking.load_tracking_config()
        for run in mine:  # each seed its own TensorBoard run
            assert os.path.isdir(settings.tb_run_dir(EXPERIMENT, run.info.run_name))
        return {
            run.data.tags[schema.GRID_POINT]: (
                run.data.metrics["test_mse"],
                run.data.metrics[schema.EPOCHS_TRAINED],
                run.data.tags[schema.GROUP_SIZE],
            )
            for run in mine
        }


@pytest.mark.parametrize(
    "backend", ["tensorflow", pytest.param("jax", marks=pytest.mark.integration)]
)
def test_a_seed_in_a_group_logs_what_it_logs_alone(tmp_path, tracking_environment, backend):
    overrides = [*THREE_SEEDS, f"backend={backend}"]
    grouped = _results(tmp_path / "grouped", tracking_environment, overrides)
    alone = _results(tmp_path / "alone", tracking_environment, [*overrides, "group_seeds=false"])
    assert sorted(grouped) == sorted(alone) == ["vanilla-L5-s0", "vanilla-L5-s1", "vanilla-L5-s2"]
    for point, (mse, epochs, size) in grouped.items():
        assert size == "3" and alone[point][2] == "1"
        assert epochs == alone[point][1]
        assert mse == pytest.approx(alone[point][0], rel=1e-5)
    assert len({mse for mse, _, _ in grouped.values()}) == 3  # three seeds, three models


def test_a_worker_that_dies_in_a_group_loses_and_doubles_nothing(tracking_dir, monkeypatch):
    # Two workers: jobs run in worker processes, so the one training s1 can die.
    monkeypatch.setenv("VRL_EXIT_WORKER_AT", "vanilla-L5-s1:0")
    first = sweep.run_sweep(EXPERIMENT, "smoke", THREE_SEEDS, workers=2, out=lambda line: None)
    assert sorted(first.failed) == ["vanilla-L5-s0", "vanilla-L5-s1", "vanilla-L5-s2"]
    _, runs = client_and_runs()
    assert {r.info.status for r in children(runs, first.parent_run_id)} == {"FAILED"}

    monkeypatch.delenv("VRL_EXIT_WORKER_AT")
    second = sweep.run_sweep(EXPERIMENT, "smoke", THREE_SEEDS, workers=2, out=lambda line: None)
    assert second.ok and second.parent_run_id == first.parent_run_id
    assert sorted(second.finished) == ["vanilla-L5-s0", "vanilla-L5-s1", "vanilla-L5-s2"]
    _, runs = client_and_runs()
    points = by_point(children(runs, second.parent_run_id))
    assert {name: [r.info.status for r in rs] for name, rs in points.items()} == {
        name: ["FINISHED"] for name in second.finished
    }
    _, every_run = client_and_runs(view="all")
    active = {r.info.run_id for r in runs}
    deleted = [r for r in children(every_run, first.parent_run_id) if r.info.run_id not in active]
    assert len(deleted) == 3  # the first attempts, soft-deleted (restorable)
