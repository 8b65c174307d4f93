"""Features encoder: precomputed embeddings (from a frozen foundation model, say) projected to the fused width.

The embedding already holds the learned features, so the encoder only normalises it and projects it; extra layers
are optional. LayerNorm, unlike for tabular columns, suits an embedding: its dimensions share one learned space,
and normalising across them removes the scale differences between embedding models.
"""

from __future__ import annotations

from torch import Tensor, nn

from sweeper.models.encoders import ENCODERS
from sweeper.models.encoders._base import Encoder
from sweeper.models.layers import mlp


@ENCODERS.register("projection", "LayerNorm, then a linear projection (depth > 1 adds GELU + Linear layers)")
class ProjectionEncoder(Encoder):
    kind = "features"

    def __init__(self, input_shape: tuple[int, ...], output_dim: int, *, depth: int = 1) -> None:
        super().__init__(input_shape, output_dim)
        self.norm = nn.LayerNorm(input_shape[0])
        self.project = mlp(input_shape[0], output_dim, depth, name="depth")

    def forward(self, x: Tensor) -> Tensor:
        return self.project(self.norm(x))  # (B, D) -> (B, output_dim)
