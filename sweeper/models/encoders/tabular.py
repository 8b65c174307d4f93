"""Tabular encoder: per-feature BatchNorm on the raw features, then an MLP.

BatchNorm, not LayerNorm: LayerNorm normalises across the features of one sample, which mixes unrelated columns
and throws away each feature's absolute level, the very thing a tabular model reads.
"""

from __future__ import annotations

from torch import Tensor, nn

from sweeper.models.encoders import ENCODERS
from sweeper.models.encoders._base import Encoder
from sweeper.models.layers import mlp


@ENCODERS.register("mlp", "per-feature BatchNorm, then an MLP of depth layers")
class MLPEncoder(Encoder):
    kind = "tabular"

    def __init__(self, input_shape: tuple[int, ...], output_dim: int, *, depth: int = 2) -> None:
        super().__init__(input_shape, output_dim)
        self.norm = nn.BatchNorm1d(input_shape[0])
        self.mlp = mlp(input_shape[0], output_dim, depth, name="depth")

    def forward(self, x: Tensor) -> Tensor:
        return self.mlp(self.norm(x))  # (B, F) -> (B, output_dim)
