"""Tensor Fusion Network (TFN, Zadeh et al. 2017): the full outer product of all [x_m ; 1], then a Linear map.

The appended 1 keeps every lower-order term: the outer product holds each x_m alone, every pair, every triple, ...
Its size is prod_m (D_m + 1), which grows exponentially with the number of modalities, so construction refuses
sizes above ``max_fused_size`` and points to ``low_rank`` (the same model, factorised). The product is built
one modality at a time, so memory is the final (B, prod(D_m + 1)) tensor and no more.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from sweeper.errors import ConfigError
from sweeper.models.fusion import FUSIONS
from sweeper.models.fusion._base import Fusion
from sweeper.models.layers import remaining_layers, require_positive


@FUSIONS.register("tensor", "TFN: outer product of all [x_m ; 1], flattened, Linear to D (max_fused_size caps it)")
class TensorFusion(Fusion):
    def __init__(
        self,
        input_dims: list[int],
        output_dim: int,
        *,
        max_fused_size: int = 200_000,
        fusion_layers: int = 1,
    ) -> None:
        super().__init__(input_dims, output_dim)
        require_positive("max_fused_size", max_fused_size)
        fused_size = math.prod(d + 1 for d in input_dims)
        if fused_size > max_fused_size:
            raise ConfigError(
                f"fusion 'tensor' has fused size prod(D_m + 1) = {fused_size} for input_dims={list(input_dims)}, "
                f"above max_fused_size={max_fused_size}; use fusion 'low_rank' or a smaller hidden_dim"
            )
        self.linear = nn.Linear(fused_size, output_dim)
        self.mlp = remaining_layers(output_dim, fusion_layers)

    def forward(self, features: list[Tensor]) -> Tensor:
        batch = features[0].shape[0]
        product = features[0].new_ones(batch, 1)  # (B, 1)
        for x in features:
            x1 = torch.cat([x, x.new_ones(batch, 1)], dim=-1)  # (B, D_m + 1)
            product = (product.unsqueeze(-1) * x1.unsqueeze(1)).reshape(batch, -1)  # (B, prod so far * (D_m + 1))
        return self.mlp(self.linear(product))  # (B, prod(D_m + 1)) -> (B, D_out)
