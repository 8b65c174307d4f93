"""The package's modules import each other in one direction: no two modules import each other, directly or around a
loop. Imports of a package's ``__init__`` do not count, since a registry package imports its members and they import
its registry.

Imports inside functions count too: deferring an import is the usual way to hide a cycle, not to remove it."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "sweeper"


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"}


def _imports(path: Path) -> list[str]:
    """Every name the module imports, at module level, in functions or under ``if TYPE_CHECKING:``;
    ``from a import b`` gives a.b and a."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
    return names


def _check_acyclic(modules: dict[str, Path]) -> None:
    graph = {name: {n for n in _imports(path) if n in modules and n != name} for name, path in modules.items()}
    assert sum(len(edges) for edges in graph.values()) > 30, "the import graph was not read"
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_no_module_imports_itself_around_a_loop_even_through_imports_inside_functions() -> None:
    _check_acyclic(_modules())
