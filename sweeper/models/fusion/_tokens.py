"""Pieces shared by the token fusions (transformer, cross_modal_attention, self_attention).

Each modality becomes one token of width D; the fusions differ in who attends to whom and how they pool.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sweeper.errors import ConfigError
from sweeper.models.fusion._base import Fusion
from sweeper.models.layers import require_positive


def require_heads_divide(fusion: str, dim: int, heads: int) -> None:
    """Raise ConfigError unless ``heads`` is >= 1 and divides the token width ``dim``."""
    require_positive("heads", heads)
    if dim % heads != 0:
        raise ConfigError(f"fusion {fusion!r} needs output_dim divisible by heads, but got output_dim={dim}, {heads=}")


class ModalityTokens(nn.Module):
    """One token per modality: its own projection to ``dim`` plus, optionally, a learned modality embedding."""

    def __init__(self, input_dims: list[int], dim: int, *, embedding: bool = True) -> None:
        super().__init__()
        self.projections = nn.ModuleList(nn.Linear(d, dim) for d in input_dims)
        # The projections alone already tell modalities apart; the embedding is an explicit, cheap identity.
        self.embedding = nn.Parameter(0.02 * torch.randn(len(input_dims), dim)) if embedding else None  # (N, D)

    def forward(self, features: list[Tensor]) -> Tensor:
        tokens = torch.stack([p(x) for p, x in zip(self.projections, features, strict=True)], dim=1)  # (B, N, D)
        return tokens if self.embedding is None else tokens + self.embedding  # (B, N, D)


class PreNormBlock(nn.Module):
    """A pre-LayerNorm transformer encoder block that also returns its attention weights.

    x = x + Attention(LN(x)); x = x + FFN(LN(x)). Dropout sits on the two residual branches rather than inside
    the attention, so the returned weights are the true softmax (each row sums to 1) in training mode too.
    ``mask`` (L, L), True where a query may NOT attend to a key, as in nn.MultiheadAttention.
    """

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.attn_norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.attn_dropout = nn.Dropout(dropout)
        self.ffn_norm = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim), nn.Dropout(dropout))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        h = self.attn_norm(x)  # (B, L, D)
        z, weights = self.attn(h, h, h, attn_mask=mask, need_weights=True, average_attn_weights=True)
        x = x + self.attn_dropout(z)  # (B, L, D); weights (B, L, L), averaged over heads
        x = x + self.ffn(self.ffn_norm(x))  # (B, L, D)
        return x, weights


class TokenBlocksFusion(Fusion):
    """The constructor of the fusions that run ``fusion_layers`` attention blocks over one token per modality
    (projection plus learned modality embedding); each subclass says which ``block``, and adds what its readout
    needs in ``add_readout`` (called before the blocks are built, so seeded initialisation keeps its order)."""

    block: type[nn.Module] = PreNormBlock  # built as block(dim, heads, dropout)

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
        self.add_readout(len(input_dims), output_dim)
        self.blocks = nn.ModuleList(self.block(output_dim, heads, dropout) for _ in range(fusion_layers))

    def add_readout(self, n_modalities: int, dim: int) -> None:
        """Modules and buffers of the readout (a CLS token, a final norm, a mask); none by default."""
