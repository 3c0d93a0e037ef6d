"""The report draws off-screen without taking a notebook's figures away: `plots.pyplot()`
chooses Agg only where the process has not chosen a backend."""

import subprocess
import sys

from tests.experiments.runner_helpers import REPO_ROOT

PROGRAM = """
import sys
import matplotlib
{before}
from experiments import plots
plots.pyplot()
print(matplotlib.get_backend().lower())
"""


def _backend_after(before):
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(before=before)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_a_backend_the_process_chose_is_kept():
    chosen = "matplotlib.use('svg'); import matplotlib.pyplot"
    assert _backend_after(chosen) == "svg"


def test_a_process_that_chose_none_draws_with_agg():
    assert _backend_after("") == "agg"
