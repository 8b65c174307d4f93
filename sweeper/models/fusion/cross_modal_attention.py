"""Cross-modal attention: every modality token attends to the OTHER modalities' tokens, never to itself.

Tokens are the projected modalities plus a learned modality embedding. Each of ``fusion_layers`` pre-LN blocks
is multi-head attention with the diagonal masked out, then a feed-forward layer, both residual; the output is
the mean of the final, normalised tokens. ``attention`` holds the last block's (B, N, N) weights, zero on the
diagonal.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sweeper.models.fusion import FUSIONS
from sweeper.models.fusion._base import Fusion
from sweeper.models.fusion._tokens import ModalityTokens, PreNormBlock, require_heads_divide
from sweeper.models.layers import require_positive


@FUSIONS.register("cross_modal_attention", "each modality token attends to the other modalities, stacked blocks")
class CrossModalAttentionFusion(Fusion):
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
        n = len(input_dims)
        self.tokens = ModalityTokens(input_dims, output_dim)
        self.blocks = nn.ModuleList(PreNormBlock(output_dim, heads, dropout) for _ in range(fusion_layers))
        self.norm = nn.LayerNorm(output_dim)
        # True = may not attend: a token sees only the other modalities (N >= 2, so no row is fully masked).
        self.register_buffer("self_mask", torch.eye(n, dtype=torch.bool), persistent=False)  # (N, N)

    def forward(self, features: list[Tensor]) -> Tensor:
        x = self.tokens(features)  # (B, N, D)
        for block in self.blocks:
            x, weights = block(x, mask=self.self_mask)  # (B, N, D), (B, N, N)
        self.attention = weights.detach()  # (B, N, N), of the last block
        return self.norm(x).mean(dim=1)  # (B, D)
