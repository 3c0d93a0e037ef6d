"""Every dotted `experiments.…` name in a docstring or a comment names something that exists.

A module moved or a function renamed leaves its old name in the prose around it, where no
import fails: a reader then looks for a module that is not there. This reads every
docstring (`ast`) and every comment (`tokenize`) of the packages and scripts below, and
resolves each name the way Python would: the longest prefix that is a module is imported
(once per module), and the rest must be its attributes (`experiments.report.writer.Report`).

Inside `experiments/` the prose names its modules without the package too, in backticks
(`training.run_job`, `tracking.RunLogger`): such a name, when it starts with one of the
package's modules, is read as `experiments.<name>`, unless it is one of the run schema's
own strings (the tag `sweep.heartbeat` is a name in MLflow, not in Python), a pattern
(`schema.TIME_*`) or a file (`__main__.py`).
"""

import ast
import functools
import importlib
import importlib.util
import io
import pathlib
import pkgutil
import re
import tokenize

import pytest

import experiments
from experiments import schema

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
# `experiments.report.writer.Report`; not `experiments/...` (a path) nor `my_experiments.x`.
DOTTED_NAME = re.compile(r"(?<![\w.])experiments(?:\.[A-Za-z_]\w*)+")
# `tracking.RunLogger` in backticks, inside `experiments/`: a name relative to the package.
PACKAGE_MODULES = sorted(module.name for module in pkgutil.iter_modules(experiments.__path__))
RELATIVE_NAME = re.compile(
    r"`((?:" + "|".join(map(re.escape, PACKAGE_MODULES)) + r")(?:\.[A-Za-z_]\w*)+)(?![\w*])"
)
SCHEMA_STRINGS = {value for value in vars(schema).values() if isinstance(value, str)}
AREAS = ("rnn_layers", "datasets", "experiments", "tutorials", "benchmarks", "scripts")


def _sources(area):
    """The .py files of `area` (a folder of the repository)."""
    for path in sorted((REPO_ROOT / area).rglob("*.py")):
        relative = path.relative_to(REPO_ROOT)
        if "out" in relative.parts:
            continue
        yield relative


def _texts(source):
    """(line, text) of every docstring and every comment of a module's source."""
    tree = ast.parse(source)
    nodes = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for node in ast.walk(tree):
        if isinstance(node, nodes):
            docstring = ast.get_docstring(node, clean=False)
            if docstring:
                yield node.body[0].lineno, docstring
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string


# A module that exists but needs an optional package this environment lacks (Ray).
UNIMPORTABLE = object()


@functools.cache
def _module(name):
    """The module `name`, imported; None when there is no such module; `UNIMPORTABLE`
    when it exists but imports a package that is not installed here."""
    try:
        if importlib.util.find_spec(name) is None:
            return None
    except ModuleNotFoundError:  # a parent is not a package
        return None
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name and not error.name.startswith("experiments"):
            return UNIMPORTABLE
        raise


def names_in(text, relative=False):
    """The dotted names of `experiments` in `text`, relative ones made absolute too when
    `relative` (a text inside the package)."""
    names = set(DOTTED_NAME.findall(text))
    if relative:
        names |= {
            f"experiments.{name}"
            for name in RELATIVE_NAME.findall(text)
            if name not in SCHEMA_STRINGS and not name.endswith(".py")  # a file: `__main__.py`
        }
    return sorted(names)


def resolves(name):
    """Whether a dotted name is a module, or an attribute (path) of its longest module prefix."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        found = _module(".".join(parts[:end]))
        if found is None:
            continue
        if found is UNIMPORTABLE:
            return True  # it exists; what it holds cannot be read without the package
        for attribute in parts[end:]:
            if not hasattr(found, attribute):
                return False
            found = getattr(found, attribute)
        return True
    return False


def stale_names(area):
    """`path:line: name` of every name in `area`'s docstrings and comments that does not
    resolve."""
    stale = []
    for relative in _sources(area):
        inside = relative.parts[0] == "experiments"
        for line, text in _texts((REPO_ROOT / relative).read_text()):
            for name in names_in(text, relative=inside):
                if not resolves(name):
                    stale.append(f"{relative}:{line}: {name}")
    return stale


@pytest.mark.parametrize("area", AREAS)
def test_every_dotted_name_in_docstrings_and_comments_resolves(area):
    stale = stale_names(area)
    assert not stale, "names of nothing that exists:\n" + "\n".join(stale)


def test_the_check_finds_a_stale_name_and_accepts_a_live_one():
    source = (
        '"""See `experiments.report.writer.write_report` and `experiments.sweep_claim`."""\n'
        "# experiments.tracking.outage.StoreGuard.call, experiments.schema.NO_SUCH_NAME\n"
        "x = 'experiments.not_in_a_docstring'\n"
    )
    names = {name for _, text in _texts(source) for name in DOTTED_NAME.findall(text)}
    assert names == {
        "experiments.report.writer.write_report",
        "experiments.sweep_claim",
        "experiments.tracking.outage.StoreGuard.call",
        "experiments.schema.NO_SUCH_NAME",
    }
    assert {name for name in names if not resolves(name)} == {
        "experiments.sweep_claim",
        "experiments.schema.NO_SUCH_NAME",
    }
    assert DOTTED_NAME.findall("my_experiments.x, experiments/sweep/driver.py") == []
    relative = (
        "`tracking.RunLogger`, `training.no_such_job`, `sweep.heartbeat`, `schema.TIME_*`, "
        "`__main__.py`"
    )
    assert names_in(relative, relative=True) == [
        "experiments.tracking.RunLogger",
        "experiments.training.no_such_job",
    ]
    assert names_in(relative) == []
