"""What the code imports is installed by requirements.txt alone, not by an optional extra.

`make test` installs requirements-ray.txt and requirements-notebooks.txt too, so a package
that only an extra brings in (psutil came with ipykernel) would pass the tests here and
fail on a user's fresh `make experiment`. This test walks the imports of the installed
library, the tasks and the runner, maps them to distributions, and checks each one is in
the dependency closure of requirements.txt's pins.
"""

import ast
import importlib.metadata as metadata
import pathlib
import re
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("rnn_layers", "datasets", "experiments")
# Imported only with the Ray executor (requirements-ray.txt), by design.
OPTIONAL = {"ray"}
# Needed at run time by a library we call, not imported by our code: MLflow's system
# metrics monitor reads the machine through psutil.
USED_THROUGH_LIBRARIES = {"psutil"}


def _normalise(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(requirements):
    seen = set()
    todo = [_normalise(name) for name in requirements]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for requirement in requires:
            if "extra ==" in requirement:
                continue
            todo.append(_normalise(re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0]))
    return seen


def _imported_modules():
    modules = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    return modules - set(PACKAGES) - set(sys.stdlib_module_names) - OPTIONAL


def test_every_import_of_the_code_is_installed_by_requirements_txt():
    pins = [
        line.split("==")[0].split("[")[0]
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.lstrip().startswith("#")
    ]
    closure = _closure(pins)
    distributions = metadata.packages_distributions()
    needed = {}
    for module in _imported_modules() | USED_THROUGH_LIBRARIES:
        names = distributions.get(module)
        if not names:
            pytest.fail(f"`import {module}`: no installed distribution provides it")
        needed[module] = {_normalise(name) for name in names}
    missing = {module: names for module, names in needed.items() if not names & closure}
    assert not missing, (
        f"imported but only installed by an extra (add to requirements.txt): {missing}"
    )
