"""Packages whose re-exports are imported when first used (PEP 562), so that importing one light submodule
(``sweeper.models.config``) does not import torch through its package's ``__init__``.

A lazy package writes its re-exports once, as imports under ``if TYPE_CHECKING:`` (what type checkers and readers
see), and ends with ``__getattr__, __dir__ = lazy_exports(__name__, __file__)``: that block is read from the file and
each name is imported from its module on first access.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def lazy_exports(package: str, file: str) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, from the ``if TYPE_CHECKING:`` imports of its ``file``."""
    homes: dict[str, tuple[str, str]] = {}  # exported name -> (the module it comes from, its name there)
    for node in ast.parse(Path(file).read_text()).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    homes.update({a.asname or a.name: (statement.module, a.name) for a in statement.names})
    if not homes:
        raise ImportError(f"{package}: no 'if TYPE_CHECKING:' imports to export lazily in {file}")

    def __getattr__(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, original = homes[name]
        value = getattr(importlib.import_module(module), original)
        setattr(sys.modules[package], name, value)  # found directly from now on
        return value

    def __dir__() -> list[str]:
        return sorted(homes)

    return __getattr__, __dir__
