"""The package's modules import each other in one direction: no two modules import each other, directly or around a
loop. Imports of a package's ``__init__`` do not count, since a registry package imports its members and they import
its registry.

At module level this holds for the whole package. Counting imports inside functions too (the way around a cycle
that hides it), it holds for the layers below the sweep: models, train, data and the spec."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "sweeper"


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"}


def _imports(path: Path, *, local: bool) -> list[str]:
    """Names imported at module level (``local``: in functions too), outside ``if TYPE_CHECKING:``;
    ``from a import b`` gives a.b and a."""
    names: list[str] = []
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree) if local else tree.body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
    return names


def _check_acyclic(modules: dict[str, Path], *, local: bool) -> None:
    graph = {
        name: {n for n in _imports(path, local=local) if n in modules and n != name} for name, path in modules.items()
    }
    assert sum(len(edges) for edges in graph.values()) > 30, "the import graph was not read"
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_no_module_imports_itself_around_a_loop() -> None:
    _check_acyclic(_modules(), local=False)


def test_models_train_data_and_the_spec_have_no_loop_even_through_function_imports() -> None:
    layers = ("sweeper.models.", "sweeper.train.", "sweeper.data.", "sweeper.config", "sweeper.registry")
    _check_acyclic({n: p for n, p in _modules().items() if n.startswith(layers)}, local=True)
