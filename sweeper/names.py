"""What a sweep spec may name, known without importing torch: every registry's entries as the source declares them.

The registries (``FUSIONS``, ``ENCODERS``, ``LOSSES``, ...) fill themselves as their modules are imported, and those
modules import torch, which takes seconds. A spec is checked long before any model is built (``sweeper check``), so
this module reads the same facts from the package's source with ``ast``, without importing it: each
``@REGISTRY.register(name, description, aliases=..., argument=..., requires=...)`` decorator, and the keyword-only
arguments, with their defaults, of the factory it decorates (a class's ``__init__``, found through its bases).

``registry("FUSIONS")`` is the live registry once its module has been imported (a trial, a test, a plug-in
registered from Python), so that an entry registered at run time counts; before that, the one read from the source.
An entry read from the source builds like a live one: its factory imports its module when first called.
``tests/test_names.py`` checks that both agree on every entry of every registry.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweeper.registry import CONTEXT, Entry, Registry, installed

PACKAGE = Path(__file__).parent
_MISSING = object()


def registry(variable: str) -> Registry[Any]:
    """The registry named ``variable`` (e.g. ``"FUSIONS"``): live if its module is imported, else from the source."""
    module, _ = _declarations().kinds[variable]
    live = getattr(sys.modules.get(module), variable, None)
    return live if isinstance(live, Registry) else declared(variable)


@functools.cache
def declared(variable: str) -> Registry[Any]:
    """The registry named ``variable`` as the source declares it (``registry`` is the one to use; tests compare)."""
    _, kind = _declarations().kinds[variable]
    declared: Registry[Any] = Registry(kind)
    for entry in _declarations().entries.get(variable, []):
        declared.add(entry)
    return declared


class _Deferred:
    """A factory that imports its module when first used; ``name`` is what the module defines."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def resolve(self) -> Callable[..., Any]:
        factory: Callable[..., Any] = getattr(importlib.import_module(self.module), self.name)
        return factory

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(self.resolve())


@dataclass
class _Declarations:
    kinds: dict[str, tuple[str, str]]  # registry variable -> (its module, its kind)
    entries: dict[str, list[Entry[Any]]]  # registry variable -> its entries, in source order


@dataclass
class _Module:
    name: str  # dotted
    tree: ast.Module
    classes: dict[str, ast.ClassDef]
    imported: dict[str, str]  # a name imported from a sweeper module -> that module
    constants: dict[str, Any]  # module-level NAME = <literal>


@functools.cache
def _declarations() -> _Declarations:
    """Every registry and entry in the package; only modules that mention one are parsed (and their bases')."""
    modules = _Modules()
    kinds: dict[str, tuple[str, str]] = {}
    entries: dict[str, list[Entry[Any]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        if "Registry(" not in text and ".register(" not in text:
            continue
        name = _dotted(path)
        if name not in modules:  # already parsed if it holds a base of an earlier module's entry
            modules[name] = _read_module(name, text)
        module = modules[name]
        for node in module.tree.body:
            target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
            value = getattr(node, "value", None)
            if (
                isinstance(target, ast.Name)
                and isinstance(value, ast.Call)
                and isinstance(value.func, ast.Name)
                and value.func.id == "Registry"
            ):
                kinds[target.id] = (module.name, ast.literal_eval(value.args[0]))
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                for decorator in node.decorator_list:
                    found = _registration(decorator)
                    if found is not None:
                        variable, arguments = found
                        entry = _entry(arguments, node, module, modules)
                        if entry is not None:
                            entries.setdefault(variable, []).append(entry)
    return _Declarations(kinds, entries)


def _dotted(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


class _Modules(dict[str, "_Module"]):
    """Sweeper's modules by dotted name, each parsed when first asked for."""

    def __missing__(self, name: str) -> _Module:
        relative = Path(*name.split(".")[1:])
        path = PACKAGE / relative.with_suffix(".py")
        module = _read_module(name, (path if path.is_file() else PACKAGE / relative / "__init__.py").read_text())
        self[name] = module
        return module


def _read_module(name: str, text: str) -> _Module:
    tree = ast.parse(text)
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    imported: dict[str, str] = {}
    constants: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sweeper"):
            imported.update({alias.asname or alias.name: node.module for alias in node.names})
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = _literal(node.value, {})
            if value is not _MISSING:
                constants[node.targets[0].id] = value
    return _Module(name, tree, classes, imported, constants)


def _registration(decorator: ast.expr) -> tuple[str, dict[str, Any]] | None:
    """``@VARIABLE.register("name", "description", key=value...)`` -> (VARIABLE, its arguments), else None."""
    if not (
        isinstance(decorator, ast.Call)
        and isinstance(decorator.func, ast.Attribute)
        and decorator.func.attr == "register"
        and isinstance(decorator.func.value, ast.Name)
    ):
        return None
    names = ("name", "description")
    arguments = {names[i]: ast.literal_eval(arg) for i, arg in enumerate(decorator.args)}
    arguments |= {k.arg: ast.literal_eval(k.value) for k in decorator.keywords if k.arg}
    return decorator.func.value.id, arguments


def _entry(
    arguments: dict[str, Any], node: ast.ClassDef | ast.FunctionDef, module: _Module, modules: _Modules
) -> Entry[Any] | None:
    requires = arguments.pop("requires", None)
    if requires is not None and not installed(requires):
        return None  # as Registry.register does: an optional plug-in registers only when its package is installed
    signature = _signature(node, module, modules) if isinstance(node, ast.ClassDef) else (node, module)
    hyperparameters = _keyword_defaults(*signature) if signature else {}
    return Entry(factory=_Deferred(module.name, node.name), hyperparameters=hyperparameters, **arguments)


def _signature(node: ast.ClassDef, module: _Module, modules: _Modules) -> tuple[ast.FunctionDef, _Module] | None:
    """The ``__init__`` a class is called with: its own, or the first of its bases' (depth first, as Python's MRO
    is for the single-inheritance trees registered here); None when no base is sweeper's own."""
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            return item, module
    for base in node.bases:
        if not isinstance(base, ast.Name):
            continue
        if base.id in module.classes:
            found = _signature(module.classes[base.id], module, modules)
        elif base.id in module.imported:
            home = modules[module.imported[base.id]]
            while base.id not in home.classes and base.id in home.imported:  # re-exported by a package
                home = modules[home.imported[base.id]]
            if base.id not in home.classes:
                continue
            found = _signature(home.classes[base.id], home, modules)
        else:
            continue
        if found is not None:
            return found
    return None


def _keyword_defaults(function: ast.FunctionDef, module: _Module) -> dict[str, Any]:
    """Keyword-only arguments with a default, as ``Entry.hyperparameters`` has them."""
    hyperparameters: dict[str, Any] = {}
    for arg, default in zip(function.args.kwonlyargs, function.args.kw_defaults, strict=True):
        if default is None or arg.arg in CONTEXT:
            continue
        value = _literal(default, module.constants)
        if value is _MISSING:
            raise SyntaxError(
                f"{module.name}.{function.name}: the default of {arg.arg!r} is not a literal, so it cannot be read "
                "without importing the module; write it as a literal"
            )
        hyperparameters[arg.arg] = value
    return hyperparameters


def _literal(node: ast.expr, constants: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    try:
        return ast.literal_eval(node)
    except ValueError:
        return _MISSING
