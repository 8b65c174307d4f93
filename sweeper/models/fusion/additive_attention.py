"""Additive (Bahdanau-style) attention over modalities: a learned score per modality, softmax, weighted sum.

With z_m the projection of modality m, score_m = v^T tanh(W z_m + b) and alpha = softmax over m; the fused
vector is sum_m alpha_m z_m. ``attention`` holds alpha, (B, N): how much each sample relies on each modality.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sweeper.models.fusion import FUSIONS
from sweeper.models.fusion._base import Fusion


@FUSIONS.register("additive_attention", "Bahdanau scores v^T tanh(W z_m + b), softmax over modalities, weighted sum")
class AdditiveAttentionFusion(Fusion):
    def __init__(self, input_dims: list[int], output_dim: int) -> None:
        super().__init__(input_dims, output_dim)
        self.projections = nn.ModuleList(nn.Linear(d, output_dim) for d in input_dims)
        self.score = nn.Sequential(nn.Linear(output_dim, output_dim), nn.Tanh(), nn.Linear(output_dim, 1, bias=False))

    def forward(self, features: list[Tensor]) -> Tensor:
        z = torch.stack([p(x) for p, x in zip(self.projections, features, strict=True)], dim=1)  # (B, N, D)
        alpha = self.score(z).squeeze(-1).softmax(dim=-1)  # (B, N), sums to 1 over modalities
        self.attention = alpha.detach()  # (B, N)
        return (alpha.unsqueeze(-1) * z).sum(dim=1)  # (B, D)
