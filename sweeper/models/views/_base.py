"""The abstract view aggregator: the encoded views of one multi-view modality in, one feature vector per sample out.

Lifecycle of a view aggregator:

1. ``__init__(dim)``: ``dim`` is the width of every view's features (the shared encoder's output_dim) and of the
   pooled vector. Any further hyperparameter is keyword-only with a default, so the registry can list it.
2. ``forward(views, mask)``: ``views`` is (B, V, D), ``mask`` (B, V) bool, True where a view is real. The number
   of real views differs from sample to sample; padded views are ignored exactly, whatever they hold (their rows
   are zeroed before ``pool`` sees them, so not even a NaN there can leak into the output or the gradients).
   Returns (B, D). Aggregators that weigh views store the last weights (B, V), detached, in ``self.weights``.
3. ``num_parameters()``: trainable parameter count (0 for mean and max).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import Tensor, nn

from sweeper.models.layers import count_parameters, require_positive


class ViewAggregator(nn.Module, ABC):
    """Base class of every view aggregator; ``VIEW_AGGREGATORS.register`` sets ``name``; subclasses implement
    ``pool``."""

    name: ClassVar[str] = "view aggregation"  # registry key, used in messages

    def __init__(self, dim: int) -> None:
        super().__init__()
        require_positive("dim", dim)
        self.dim = dim
        self.weights: Tensor | None = None  # (B, V) last weights over the views, for aggregators that have them

    def forward(self, views: Tensor, mask: Tensor) -> Tensor:
        """Pool ``views`` (B, V, D) over its real views (``mask`` (B, V) True) into (B, D)."""
        assert views.ndim == 3 and views.shape[-1] == self.dim, f"views must be (B, V, {self.dim}), got {views.shape}"
        assert mask.shape == views.shape[:2], f"mask must be (B, V) = {tuple(views.shape[:2])}, got {mask.shape}"
        views = views.masked_fill(~mask.unsqueeze(-1), 0.0)  # (B, V, D): padding holds nothing that could leak
        return self.pool(views, mask)

    @abstractmethod
    def pool(self, views: Tensor, mask: Tensor) -> Tensor:
        """``views`` (B, V, D) with padded rows zeroed, ``mask`` (B, V) -> (B, D)."""

    def num_parameters(self) -> int:
        return count_parameters(self)


def masked_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    """(B, V) scores -> (B, V) weights over the real views only: a padded view's weight is exactly 0.

    The lowest finite number (not -inf) marks padding, so a row without a real view gets finite uniform weights
    over zeroed views (a zero vector) instead of NaN.
    """
    return scores.masked_fill(~mask, torch.finfo(scores.dtype).min).softmax(dim=1)
