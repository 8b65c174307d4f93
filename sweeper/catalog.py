"""What can be named in a sweep spec: every registered fusion, strategy, encoder, view aggregation, head and loss,
and the ways of training (distillation, augmentation)."""

from __future__ import annotations

import dataclasses
from typing import Any

from sweeper.models import ENCODERS, FUSIONS, HEADS, STRATEGIES
from sweeper.models.views import VIEW_AGGREGATORS
from sweeper.registry import Registry
from sweeper.train import LOSSES, TrainConfig

SECTIONS = ("fusions", "encoders", "views", "heads", "losses", "training")


def catalog() -> dict[str, list[dict[str, Any]]]:
    """Per section, one row per name: name, one-line description, hyperparameters with their defaults."""
    fusions = _rows(FUSIONS) + _rows(STRATEGIES, "strategy: ")
    encoders = _rows(ENCODERS)
    for row in encoders:
        row["kind"] = getattr(ENCODERS.get(row["name"]).factory, "kind", "")
    return {
        "fusions": fusions,
        "encoders": encoders,
        "views": _rows(VIEW_AGGREGATORS, "view_aggregation: "),
        "heads": _rows(HEADS),
        "losses": _rows(LOSSES),
        "training": _training(),
    }


def _training() -> list[dict[str, Any]]:
    """Ways of training that are spec sections or train keys rather than registry entries."""
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}

    def knobs(prefix: str) -> dict[str, Any]:
        return {k: v for k, v in defaults.items() if k.startswith(prefix)}

    return [
        {
            "name": "distill",
            "description": "a distill: section names a teacher; every trial is a student of its soft targets",
            "hyperparameters": knobs("distill_"),
        },
        {
            "name": "augment",
            "description": "random crop, flip and intensity jitter of images and volumes, on the device",
            "hyperparameters": knobs("augment_"),
        },
    ]


def _rows(registry: Registry[Any], prefix: str = "") -> list[dict[str, Any]]:
    return [
        {
            "name": e.shown_name,
            "description": prefix + e.description + (f" (also named: {', '.join(e.aliases)})" if e.aliases else ""),
            "hyperparameters": e.hyperparameters,
        }
        for e in registry
    ]
