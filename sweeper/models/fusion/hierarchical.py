"""Hierarchical fusion: modalities join one at a time, f = pair_1(z_1, z_2), f = pair_2(f, z_3), ...

Each modality is projected to the output width; each pair block is concat -> MLP (``fusion_layers`` hidden
layers) added to the running fusion f as a residual, so a later modality refines what the earlier ones built.
The order is the modality order (``input_dims``), so it matters, unlike in the symmetric fusions.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sweeper.models.fusion import FUSIONS
from sweeper.models.fusion._base import Fusion
from sweeper.models.layers import hidden_mlp


@FUSIONS.register("hierarchical", "progressive pairwise fusion f = f + MLP([f ; z_m]), one modality at a time")
class HierarchicalFusion(Fusion):
    def __init__(self, input_dims: list[int], output_dim: int, *, fusion_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__(input_dims, output_dim)
        d = output_dim
        self.projections = nn.ModuleList(nn.Linear(dim, d) for dim in input_dims)
        # One pair block per join: N - 1 of them.
        self.pairs = nn.ModuleList(
            hidden_mlp(2 * d, d, d, fusion_layers, dropout=dropout) for _ in range(len(input_dims) - 1)
        )

    def forward(self, features: list[Tensor]) -> Tensor:
        z = [p(x) for p, x in zip(self.projections, features, strict=True)]  # N x (B, D)
        fused = z[0]  # (B, D)
        for pair, z_m in zip(self.pairs, z[1:], strict=True):
            fused = fused + pair(torch.cat([fused, z_m], dim=-1))  # (B, 2D) -> (B, D)
        return fused  # (B, D)
