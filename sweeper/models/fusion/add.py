"""Additive fusion: project every modality to the output width and sum them, then an MLP."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sweeper.models.fusion import FUSIONS
from sweeper.models.fusion._base import Fusion
from sweeper.models.layers import hidden_mlp


@FUSIONS.register("add", "project each modality to D, sum, then an MLP with fusion_layers hidden layers")
class AddFusion(Fusion):
    def __init__(self, input_dims: list[int], output_dim: int, *, fusion_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__(input_dims, output_dim)
        self.projections = nn.ModuleList(nn.Linear(d, output_dim) for d in input_dims)
        self.mlp = hidden_mlp(output_dim, output_dim, output_dim, fusion_layers, dropout=dropout)

    def forward(self, features: list[Tensor]) -> Tensor:
        projected = [p(x) for p, x in zip(self.projections, features, strict=True)]  # N x (B, D)
        fused = torch.stack(projected, dim=1).sum(dim=1)  # (B, D)
        return self.mlp(fused)  # (B, D)
