"""Transformer fusion: a learned CLS token and one token per modality through pre-LN encoder blocks.

Modality tokens are projections plus a learned modality embedding; the CLS token is prepended, and after
``fusion_layers`` blocks of ``heads``-head self-attention and a feed-forward layer, the normalised CLS token is
the fused vector. ``attention`` holds the last block's (B, N+1, N+1) weights; row/column 0 is the CLS token.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sweeper.models.fusion import FUSIONS
from sweeper.models.fusion._base import Fusion
from sweeper.models.fusion._tokens import ModalityTokens, PreNormBlock, require_heads_divide
from sweeper.models.layers import require_positive


@FUSIONS.register(
    "transformer",
    "CLS token + one token per modality through fusion_layers pre-LN transformer blocks",
    aliases=("transformer_concat",),  # the reference multi-task system's name
)
class TransformerFusion(Fusion):
    def __init__(
        self,
        input_dims: list[int],
        output_dim: int,
        *,
        heads: int = 4,
        fusion_layers: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(input_dims, output_dim)
        require_heads_divide(self.name, output_dim, heads)
        require_positive("fusion_layers", fusion_layers)
        self.tokens = ModalityTokens(input_dims, output_dim)
        self.cls = nn.Parameter(0.02 * torch.randn(1, 1, output_dim))  # (1, 1, D)
        self.blocks = nn.ModuleList(PreNormBlock(output_dim, heads, dropout) for _ in range(fusion_layers))
        self.norm = nn.LayerNorm(output_dim)

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
