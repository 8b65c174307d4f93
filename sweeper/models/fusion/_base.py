"""The abstract fusion: a list of per-modality feature vectors in, one fused vector out.

Lifecycle of a fusion:

1. ``__init__(input_dims, output_dim, *, hyperparameters)``: the base class checks the number of modalities
   against ``min_modalities`` / ``max_modalities`` (ConfigError otherwise); the subclass builds its layers.
   Every hyperparameter is keyword-only with a default, so the registry can list it and drop those that do
   not apply (``heads`` for a concat fusion).
2. ``forward(features)``: ``features[m]`` is (B, D_m), in ``input_dims`` order; returns (B, output_dim).
   Fusions with attention weights store the last ones, detached, in ``self.attention``.
3. ``num_parameters()``: trainable parameter count, reported with every trial.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from torch import Tensor, nn

from sweeper.errors import ConfigError
from sweeper.models.layers import count_parameters, require_positive


class Fusion(nn.Module, ABC):
    """Base class of every fusion; ``FUSIONS.register`` sets ``name``; subclasses implement ``forward``."""

    name: ClassVar[str] = "fusion"  # registry key, used in messages
    min_modalities: ClassVar[int] = 2
    max_modalities: ClassVar[int | None] = None  # None: any number

    def __init__(self, input_dims: list[int], output_dim: int) -> None:
        super().__init__()
        n = len(input_dims)
        low, high = self.min_modalities, self.max_modalities
        if n < low or (high is not None and n > high):
            allowed = _count_phrase(low, high)
            raise ConfigError(f"fusion {self.name!r} needs {allowed} modalities, but got {n}")
        require_positive("output_dim", output_dim)
        self.input_dims = list(input_dims)
        self.output_dim = output_dim
        self.attention: Tensor | None = None  # last attention weights, for fusions that have them

    @property
    def num_modalities(self) -> int:
        return len(self.input_dims)

    def modality_attention(self) -> Tensor | None:
        """(B, N): the share of the last forward pass's attention each modality received; None without attention.

        From ``attention`` as (B, N) weights, a pooled query's (B, 1, N), or token-to-token (B, N, N), averaged over
        the queries. A fusion with another layout overrides this.
        """
        weights = self.attention
        if weights is None:
            return None
        if weights.ndim == 3:
            weights = weights.mean(dim=1)  # (B, Q, N) -> (B, N): what each modality received, averaged over queries
        return weights

    @abstractmethod
    def forward(self, features: list[Tensor]) -> Tensor:
        """Fuse ``features`` (each (B, D_m)) into (B, output_dim)."""

    def num_parameters(self) -> int:
        return count_parameters(self)


def _count_phrase(low: int, high: int | None) -> str:
    if high is None:
        return f"at least {low}"
    if high == low:
        return f"exactly {low}"
    return f"{low} to {high}"
