"""What happens to each modality's features between its encoder and the fusion.

``ModalityMixer`` multiplies each modality's feature vector by learnable per-channel scales (initialised to 1, so
the model can learn to turn a modality down feature by feature) and, while training, drops whole modalities at
random (modality dropout), so the fused model cannot lean on one modality only. A sample always keeps at least one
modality.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sweeper.errors import ConfigError


class ModalityMixer(nn.Module):
    def __init__(self, n_modalities: int, dim: int, *, dropout: float = 0.0, scales: bool = False) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"modality_dropout must be in [0, 1), but got modality_dropout={dropout}")
        self.p = dropout
        self.scales = nn.Parameter(torch.ones(n_modalities, dim)) if scales else None  # (N, D)

    def forward(self, features: list[Tensor]) -> tuple[list[Tensor], Tensor]:
        """Scaled (and, in training, dropped) features, and the keep mask (B, N) of 0/1 used."""
        batch, n = features[0].shape[0], len(features)
        keep = features[0].new_ones(batch, n)  # (B, N)
        if self.training and self.p > 0:
            keep = (torch.rand(batch, n, device=keep.device) >= self.p).to(keep.dtype)
            empty = keep.sum(dim=1) == 0  # (B,) rows that dropped every modality keep a random one
            rescue = torch.randint(0, n, (batch,), device=keep.device)
            keep[empty, rescue[empty]] = 1
        out = []
        for m, z in enumerate(features):  # z: (B, D)
            if self.scales is not None:
                z = z * self.scales[m]
            out.append(z * keep[:, m : m + 1])
        return out, keep
