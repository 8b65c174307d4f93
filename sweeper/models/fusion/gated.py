"""Gated fusion: a per-feature softmax gate over the modalities decides how much each one contributes."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sweeper.models.fusion import FUSIONS
from sweeper.models.fusion._base import Fusion
from sweeper.models.layers import mlp


@FUSIONS.register("gated", "softmax gate over modalities per feature, convex blend, then a residual MLP")
class GatedFusion(Fusion):
    name = "gated"

    def __init__(self, input_dims: list[int], output_dim: int, *, fusion_layers: int = 1) -> None:
        super().__init__(input_dims, output_dim)
        self.projections = nn.ModuleList(nn.Linear(d, output_dim) for d in input_dims)
        self.gate = nn.Linear(sum(input_dims), len(input_dims) * output_dim)
        self.mlp = mlp(output_dim, output_dim, fusion_layers)

    def forward(self, features: list[Tensor]) -> Tensor:
        projected = [p(x) for p, x in zip(self.projections, features, strict=True)]  # N x (B, D)
        z = torch.stack(projected, dim=1)  # (B, N, D)
        logits = self.gate(torch.cat(features, dim=-1)).view_as(z)  # (B, N, D)
        weights = logits.softmax(dim=1)  # (B, N, D), sums to 1 over modalities
        fused = (weights * z).sum(dim=1)  # (B, D)
        return fused + self.mlp(fused)  # (B, D)
