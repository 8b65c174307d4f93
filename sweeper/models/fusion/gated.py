"""Gated fusion: a learned gate decides how much each modality (or feature) contributes."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sweeper.errors import ConfigError
from sweeper.models.fusion import FUSIONS
from sweeper.models.fusion._base import Fusion
from sweeper.models.layers import mlp


@FUSIONS.register("gated", "gate over the modalities: softmax blend + residual MLP, or a sigmoid gate on the concat")
class GatedFusion(Fusion):
    """``gate: softmax`` (default): a per-feature softmax over the modalities blends their projections (a convex
    combination), then a residual MLP. ``gate: sigmoid``: the reference EEG+audio system's form, a sigmoid gate on
    the concatenation, ``W_o (sigmoid(W_g x) * x)`` with ``x = [x_1; ...; x_N]``, then ``fusion_layers - 1``
    hidden layers."""

    def __init__(
        self, input_dims: list[int], output_dim: int, *, gate: str = "softmax", fusion_layers: int = 1
    ) -> None:
        super().__init__(input_dims, output_dim)
        if gate not in GATES:
            raise ConfigError(f"fusion 'gated' needs gate in {', '.join(GATES)}, but got gate={gate!r}")
        self.kind = gate
        total = sum(input_dims)
        if gate == "sigmoid":
            self.gate = nn.Linear(total, total)
            self.mlp = mlp(total, output_dim, fusion_layers)
            return
        self.projections = nn.ModuleList(nn.Linear(d, output_dim) for d in input_dims)
        self.gate = nn.Linear(total, len(input_dims) * output_dim)
        self.mlp = mlp(output_dim, output_dim, fusion_layers)

    def forward(self, features: list[Tensor]) -> Tensor:
        if self.kind == "sigmoid":
            x = torch.cat(features, dim=-1)  # (B, sum D_m)
            return self.mlp(torch.sigmoid(self.gate(x)) * x)  # (B, D)
        projected = [p(x) for p, x in zip(self.projections, features, strict=True)]  # N x (B, D)
        z = torch.stack(projected, dim=1)  # (B, N, D)
        logits = self.gate(torch.cat(features, dim=-1)).view_as(z)  # (B, N, D)
        weights = logits.softmax(dim=1)  # (B, N, D), sums to 1 over modalities
        fused = (weights * z).sum(dim=1)  # (B, D)
        return fused + self.mlp(fused)  # (B, D)


GATES = ("softmax", "sigmoid")
