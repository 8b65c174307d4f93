"""FiLM fusion (Perez et al. 2018): one modality conditions the others through a feature-wise affine map.

``conditioner`` names the conditioning modality (``conditioner: note``), or gives its index; the first by default.

The conditioning modality c produces, for every other modality m, a scale gamma_m and a shift beta_m; the fused
vector is the mean over m of gamma_m * h_m + beta_m, with h_m the projection of modality m, followed by an MLP.
gamma starts near 1 and beta near 0 (small generator weights), so training starts from a plain average.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from sweeper.errors import ConfigError
from sweeper.models.fusion import FUSIONS
from sweeper.models.fusion._base import Fusion
from sweeper.models.layers import hidden_mlp


@FUSIONS.register("film", "the conditioner modality scales and shifts each other modality (gamma*h + beta), then MLP")
class FiLMFusion(Fusion):
    def __init__(
        self,
        input_dims: list[int],
        output_dim: int,
        *,
        conditioner: int | str = 0,
        fusion_layers: int = 1,
        dropout: float = 0.0,
        modality_names: list[str] | None = None,
    ) -> None:
        super().__init__(input_dims, output_dim)
        n = len(input_dims)
        names = modality_names or [str(m) for m in range(n)]
        if isinstance(conditioner, str) and conditioner in names:
            conditioner = names.index(conditioner)
        if isinstance(conditioner, str) or not 0 <= conditioner < n:
            raise ConfigError(
                f"fusion 'film' needs conditioner to name one of its modalities ({', '.join(names)}) or give its "
                f"index 0..{n - 1}, but got conditioner={conditioner!r}"
            )
        self.conditioner = conditioner
        self.modulated = [m for m in range(n) if m != conditioner]  # indices of the modalities FiLM modulates
        self.projections = nn.ModuleList(nn.Linear(input_dims[m], output_dim) for m in self.modulated)
        d_c = input_dims[conditioner]
        self.generator = nn.Linear(d_c, 2 * len(self.modulated) * output_dim)  # -> (gamma - 1, beta) per modality
        # Small, not zero: zero weights would cut the conditioner's gradient at the start of training.
        nn.init.normal_(self.generator.weight, std=0.1 / math.sqrt(d_c))
        nn.init.zeros_(self.generator.bias)
        self.mlp = hidden_mlp(output_dim, output_dim, output_dim, fusion_layers, dropout=dropout)

    def forward(self, features: list[Tensor]) -> Tensor:
        c = features[self.conditioner]  # (B, D_c)
        film = self.generator(c).view(c.shape[0], len(self.modulated), 2, self.output_dim)  # (B, N-1, 2, D)
        gamma, beta = 1 + film[:, :, 0], film[:, :, 1]  # (B, N-1, D) each
        h = torch.stack([p(features[m]) for p, m in zip(self.projections, self.modulated, strict=True)], dim=1)
        fused = (gamma * h + beta).mean(dim=1)  # h (B, N-1, D) -> (B, D)
        return self.mlp(fused)  # (B, D)
