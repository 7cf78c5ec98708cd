"""The import structure DESIGN.md describes, checked on the source (issue #11).

- ``domain/``, ``models/`` and ``kit/`` never import the layers above them (``rooms/``, ``edges/``,
  ``web/``, ``app``, ``cli``); ``kit/`` and ``models/`` not ``domain/`` either; ``web/`` does not
  import ``edges/``.
- No import cycles between modules.
- Imports at module top: a function-level import hides a cycle or a layering slip. Only the CLI
  imports lazily, so `podium --help` does not load the whole server.
- Repositories are used under ``domain/`` only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

# Nothing here reads the database: the PostgreSQL pass skips it (tests/conftest.py).
pytestmark = pytest.mark.once

SOURCE = Path(__file__).resolve().parents[1] / "src"
UPPER = ("podium.rooms", "podium.streaming", "podium.edges", "podium.web", "podium.app", "podium.cli")
LAZY_IMPORTS_ALLOWED = {"podium.cli"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in (SOURCE / "podium").rglob("*.py"):
        name = ".".join(path.relative_to(SOURCE).with_suffix("").parts).removesuffix(".__init__")
        found[name] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> list[tuple[str, bool, int]]:
    """(imported podium module, at module top?, line) for every import in the file."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            if target in MODULES:
                found.append((target, id(node) in top, node.lineno))
    return found


GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _within(name: str, *packages: str) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("podium.domain", UPPER),
        ("podium.models", (*UPPER, "podium.domain")),
        ("podium.kit", (*UPPER, "podium.domain")),
        ("podium.web", ("podium.edges",)),
    ],
)
def test_no_arrow_runs_up(layer: str, forbidden: tuple[str, ...]) -> None:
    wrong = [
        f"{name}:{line} imports {target}"
        for name, imports in GRAPH.items()
        if _within(name, layer)
        for target, _, line in imports
        if _within(target, *forbidden)
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    graph = {name: {target for target, _, _ in imports} for name, imports in GRAPH.items()}
    cycles: list[list[str]] = []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    counter = 0

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in graph:
        if name not in index:
            visit(name)
    assert not cycles, cycles


def test_imports_at_module_top() -> None:
    lazy = [
        f"{name}:{line} imports {target} inside a function"
        for name, imports in GRAPH.items()
        if name not in LAZY_IMPORTS_ALLOWED
        for target, at_top, line in imports
        if not at_top
    ]
    assert not lazy, "\n".join(lazy)


def test_repositories_only_under_domain() -> None:
    outside = [
        f"{name}:{line} imports {target}"
        for name, imports in GRAPH.items()
        if not _within(name, "podium.domain")
        for target, _, line in imports
        if target.endswith(".repository") or target.rsplit(".", 1)[-1].endswith("Repository")
    ]
    assert not outside, "\n".join(outside)
