"""Concatenation with a normalised, wider MLP: concat's stronger sibling (LayerNorm, hidden width 2 * D_out)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sweeper.models.fusion import FUSIONS
from sweeper.models.fusion._base import Fusion
from sweeper.models.layers import hidden_mlp


@FUSIONS.register("concat_mlp", "concatenate, LayerNorm, then an MLP of width 2*D with fusion_layers hidden layers")
class ConcatMLPFusion(Fusion):
    def __init__(self, input_dims: list[int], output_dim: int, *, fusion_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__(input_dims, output_dim)
        # LayerNorm puts modalities of different scales on one footing before they are mixed.
        self.norm = nn.LayerNorm(sum(input_dims))
        self.mlp = hidden_mlp(sum(input_dims), 2 * output_dim, output_dim, fusion_layers, dropout=dropout)

    def forward(self, features: list[Tensor]) -> Tensor:
        x = self.norm(torch.cat(features, dim=-1))  # (B, sum D_m)
        return self.mlp(x)  # (B, D_out)
