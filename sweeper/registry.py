"""One small generic name -> factory registry, used by encoders, fusions, heads and losses.

The YAML value is the registry key (``fusion: gated``). Registering a name twice is an error, and ``create``
passes a factory only the keyword arguments its signature accepts and that are not None, so a conditional
hyperparameter (``heads`` for attention fusions only) is honoured where it applies and ignored elsewhere.
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sweeper.errors import RegistryError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered factory with the facts ``sweeper list`` shows."""

    name: str
    factory: Callable[..., T]
    description: str
    aliases: tuple[str, ...] = ()  # other names users know it by (e.g. a reference system's)
    # A parametrised entry is named "<name>:<value>" (``only:image``); this names what the value is ("modality").
    argument: str | None = None
    # Keyword-only arguments the factory takes beyond the ones every member of its kind takes, with their defaults.
    hyperparameters: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def shown_name(self) -> str:
        """The name as ``sweeper list`` and messages show it: ``only:<modality>`` for a parametrised entry."""
        return f"{self.name}:<{self.argument}>" if self.argument else self.name


def keyword_defaults(factory: Callable[..., Any]) -> dict[str, Any]:
    """A factory's hyperparameters: its keyword-only arguments that have a default, but not the CONTEXT ones."""
    params = inspect.signature(factory).parameters
    return {
        n: p.default
        for n, p in params.items()
        if p.kind is p.KEYWORD_ONLY and p.default is not inspect.Parameter.empty and n not in CONTEXT
    }


def installed(package: str) -> bool:
    """Whether ``package`` can be imported, found without importing it (an optional plug-in's test)."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # ValueError: blocked, sys.modules[package] is None
        return False


# Keyword arguments a builder supplies from the data and model, not hyperparameters: the modalities' names (so that
# a fusion's `conditioner: note` can name one) and their encoders' costs (for a fusion that learns to skip some).
CONTEXT = frozenset({"modality_names", "modality_costs"})


class Registry(Generic[T]):
    """Maps names to factories of one kind (``kind`` is used in messages: "unknown fusion 'gatd'")."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self._aliases: dict[str, str] = {}  # alias -> name

    def register(
        self,
        name: str,
        description: str,
        *,
        aliases: tuple[str, ...] = (),
        argument: str | None = None,
        requires: str | None = None,
    ) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator registering ``factory`` under ``name`` (and ``aliases``); a name taken twice raises
        RegistryError. A registered class gets ``name`` as its class attribute ``name``. With ``argument``, the
        entry is parametrised: it answers to ``<name>:<value>`` (the factory reads the value from the name it is
        built for), e.g. ``only:image`` with ``argument="modality"``. With ``requires``, an optional plug-in: it is
        registered only when that package is installed.

        Write it as a decorator with literal arguments: ``sweeper.names`` reads it from the source to check a spec
        without importing torch."""

        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if requires is not None and not installed(requires):
                return factory
            self.add(Entry(name, factory, description, aliases, argument, keyword_defaults(factory)))
            if isinstance(factory, type):
                factory.name = name  # type: ignore[attr-defined]  # the key, written once: in messages and in `sweeper list`
            return factory

        return decorator

    def add(self, entry: Entry[T]) -> None:
        """Add an entry (``register`` makes one from a factory); a name or alias taken twice raises RegistryError."""
        for key in (entry.name, *entry.aliases):
            if key in self:
                raise RegistryError(f"{self.kind} {key!r} is registered twice")
        self._entries[entry.name] = entry
        self._aliases.update(dict.fromkeys(entry.aliases, entry.name))

    def get(self, name: str) -> Entry[T]:
        """The entry of ``name``, of one of its aliases, or the parametrised entry ``name`` is a value of."""
        entry = self._find(name)
        if entry is None:
            raise RegistryError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names(aliases=True))}")
        return entry

    def _find(self, name: str) -> Entry[T] | None:
        entry = self._entries.get(self._aliases.get(name, name))
        if entry is None and isinstance(name, str) and ":" in name:
            base, _, value = name.partition(":")
            parametrised = self._entries.get(base)
            entry = parametrised if parametrised is not None and parametrised.argument and value else None
        return entry

    def create(self, name: str, /, *args: Any, **kwargs: Any) -> T:
        """Build ``name``, dropping keyword arguments that are None or that its factory does not take."""
        factory = self.get(name).factory
        params = inspect.signature(factory).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        kept = {k: v for k, v in kwargs.items() if v is not None and (takes_any or k in params)}
        return factory(*args, **kept)

    def names(self, *, aliases: bool = False) -> list[str]:
        """Every name as written in YAML; a parametrised entry as ``<name>:<argument>``."""
        return sorted([*(e.shown_name for e in self._entries.values()), *(self._aliases if aliases else ())])

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) is not None

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries[n] for n in sorted(self._entries))
