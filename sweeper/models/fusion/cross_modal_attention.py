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
from sweeper.models.fusion._tokens import TokenBlocksFusion


@FUSIONS.register("cross_modal_attention", "each modality token attends to the other modalities, stacked blocks")
class CrossModalAttentionFusion(TokenBlocksFusion):
    def add_readout(self, n_modalities: int, dim: int) -> None:
        self.norm = nn.LayerNorm(dim)
        # True = may not attend: a token sees only the other modalities (N >= 2, so no row is fully masked).
        eye = torch.eye(n_modalities, dtype=torch.bool)
        self.register_buffer("self_mask", eye, persistent=False)  # (N, N)

    def forward(self, features: list[Tensor]) -> Tensor:
        x = self.tokens(features)  # (B, N, D)
        for block in self.blocks:
            x, weights = block(x, mask=self.self_mask)  # (B, N, D), (B, N, N)
        self.attention = weights.detach()  # (B, N, N), of the last block
        return self.norm(x).mean(dim=1)  # (B, D)
