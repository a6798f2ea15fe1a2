"""The package's import graph: no cycle, numdiff at the bottom, experiments at the top.

Every import is counted: module level, inside functions and under ``TYPE_CHECKING``. An edge
goes from a module to the module it names (``from .pkg import name`` names ``pkg.name`` when
that is a module, else ``pkg``, i.e. the package's ``__init__``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "deep_learning_toolkit"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted((SRC / PACKAGE).rglob("*.py"))}


def resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = resolve(name, is_package, node)
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.append(full if full in known else base)
            for target in targets:
                if target in known and target != name:
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of modules, or ``None``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_graph_sees_every_kind_of_import():
    graph = import_graph()
    assert f"{PACKAGE}.nn.layer" in graph[f"{PACKAGE}.nn.dense"]  # module level
    assert f"{PACKAGE}.experiments.sweep" in graph[PACKAGE]  # inside a function (dlt.sweep)
    assert f"{PACKAGE}.model" in graph[f"{PACKAGE}.baselines.torch_twin"]  # TYPE_CHECKING


def test_find_cycle_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_numdiff_imports_nothing_above_it():
    allowed_prefixes = (f"{PACKAGE}.numdiff", f"{PACKAGE}._validation")
    offenders = {
        (module, target)
        for module, targets in import_graph().items()
        if module.startswith(f"{PACKAGE}.numdiff")
        for target in targets
        if not target.startswith(allowed_prefixes)
    }
    assert offenders == set()


@pytest.mark.parametrize("top", ["experiments", "train", "study"])
def test_the_library_never_imports_commands_or_experiments(top):
    """Only the command lines, the experiments themselves and ``dlt.sweep`` (a lazy alias in
    the package root) may import the experiment code."""
    above = {f"{PACKAGE}.experiments", f"{PACKAGE}.train", f"{PACKAGE}.study"}
    offenders = {
        module
        for module, targets in import_graph().items()
        if any(t == f"{PACKAGE}.{top}" or t.startswith(f"{PACKAGE}.{top}.") for t in targets)
        and module != PACKAGE
        and not any(module == a or module.startswith(a + ".") for a in above)
    }
    assert offenders == set()


def test_layers_and_gradients_do_not_know_the_model():
    """nn and gradients see networks through Network and Layer, never Sequential."""
    offenders = {
        (module, target)
        for module, targets in import_graph().items()
        if module.startswith((f"{PACKAGE}.nn", f"{PACKAGE}.gradients", f"{PACKAGE}.optim"))
        for target in targets
        if target in {f"{PACKAGE}.model", f"{PACKAGE}.io", f"{PACKAGE}.training"}
        or target.startswith(f"{PACKAGE}.training.")
    }
    assert offenders == set()


def test_model_module_is_small():
    lines = (SRC / PACKAGE / "model.py").read_text().count("\n")
    assert lines <= 320, f"model.py has {lines} lines; move a concept to its own module"
