"""Self-attention fusion: one multi-head self-attention layer over the modality tokens, residual, mean-pool.

The lightest attention fusion: no CLS token, no feed-forward layer, no stacking. Each modality has its own
projection, which is enough for attention to tell the modalities apart.
"""

from __future__ import annotations

from torch import Tensor, nn

from sweeper.models.fusion import FUSIONS
from sweeper.models.fusion._base import Fusion
from sweeper.models.fusion._tokens import ModalityTokens, require_heads_divide


@FUSIONS.register("self_attention", "one multi-head self-attention layer over modality tokens, residual, mean-pool")
class SelfAttentionFusion(Fusion):
    def __init__(self, input_dims: list[int], output_dim: int, *, heads: int = 4, dropout: float = 0.0) -> None:
        super().__init__(input_dims, output_dim)
        require_heads_divide(self.name, output_dim, heads)
        self.tokens = ModalityTokens(input_dims, output_dim, embedding=False)
        self.norm = nn.LayerNorm(output_dim)
        self.attn = nn.MultiheadAttention(output_dim, heads, batch_first=True)
        self.dropout = nn.Dropout(dropout)  # on the residual branch, so the stored weights still sum to 1

    def forward(self, features: list[Tensor]) -> Tensor:
        x = self.tokens(features)  # (B, N, D)
        h = self.norm(x)  # (B, N, D)
        z, weights = self.attn(h, h, h, need_weights=True, average_attn_weights=True)  # (B, N, D), (B, N, N)
        self.attention = weights.detach()  # (B, N, N)
        return (x + self.dropout(z)).mean(dim=1)  # (B, D)
