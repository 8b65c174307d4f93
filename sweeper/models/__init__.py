"""Models: encoders -> fusion -> one head per task, each part chosen by its registry name.

The names below are imported when first used, so that ``sweeper.models.config`` (no torch) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sweeper._lazy import lazy_exports

if TYPE_CHECKING:
    from sweeper.models.build import build_model
    from sweeper.models.config import ModelConfig, check_fusion_name, known_fusions
    from sweeper.models.encoders import ENCODERS
    from sweeper.models.fusion import FUSIONS
    from sweeper.models.heads import HEADS
    from sweeper.models.parts import MultimodalModel
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
__getattr__, __dir__ = lazy_exports(__name__, __file__)
