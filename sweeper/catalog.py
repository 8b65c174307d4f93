"""What can be named in a sweep spec: every registered fusion, strategy, encoder, head and loss."""

from __future__ import annotations

from typing import Any

from sweeper.models import ENCODERS, FUSIONS, HEADS, STRATEGIES
from sweeper.models.build import ONLY
from sweeper.registry import Registry
from sweeper.train import LOSSES

SECTIONS = ("fusions", "encoders", "heads", "losses")


def catalog() -> dict[str, list[dict[str, Any]]]:
    """Per section, one row per name: name, one-line description, hyperparameters with their defaults."""
    fusions = _rows(FUSIONS) + _rows(STRATEGIES, "strategy: ")
    fusions.append(
        {
            "name": f"{ONLY}<modality>",
            "description": "single-modality baseline: one encoder and the heads",
            "hyperparameters": {},
        }
    )
    encoders = _rows(ENCODERS)
    for row in encoders:
        row["kind"] = getattr(ENCODERS.get(row["name"]).factory, "kind", "")
    return {"fusions": fusions, "encoders": encoders, "heads": _rows(HEADS), "losses": _rows(LOSSES)}


def _rows(registry: Registry[Any], prefix: str = "") -> list[dict[str, Any]]:
    return [
        {
            "name": e.name,
            "description": prefix + e.description + (f" (also named: {', '.join(e.aliases)})" if e.aliases else ""),
            "hyperparameters": e.hyperparameters,
        }
        for e in registry
    ]
