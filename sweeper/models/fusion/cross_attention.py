"""Cross-attention fusion: a pooled query attends over one token per modality.

Tokens X = [z_1 ... z_N] (each modality projected to output_dim, plus a learned modality embedding); the
first query is the mean token. Each block computes z = MHA(LayerNorm(q), X, X) and returns
z + FFN(LayerNorm(z)); the output of one block is the query of the next.
"""

from __future__ import annotations

from torch import Tensor, nn

from sweeper.models.fusion import FUSIONS
from sweeper.models.fusion._tokens import TokenBlocksFusion


class AttentionBlock(nn.Module):
    """One query attending over the modality tokens, then a feed-forward layer with a residual."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.query_norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.ffn_norm = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim), nn.Dropout(dropout))

    def forward(self, query: Tensor, tokens: Tensor) -> tuple[Tensor, Tensor]:
        # query (B, 1, D), tokens (B, N, D)
        q = self.query_norm(query)  # (B, 1, D)
        z, weights = self.attn(q, tokens, tokens, need_weights=True)  # (B, 1, D), (B, 1, N)
        return z + self.ffn(self.ffn_norm(z)), weights  # (B, 1, D), (B, 1, N)


@FUSIONS.register("cross_attention", "a pooled query attends over one token per modality, in stacked blocks")
class CrossAttentionFusion(TokenBlocksFusion):
    block = AttentionBlock  # a pooled query attends over the tokens

    def forward(self, features: list[Tensor]) -> Tensor:
        tokens = self.tokens(features)  # (B, N, D)
        query = tokens.mean(dim=1, keepdim=True)  # (B, 1, D)
        for block in self.blocks:
            query, weights = block(query, tokens)  # (B, 1, D), (B, 1, N)
        self.attention = weights.detach()  # (B, 1, N), of the last block
        return query.squeeze(1)  # (B, D)
