"""Multiplicative fusion: the elementwise product of per-modality factors of the form 1 + small.

Each modality m gives e_m = W_m x_m + b_m, and the fused vector is prod_m (1 + e_m) - 1: expanded, that is
sum_m e_m + sum_{m<k} e_m e_k + ..., every unimodal term and every interaction, as in tensor fusion but
elementwise. W_m starts with std 1 / sqrt(D_m * N), so each e_m has variance about 1/N for unit-variance
inputs and the product's variance, (1 + 1/N)^N - 1, stays between 1.25 and 1.72 whatever N is.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from sweeper.models.fusion import FUSIONS
from sweeper.models.fusion._base import Fusion
from sweeper.models.layers import hidden_mlp


@FUSIONS.register("multiply", "elementwise product of per-modality factors (1 + W_m x_m), then an MLP")
class MultiplyFusion(Fusion):
    def __init__(self, input_dims: list[int], output_dim: int, *, fusion_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__(input_dims, output_dim)
        n = len(input_dims)
        projections = [nn.Linear(d, output_dim) for d in input_dims]
        for d, projection in zip(input_dims, projections, strict=True):
            nn.init.normal_(projection.weight, std=1 / math.sqrt(d * n))
            nn.init.zeros_(projection.bias)
        self.projections = nn.ModuleList(projections)
        self.mlp = hidden_mlp(output_dim, output_dim, output_dim, fusion_layers, dropout=dropout)

    def forward(self, features: list[Tensor]) -> Tensor:
        product = features[0].new_ones(features[0].shape[0], self.output_dim)  # (B, D)
        for projection, x in zip(self.projections, features, strict=True):
            product = product * (1 + projection(x))  # (B, D)
        return self.mlp(product - 1)  # (B, D)
