"""Fusion strategies: where in the network the modalities meet, registered by the name used in YAML.

- ``early``:  raw inputs are flattened (text: the mean of its token embeddings), projected and concatenated before
              any modality-specific processing; one joint MLP and the task heads follow. No encoders.
- ``late``:   each modality has its own encoder and its own head per task; a task's logits are the mean of the
              modalities' logits (decision-level fusion).
- ``hybrid``: intermediate fusion (``base_fusion`` over the encoded features, one head per task) and late fusion
              (a head per modality and task), their logits averaged.
- ``only:<modality>`` (``UnimodalModel``): that modality's encoder and the heads, the baseline that shows what
              fusion adds.
Every model maps ``{modality: (B, *shape)}`` to ``{task: (B, num_classes)}`` and has ``fusion`` (None here) and
``num_parameters()``, like ``MultimodalModel``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from sweeper.data.dataset import DatasetSpec, ModalitySpec
from sweeper.models.config import ONLY, ModelConfig
from sweeper.models.layers import NameDict, count_parameters, mlp
from sweeper.models.parts import (
    build_encoder,
    build_encoders,
    build_fusion,
    build_heads,
    build_mixer,
)
from sweeper.models.views import with_views
from sweeper.registry import Registry

STRATEGIES: Registry[nn.Module] = Registry("strategy")


class _Strategy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fusion: nn.Module | None = None  # the fusion module whose attention can be read, where there is one

    def num_parameters(self) -> int:
        return count_parameters(self)


@STRATEGIES.register("early", "early fusion: raw inputs flattened and concatenated, one joint MLP, no encoders")
class EarlyFusionModel(_Strategy):
    def __init__(self, spec: DatasetSpec, config: ModelConfig) -> None:
        super().__init__()
        dim = config.hidden_dim
        self.stems = NameDict({m.name: _stem(m, dim, config.view_aggregation) for m in spec.modalities})
        self.mixer = build_mixer(spec, config)
        self.trunk = nn.Sequential(nn.GELU(), mlp(dim * len(spec.modalities), dim, config.fusion_layers), nn.GELU())
        self.dropout = nn.Dropout(config.dropout)
        self.task_heads = NameDict(build_heads(spec, config, dim))

    def forward(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        features = [stem(inputs[name]) for name, stem in self.stems.items()]  # N x (B, D)
        features, _ = self.mixer(features)
        joint = self.dropout(self.trunk(torch.cat(features, dim=-1)))  # (B, N*D) -> (B, D)
        return {task: head(joint) for task, head in self.task_heads.items()}


class _PerModalityHeads(_Strategy):
    """Encoders and a head per (modality, task); the base of late and hybrid fusion."""

    def __init__(self, spec: DatasetSpec, config: ModelConfig) -> None:
        super().__init__()
        dim = config.hidden_dim
        self.encoders = NameDict(build_encoders(spec, config))
        self.mixer = build_mixer(spec, config)
        self.dropout = nn.Dropout(config.dropout)
        self.modality_heads = NameDict({m: NameDict(build_heads(spec, config, dim)) for m in spec.modality_names})
        self.tasks = spec.task_names

    def late(self, inputs: dict[str, Tensor]) -> tuple[dict[str, Tensor], list[Tensor]]:
        """Per task the mean over the kept modalities of their own logits (B, C); and the mixed features."""
        features = [encoder(inputs[name]) for name, encoder in self.encoders.items()]  # N x (B, D)
        features, keep = self.mixer(features)  # keep: (B, N)
        weights = (keep / keep.sum(dim=1, keepdim=True)).unsqueeze(-1)  # (B, N, 1): a dropped modality has no vote
        logits = {}
        for task in self.tasks:
            heads = [self.modality_heads[m][task] for m in self.encoders]  # type: ignore[index]
            per_modality = torch.stack(
                [head(self.dropout(z)) for head, z in zip(heads, features, strict=True)], dim=1
            )  # (B, N, C)
            logits[task] = (per_modality * weights).sum(dim=1)  # (B, C)
        return logits, features


@STRATEGIES.register("late", "late fusion: a head per modality and task, logits averaged over modalities")
class LateFusionModel(_PerModalityHeads):
    def forward(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        return self.late(inputs)[0]


@STRATEGIES.register("hybrid", "hybrid fusion: base_fusion over features plus late per-modality heads, averaged")
class HybridFusionModel(_PerModalityHeads):
    fusion: nn.Module  # base_fusion over the encoded features

    def __init__(self, spec: DatasetSpec, config: ModelConfig) -> None:
        super().__init__(spec, config)
        self.fusion = build_fusion(config.base_fusion, spec.modality_names, config)
        self.fused_heads = NameDict(build_heads(spec, config, config.hidden_dim))

    def forward(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        late, features = self.late(inputs)
        fused = self.dropout(self.fusion(features))  # (B, D)
        return {task: 0.5 * (head(fused) + late[task]) for task, head in self.fused_heads.items()}


@STRATEGIES.register("only", "single-modality baseline: one encoder and the heads", argument="modality")
class UnimodalModel(_Strategy):
    """``only:<modality>``: one encoder and the task heads; the other modalities are ignored."""

    def __init__(self, spec: DatasetSpec, config: ModelConfig) -> None:
        super().__init__()
        self.modality = config.fusion.removeprefix(ONLY)
        modality = next(m for m in spec.modalities if m.name == self.modality)
        self.encoder = build_encoder(modality, config, config.hidden_dim)
        self.dropout = nn.Dropout(config.dropout)
        self.task_heads = NameDict(build_heads(spec, config, config.hidden_dim))

    def forward(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        z = self.dropout(self.encoder(inputs[self.modality]))  # (B, D)
        return {task: head(z) for task, head in self.task_heads.items()}


def _stem(modality: ModalitySpec, dim: int, view_aggregation: str) -> nn.Module:
    """The least processing that brings a raw modality to ``dim`` features: flatten + linear, or mean embedding;
    a multi-view modality's views each get the one stem and are then pooled."""
    if modality.kind == "text":
        return nn.EmbeddingBag(max(modality.vocab_size, 2), dim, mode="mean", padding_idx=0)
    stem = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(modality.shape), dim))
    return with_views(stem, modality, view_aggregation, dim)
