"""rnn_layers keeps its functions short and simple (issue 25): at most 60 lines
each, def line to last line, and a McCabe complexity of at most 10."""

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "rnn_layers"
MAX_LINES = 60
MAX_COMPLEXITY = 10


def function_lengths():
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                yield f"{path.name}:{node.lineno} {node.name}", length


def test_the_package_has_functions():
    # Guards the walk itself: an empty one would pass the test below vacuously.
    assert any(name.endswith(" run_recurrence") for name, _ in function_lengths())


def test_no_function_longer_than_the_limit():
    too_long = {name: length for name, length in function_lengths() if length > MAX_LINES}
    assert not too_long, f"functions over {MAX_LINES} lines: {too_long}"


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
def test_mccabe_complexity_within_the_limit():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--isolated",
            "--select",
            "C901",
            "--config",
            f"lint.mccabe.max-complexity={MAX_COMPLEXITY}",
            "--output-format",
            "concise",
            str(PACKAGE),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
