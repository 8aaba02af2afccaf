"""The academy package's modules import each other without a cycle.

The graph is read from the source, so a function-local import that only dodges a cycle at
import time still counts; imports under `if TYPE_CHECKING:` do not (they never run).
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "academy"


def module_names(package: Path = PACKAGE) -> dict[str, Path]:
    """Map every module of the package to its file ("academy.auth" is academy/auth/__init__.py)."""
    names = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement at any depth, except those in the body of `if TYPE_CHECKING:`."""
    found = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Return the academy modules that module `name` imports when it runs."""
    is_package = path.name == "__init__.py"
    targets = set()
    for node in _runtime_imports(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                base = ".".join(here + ([base] if base else []))
            # `from academy.x import name` imports academy.x, and academy.x.name when that is a module.
            candidates = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for candidate in candidates:
            # `import academy.a.b` runs academy.a.b; its nearest known module stands for it.
            while candidate and candidate not in modules:
                candidate = candidate.rpartition(".")[0]
            if candidate.startswith("academy") and candidate != name:
                targets.add(candidate)
    return targets


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the shortest cycle through each group of modules that import each other (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted((_shortest_cycle(graph, group) for group in groups), key=lambda c: (len(c), c))


def _shortest_cycle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """Return the shortest cycle inside a strongly connected group, as a closed path."""
    best: list[str] = []
    for start in sorted(group):
        paths = {start: [start]}
        frontier = [start]
        found: list[str] = []
        while frontier and not found:  # breadth first: the first way back is a shortest one
            later = []
            for node in frontier:
                for nxt in sorted(graph[node] & group):
                    if nxt == start and not found:
                        found = paths[node] + [start]
                    elif nxt not in paths:
                        paths[nxt] = paths[node] + [nxt]
                        later.append(nxt)
            frontier = later
        if found and (not best or len(found) < len(best)):
            best = found
    return best


def test_the_graph_sees_function_local_and_relative_imports(tmp_path):
    package = tmp_path / "academy"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from . import one\n")
    (package / "sub" / "one.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from academy import two\n"
        "def f():\n    from ..two import g\n"
    )
    (package / "two.py").write_text("from academy.sub import one\n")
    modules = module_names(package)
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    assert graph["academy.sub"] == {"academy.sub.one"}
    assert graph["academy.sub.one"] == {"academy.two"}
    assert graph["academy.two"] == {"academy.sub", "academy.sub.one"}
    assert find_cycles(graph) == [["academy.sub.one", "academy.two", "academy.sub.one"]]


# Cycles being broken in another change of issue 14; nothing may join them.
def _listed(cycles: list[list[str]]) -> str:
    return "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_import_cycle():
    cycles = find_cycles(import_graph())
    assert not cycles, _listed(cycles)
