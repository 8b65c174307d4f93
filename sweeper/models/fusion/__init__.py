"""Fusion families, one small module each, registered under the name used in YAML (``fusion: gated``).

A new fusion is one file: subclass ``Fusion``, decorate it with ``@FUSIONS.register(name, description)`` and
import it below. The registry-wide contract test picks it up with no other edits.
"""

from __future__ import annotations

from sweeper.models.fusion._base import Fusion
from sweeper.registry import Registry

FUSIONS: Registry[Fusion] = Registry("fusion")

# Imported for their registration side effect; they need FUSIONS above.
from sweeper.models.fusion.add import AddFusion  # noqa: E402
from sweeper.models.fusion.additive_attention import AdditiveAttentionFusion  # noqa: E402
from sweeper.models.fusion.bilinear import BilinearFusion  # noqa: E402
from sweeper.models.fusion.compact_bilinear import CompactBilinearFusion  # noqa: E402
from sweeper.models.fusion.concat import ConcatFusion  # noqa: E402
from sweeper.models.fusion.concat_mlp import ConcatMLPFusion  # noqa: E402
from sweeper.models.fusion.cross_attention import CrossAttentionFusion  # noqa: E402
from sweeper.models.fusion.cross_modal_attention import CrossModalAttentionFusion  # noqa: E402
from sweeper.models.fusion.film import FiLMFusion  # noqa: E402
from sweeper.models.fusion.gated import GatedFusion  # noqa: E402
from sweeper.models.fusion.hierarchical import HierarchicalFusion  # noqa: E402
from sweeper.models.fusion.low_rank import LowRankFusion  # noqa: E402
from sweeper.models.fusion.multiply import MultiplyFusion  # noqa: E402
from sweeper.models.fusion.routing import EnergyAwareFusion, MixtureOfExpertsFusion  # noqa: E402
from sweeper.models.fusion.self_attention import SelfAttentionFusion  # noqa: E402
from sweeper.models.fusion.tensor import TensorFusion  # noqa: E402
from sweeper.models.fusion.transformer import TransformerFusion  # noqa: E402

__all__ = [
    "FUSIONS",
    "AddFusion",
    "AdditiveAttentionFusion",
    "BilinearFusion",
    "CompactBilinearFusion",
    "ConcatFusion",
    "ConcatMLPFusion",
    "CrossAttentionFusion",
    "CrossModalAttentionFusion",
    "EnergyAwareFusion",
    "FiLMFusion",
    "Fusion",
    "GatedFusion",
    "HierarchicalFusion",
    "LowRankFusion",
    "MixtureOfExpertsFusion",
    "MultiplyFusion",
    "SelfAttentionFusion",
    "TensorFusion",
    "TransformerFusion",
]
