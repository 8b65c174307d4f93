"""Transformer fusion: a learned CLS token and one token per modality through pre-LN encoder blocks.

Modality tokens are projections plus a learned modality embedding; the CLS token is prepended, and after
``fusion_layers`` blocks of ``heads``-head self-attention and a feed-forward layer, the normalised CLS token is
the fused vector. ``attention`` holds the last block's (B, N+1, N+1) weights; row/column 0 is the CLS token.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sweeper.models.fusion import FUSIONS
from sweeper.models.fusion._tokens import TokenBlocksFusion


@FUSIONS.register(
    "transformer",
    "CLS token + one token per modality through fusion_layers pre-LN transformer blocks",
    aliases=("transformer_concat",),  # the reference multi-task system's name
)
class TransformerFusion(TokenBlocksFusion):
    def add_readout(self, n_modalities: int, dim: int) -> None:
        self.cls = nn.Parameter(0.02 * torch.randn(1, 1, dim))  # (1, 1, D)
        self.norm = nn.LayerNorm(dim)

    def forward(self, features: list[Tensor]) -> Tensor:
        tokens = self.tokens(features)  # (B, N, D)
        x = torch.cat([self.cls.expand(tokens.shape[0], -1, -1), tokens], dim=1)  # (B, N+1, D)
        for block in self.blocks:
            x, weights = block(x)  # (B, N+1, D), (B, N+1, N+1)
        self.attention = weights.detach()  # (B, N+1, N+1), of the last block
        return self.norm(x[:, 0])  # (B, D), the CLS token

    def modality_attention(self) -> Tensor | None:
        """What the CLS token, the fused output, paid each modality token (its share to itself left out)."""
        if self.attention is None:
            return None
        cls = self.attention[:, 0, 1:]  # (B, N)
        return cls / cls.sum(dim=-1, keepdim=True).clamp_min(1e-12)
