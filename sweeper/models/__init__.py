"""Models: encoders -> fusion -> one head per task, each part chosen by its registry name."""

from __future__ import annotations

from sweeper.models.build import build_model, check_fusion_name, known_fusions
from sweeper.models.encoders import ENCODERS
from sweeper.models.fusion import FUSIONS
from sweeper.models.heads import HEADS
from sweeper.models.parts import ModelConfig, MultimodalModel
from sweeper.models.strategies import STRATEGIES

__all__ = [
    "ENCODERS",
    "FUSIONS",
    "HEADS",
    "STRATEGIES",
    "ModelConfig",
    "MultimodalModel",
    "build_model",
    "check_fusion_name",
    "known_fusions",
]
