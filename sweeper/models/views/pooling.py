"""Parameter-free view pooling: the mean or the feature-wise maximum over a sample's real views."""

from __future__ import annotations

import torch
from torch import Tensor

from sweeper.models.views import VIEW_AGGREGATORS
from sweeper.models.views._base import ViewAggregator


@VIEW_AGGREGATORS.register("mean", "the mean of the real views' features; no parameters")
class MeanViews(ViewAggregator):
    def pool(self, views: Tensor, mask: Tensor) -> Tensor:
        count = mask.sum(dim=1, keepdim=True).clamp(min=1).to(views.dtype)  # (B, 1) real views per sample
        return views.sum(dim=1) / count  # (B, D): padded rows are zero, so they add nothing


@VIEW_AGGREGATORS.register("max", "the feature-wise maximum over the real views; no parameters")
class MaxViews(ViewAggregator):
    def pool(self, views: Tensor, mask: Tensor) -> Tensor:
        lowest = torch.finfo(views.dtype).min
        pooled = views.masked_fill(~mask.unsqueeze(-1), lowest).amax(dim=1)  # (B, D): padding never wins
        return torch.where(mask.any(dim=1, keepdim=True), pooled, torch.zeros_like(pooled))  # (B, D)
