"""The base of every section of a sweep spec (unknown keys are errors that list the allowed ones), and the one way
a validation error becomes a line a user can act on (``first_error``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from sweeper.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """A frozen pydantic model whose unknown keys are reported as "unknown key 'x'; allowed: a, b"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if key not in cls.model_fields:
                    raise ValueError(f"unknown key {key!r}; allowed: {', '.join(cls.model_fields)}")
        return data


@dataclass(frozen=True)
class Union:
    """A tagged union as the user meets it: its tag key (``type``), what the tag means ("parameter type"), the
    allowed tags, and where the union sits (``"parameters.*"``: ``*`` is any key). Pydantic puts the tag into an
    error's location, right after that place; the user never wrote it as a key."""

    key: str
    noun: str
    tags: Sequence[str]
    at: tuple[str, ...]

    def under(self, prefix: str) -> Union:
        """The same union inside a section at ``prefix`` (``data``)."""
        return Union(self.key, self.noun, self.tags, tuple(f"{prefix}.{place}" for place in self.at))


def first_error(
    exc: ValidationError, unions: Sequence[Union], inputs: Mapping[str, Callable[[Any], Any]] | None = None
) -> tuple[str, str]:
    """The first error of ``exc`` as (where, what) in the user's terms.

    Where is the path of keys as the user wrote them, without the union tags of ``unions`` or validators' names.
    An unknown or missing tag reads "unknown kind 'img'; allowed: ..." or "'kind' is missing; allowed kinds: ...".
    What ends with the value given, except for a missing key or a check's own message (which names it); ``inputs``
    maps an error type to the part of its input to show.
    """
    err = exc.errors()[0]
    parts = _written(err["loc"], unions)
    ctx = err.get("ctx", {})
    key = str(ctx.get("discriminator", "")).strip("'")
    union = next((u for u in unions if u.key == key), None)
    if union and err["type"] in ("union_tag_not_found", "union_tag_invalid"):
        if err["type"] == "union_tag_not_found":
            return ".".join(parts), f"{key!r} is missing; allowed {key}s: {', '.join(union.tags)}"
        return ".".join([*parts, key]), f"unknown {union.noun} {ctx.get('tag')!r}; allowed: {', '.join(union.tags)}"
    if parts[-1:] == ["[key]"]:  # a mapping key of the wrong type, e.g. `1:` under parameters
        key_value = err["input"]
        return ".".join(parts[:-2]), f"key {key_value!r} is {type(key_value).__name__}; expected a name (a string)"
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] not in ("value_error", "missing"):  # a missing key's input is the mapping that lacks it
        shown = (inputs or {}).get(err["type"], lambda value: value)(err.get("input"))
        message += f" (got {shown!r})"
    return ".".join(parts), message


def parse_mapping(
    model: type[M],
    data: Any,
    source: str,
    unions: Sequence[Union],
    inputs: Mapping[str, Callable[[Any], Any]] | None = None,
    *,
    what: str,
    key_path: bool = False,
) -> M:
    """``data`` validated as ``model`` (``what`` says what it must be: "a sweep spec must be a YAML mapping");
    every problem is one ConfigError line that starts with ``source``: a file
    ("s.yaml: parameters.lr: ...") or, with ``key_path``, the key the mapping sits under ("data.split: ...")."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {what}, but got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        loc, message = first_error(exc, unions, inputs)
        where = f"{source}.{loc}" if key_path and loc else f"{source}: {loc}" if loc else source
        raise ConfigError(f"{where}: {message}") from None


def _written(location: tuple[int | str, ...], unions: Sequence[Union]) -> list[str]:
    """``location`` as the user wrote it: without validators' names, and without the tag after each union."""
    places = [place.split(".") for union in unions for place in union.at]
    parts: list[str] = []
    tag_next = False
    for part in location:
        if str(part).startswith("function-"):
            continue
        if tag_next and part != "[key]":
            tag_next = False
            continue
        parts.append(str(part))
        tag_next = any(_matches(place, parts) for place in places)
    return parts


def _matches(place: list[str], parts: list[str]) -> bool:
    return len(place) == len(parts) and all(p in ("*", q) for p, q in zip(place, parts, strict=True))
