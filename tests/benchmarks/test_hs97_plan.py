"""The Hochreiter & Schmidhuber plan: its arithmetic by hand, and one tiny timing."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

from benchmarks import hs97_plan


def test_plan_line_by_hand():
    # 10 ms of CPU per update of 2 sequences, 1 ms to generate one: 6 ms a sequence.
    timing = (117, 0.020, 0.010, 0.001)
    line = hs97_plan.plan_line("lstm", 100, 2, timing, budget_s=3600.0, cores=2)
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells[:7] == ["lstm", "117", "100", "2", "20.00", "10.00", "1000"]
    assert cells[7] == "600,000"  # 3600 / 0.006 sequences an hour on one core
    assert cells[8] == "1,200,000"  # an hour on two cores
    assert cells[9] == f"{74_000 * 0.006 / 3600:.2f}"  # Table 7's 74,000 at T = 100


@pytest.mark.parametrize("kind, params", [("lstm", 117), ("vanilla", 118)])
def test_time_update_runs_and_sizes_match(kind, params):
    count, wall_s, cpu_s, generate_s = hs97_plan.time_update(
        kind, length=20, batch=2, steps=2, repeats=1
    )
    assert count == params  # a Keras LSTM of 4 cells; a vanilla RNN of as many parameters
    assert wall_s > 0 and cpu_s > 0 and generate_s > 0
