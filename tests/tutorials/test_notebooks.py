"""`make notebooks` gives notebooks that open on this project's kernel and run.

The notebooks come from `scripts/make_notebooks.py`, the script `make notebooks` runs, here
given temporary folders: `--out` for the notebooks and `--kernel-prefix` for the kernel it
registers (found through `JUPYTER_PATH`, as `.venv/bin/jupyter` finds the one in `.venv`),
so nothing is written into the repository or `.venv`. The shortest lesson then runs through
nbclient on the kernel its metadata names, in fast mode (`VRL_TUTORIAL_FAST=1`), figures
in a temporary folder, from a folder one level below the repository root as `notebooks/`
is, and without `TF_CPP_MIN_LOG_LEVEL` or `MPLBACKEND`, as a kernel started by JupyterLab
from a plain shell would: every cell runs, the lesson's numbers and figures come out, and
TensorFlow's start-up chatter does not (the lessons import it through `experiments.terminal`).

Needs requirements-notebooks.txt (nbclient, ipykernel), which `make test` installs.
"""

import importlib
import json
import pathlib
import re
import sys

import pytest

from scripts import make_notebooks

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
TUTORIALS_DIR = REPO_ROOT / "tutorials"
LESSONS = sorted(path.stem for path in TUTORIALS_DIR.glob("0[0-9]_*.py"))
# The shortest lesson: about 10 s as a notebook on a 2-core machine, kernel start included.
SHORTEST_LESSON = "01_the_recurrence"
CELL_TIMEOUT_S = 180
# What TensorFlow's C++ code writes to stderr on start-up unless `experiments.terminal` hides it.
STARTUP_CHATTER = re.compile(
    r"oneDNN custom operations|cuInit|Unable to register cu|This TensorFlow binary is optimized"
    r"|Could not find cuda drivers|absl::InitializeLog|cpu_feature_guard|rebuild TensorFlow"
)


def require(module):
    try:
        return importlib.import_module(module)
    except ImportError:
        pytest.fail(f"{module} is not installed: {make_notebooks.INSTALL_HINT}")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Runs the `make notebooks` script on every lesson; returns (notebooks dir, kernel prefix)."""
    root = tmp_path_factory.mktemp("made")
    out_dir, prefix = root / "notebooks", root / "kernel-prefix"
    sources = [str(TUTORIALS_DIR / f"{name}.py") for name in LESSONS]
    make_notebooks.main(["--out", str(out_dir), "--kernel-prefix", str(prefix), *sources])
    return out_dir, prefix


def test_every_lesson_becomes_a_notebook_on_the_project_kernel(made):
    nbformat = require("nbformat")
    out_dir, prefix = made
    assert sorted(path.stem for path in out_dir.glob("*.ipynb")) == LESSONS
    for name in LESSONS:
        notebook = nbformat.read(out_dir / f"{name}.ipynb", as_version=4)
        nbformat.validate(notebook)
        assert notebook.metadata["kernelspec"] == {
            "name": "vanilla-rnn-lab",
            "display_name": "Python (vanilla-rnn-lab)",
            "language": "python",
        }
        kinds = [cell.cell_type for cell in notebook.cells]
        assert kinds[0] == "raw" and notebook.cells[0].source.startswith("Title:")
        assert kinds.count("markdown") >= 5 and kinds.count("code") >= 5, (name, kinds)
        for cell in notebook.cells:
            # Text cells must not leak into code cells as bare strings.
            if cell.cell_type == "code":
                assert not cell.source.lstrip().startswith('"""'), (name, cell.source[:80])
                assert cell.source.strip(), f"{name}: an empty code cell (a doubled '# %%')"
                assert not cell.outputs and cell.execution_count is None
            else:
                assert '"""' not in cell.source, (name, cell.source[:80])
    # The kernel is this Python (the .venv's, under `make test`), registered under the prefix.
    spec = json.loads((prefix / "share/jupyter/kernels/vanilla-rnn-lab/kernel.json").read_text())
    assert spec["display_name"] == "Python (vanilla-rnn-lab)"
    assert spec["argv"][0] == sys.executable
    assert "ipykernel_launcher" in spec["argv"]
    # A lesson's first cell imports tutorials/lesson.py, wherever the notebook lies.
    assert spec["env"]["PYTHONPATH"] == str(TUTORIALS_DIR)


def test_shortest_lesson_runs_as_a_notebook(made, tmp_path, monkeypatch, tracking_dir):
    nbformat = require("nbformat")
    nbclient = require("nbclient")
    out_dir, prefix = made
    notebook = nbformat.read(out_dir / f"{SHORTEST_LESSON}.ipynb", as_version=4)
    figures_dir = tmp_path / "out"
    # The kernel inherits this environment (and `tracking_dir`'s private MLflow settings).
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    monkeypatch.setenv("VRL_TUTORIAL_FAST", "1")
    monkeypatch.setenv("VRL_TUTORIAL_OUT", str(figures_dir))
    for name in ("VRL_TUTORIAL_PROFILE", "TF_CPP_MIN_LOG_LEVEL", "MPLBACKEND"):
        monkeypatch.delenv(name, raising=False)

    # Raises CellExecutionError, with the cell and its traceback, if any cell fails.
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        startup_timeout=120,
        # The kernel's working folder: not the lessons' (the kernel finds `lesson.py`).
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    assert client.kernel_name == "vanilla-rnn-lab"  # the one the metadata names

    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    outputs = [output for cell in code_cells for output in cell.outputs]
    assert all(cell.execution_count is not None for cell in code_cells)
    assert not [output for output in outputs if output.output_type == "error"]

    def stream(name):
        return "".join(
            output.text
            for output in outputs
            if output.output_type == "stream" and output.name == name
        )

    chatter = [line for line in stream("stderr").splitlines() if STARTUP_CHATTER.search(line)]
    assert not chatter, "TensorFlow's start-up chatter in the notebook:\n" + "\n".join(chatter)

    # The lesson's output: its printed checks, its figures inline, its saved claims.
    stdout = stream("stdout")
    assert "max |layer - loop| = " in stdout
    assert "max |VanillaRNN - unrolled network| = " in stdout
    figures = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(figures) == 2
    results = json.loads((figures_dir / "01_results.json").read_text())
    assert results["univariate_max_abs_diff"] < 1e-5
    assert f"The numbers this lesson claims: {figures_dir / '01_results.json'}" in stdout
