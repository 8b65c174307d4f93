"""Low-rank multimodal fusion (LMF, Liu et al. 2018): a rank-r factorisation of outer-product tensor fusion.

Each modality m has factors W_m of shape (rank, D_m + 1, D_out). With h_m = [x_m ; 1] @ W_m, the fused vector
is sum_r w_r * prod_m h_m[r] + b: the appended 1 keeps every lower-order (unimodal, bimodal, ...) interaction
in the product, as in the full tensor fusion, at a cost linear in the number of modalities.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from sweeper.models.fusion import FUSIONS
from sweeper.models.fusion._base import Fusion
from sweeper.models.layers import remaining_layers, require_positive


@FUSIONS.register("low_rank", "LMF: rank-r factorised product of modality features with an appended 1 (rank)")
class LowRankFusion(Fusion):
    def __init__(self, input_dims: list[int], output_dim: int, *, rank: int = 4, fusion_layers: int = 1) -> None:
        super().__init__(input_dims, output_dim)
        require_positive("rank", rank)
        # std 1/sqrt(D_m + 1) gives each h_m about unit variance for unit-variance inputs, so the product
        # of N factors keeps about unit variance whatever N is (independent zero-mean variances multiply).
        self.factors = nn.ParameterList(
            nn.Parameter(torch.randn(rank, d + 1, output_dim) / math.sqrt(d + 1)) for d in input_dims
        )
        self.rank_weights = nn.Parameter(torch.randn(rank) / math.sqrt(rank))  # (rank,)
        self.bias = nn.Parameter(torch.zeros(output_dim))  # (D_out,)
        self.mlp = remaining_layers(output_dim, fusion_layers)  # the product is the first layer

    def forward(self, features: list[Tensor]) -> Tensor:
        product: Tensor | None = None
        for x, factor in zip(features, self.factors, strict=True):
            x1 = torch.cat([x, x.new_ones(x.shape[0], 1)], dim=-1)  # (B, D_m + 1)
            h = torch.einsum("bd,rdo->bro", x1, factor)  # (B, rank, D_out)
            product = h if product is None else product * h  # (B, rank, D_out)
        assert product is not None  # the base class guarantees at least 2 modalities
        fused = torch.einsum("bro,r->bo", product, self.rank_weights) + self.bias  # (B, D_out)
        return self.mlp(fused)  # (B, D_out)
