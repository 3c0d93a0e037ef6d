"""The layout keeps its promises: short functions, short modules, no import cycles.

- No function in `experiments/`, `rnn_layers/` or `datasets/` is longer than 60 lines
  (from its `def` to its last line, docstring included): one screen to read.
- No module in `experiments/` is longer than 400 lines.
- At most 5 modules stand loose in `experiments/` beside `__init__` and `__main__`; the
  rest live in packages that say what they hold.
- The modules of the three packages import each other without a cycle, counting the
  imports inside functions too; so do the packages of `experiments/` (a module of one
  importing a module of another is an edge between the two packages): layers import
  downwards only.

Complexity (ruff's mccabe rule, C901, max 10) is checked by `make lint`.
"""

import ast
import pathlib

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("experiments", "rnn_layers", "datasets")
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400
MAX_LOOSE_MODULES = 5


def _modules():
    """Module name -> path, for every module of the three packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            parts = path.relative_to(REPO_ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _functions(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def test_no_function_is_longer_than_a_screen():
    long = [
        f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name} "
        f"({node.end_lineno - node.lineno + 1} lines)"
        for path in MODULES.values()
        for node in _functions(ast.parse(path.read_text()))
        if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: split them by meaning: {long}"


def test_no_experiments_module_is_longer_than_400_lines():
    long = {
        str(path.relative_to(REPO_ROOT)): len(path.read_text().splitlines())
        for name, path in MODULES.items()
        if name.startswith("experiments") and len(path.read_text().splitlines()) > MAX_MODULE_LINES
    }
    assert not long, long


def test_few_modules_stand_loose_in_experiments():
    loose = sorted(
        path.name
        for path in (REPO_ROOT / "experiments").glob("*.py")
        if path.name not in ("__init__.py", "__main__.py")
    )
    assert len(loose) <= MAX_LOOSE_MODULES, loose


def _imported_modules(name, path):
    """The project modules `name` imports (`from a import b` counts `a.b` when it is one)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}".rstrip(".")
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                imported.add(submodule if submodule in MODULES else base)
    return {module for module in imported if module in MODULES and module != name}


def _cycle(graph):
    """One import cycle as a list of modules, or None."""
    state = {}

    def visit(module, trail):
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return [*trail[trail.index(target) :], target]
            if target not in state:
                found = visit(target, [*trail, target])
                if found:
                    return found
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            found = visit(module, [module])
            if found:
                return found
    return None


def test_no_import_cycle_even_through_imports_inside_functions():
    graph = {name: _imported_modules(name, path) for name, path in MODULES.items()}
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph))}"


def _package_of(module):
    """`experiments.sweep.driver` -> `experiments.sweep`; a loose module is its own package;
    `rnn_layers.layer` -> `rnn_layers`."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "experiments" and len(parts) > 1 else parts[0]


def _package_graph(module_graph):
    graph = {}
    for module, targets in module_graph.items():
        package = _package_of(module)
        graph.setdefault(package, set())
        for target in targets:
            if _package_of(target) != package and package != "experiments":
                graph[package].add(_package_of(target))
    return graph


def test_no_import_cycle_between_packages():
    modules = {name: _imported_modules(name, path) for name, path in MODULES.items()}
    graph = _package_graph(modules)
    assert _cycle(graph) is None, f"package import cycle: {' -> '.join(_cycle(graph))}"


def test_the_package_graph_sees_a_cycle_that_no_module_cycle_shows():
    # training.member -> probes.weights, probes.state_gradients -> training.autodiff: no
    # module imports itself back, but the packages do.
    modules = {
        "experiments.training.member": {"experiments.probes.weights"},
        "experiments.probes.weights": set(),
        "experiments.probes.state_gradients": {"experiments.training.autodiff"},
        "experiments.training.autodiff": set(),
    }
    assert _cycle(modules) is None
    assert _cycle(_package_graph(modules)) == [
        "experiments.probes",
        "experiments.training",
        "experiments.probes",
    ]


@pytest.mark.parametrize(
    "graph, cycle",
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ],
)
def test_the_cycle_finder_finds_cycles(graph, cycle):
    assert _cycle(graph) == cycle
