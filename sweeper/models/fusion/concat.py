"""Concatenation fusion: the baseline every other fusion has to beat."""

from __future__ import annotations

import torch
from torch import Tensor

from sweeper.models.fusion import FUSIONS
from sweeper.models.fusion._base import Fusion
from sweeper.models.layers import mlp


@FUSIONS.register("concat", "concatenate the modality features, then an MLP of fusion_layers layers")
class ConcatFusion(Fusion):
    def __init__(self, input_dims: list[int], output_dim: int, *, fusion_layers: int = 1) -> None:
        super().__init__(input_dims, output_dim)
        self.mlp = mlp(sum(input_dims), output_dim, fusion_layers)

    def forward(self, features: list[Tensor]) -> Tensor:
        x = torch.cat(features, dim=-1)  # (B, sum D_m)
        return self.mlp(x)  # (B, output_dim)
