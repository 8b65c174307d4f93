"""Full bilinear pooling of exactly two modalities: out_k = x_1^T W_k x_2 + b_k, then an MLP.

Every pair of features (one from each modality) gets its own weight per output, D_1 * D_2 * D_out in all, so
inputs wider than ``max_input_dim`` are first projected down to it. For three or more modalities use
``tensor``, ``low_rank`` or ``compact_bilinear``.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from sweeper.models.fusion import FUSIONS
from sweeper.models.fusion._base import Fusion
from sweeper.models.layers import hidden_mlp, require_positive


@FUSIONS.register("bilinear", "full bilinear pooling x_1^T W x_2 of exactly 2 modalities, then an MLP")
class BilinearFusion(Fusion):
    max_modalities = 2

    def __init__(
        self,
        input_dims: list[int],
        output_dim: int,
        *,
        max_input_dim: int = 64,
        fusion_layers: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(input_dims, output_dim)
        require_positive("max_input_dim", max_input_dim)
        self.projections = nn.ModuleList(
            nn.Linear(d, max_input_dim) if d > max_input_dim else nn.Identity() for d in input_dims
        )
        d1, d2 = (min(d, max_input_dim) for d in input_dims)
        self.bilinear = nn.Bilinear(d1, d2, output_dim)
        # std 1/sqrt(D_1 D_2): each output sums D_1 * D_2 products, so unit-variance inputs give about unit variance.
        nn.init.normal_(self.bilinear.weight, std=1 / math.sqrt(d1 * d2))
        nn.init.zeros_(self.bilinear.bias)
        self.mlp = hidden_mlp(output_dim, output_dim, output_dim, fusion_layers, dropout=dropout)

    def forward(self, features: list[Tensor]) -> Tensor:
        x1, x2 = (p(x) for p, x in zip(self.projections, features, strict=True))  # (B, D_1), (B, D_2)
        weight_dtype = self.bilinear.weight.dtype  # nn.Bilinear has no autocast rule: match its weights
        fused = self.bilinear(x1.to(weight_dtype), x2.to(weight_dtype))  # (B, D_out)
        return self.mlp(fused)  # (B, D_out)
