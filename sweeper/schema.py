"""The base of every section of a sweep spec: unknown keys are errors that list the allowed ones."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


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
