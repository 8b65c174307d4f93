"""Learned view pooling: a softmax over each sample's real views of a score per view (attention-based multiple
instance learning, Ilse et al. 2018).

- ``attention``: score_v = w^T tanh(W h_v);
- ``gated``:     score_v = w^T (tanh(W h_v) * sigmoid(U h_v)), a sigmoid gate that lets the score switch features off.

The pooled vector is sum_v a_v h_v with a = softmax over the real views; the weights are kept in ``self.weights``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sweeper.models.views import VIEW_AGGREGATORS
from sweeper.models.views._base import ViewAggregator, masked_softmax


@VIEW_AGGREGATORS.register("attention", "attention pooling: softmax over the real views of w^T tanh(W h_v)")
class AttentionViews(ViewAggregator):
    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.content = nn.Linear(dim, dim)
        self.score = nn.Linear(dim, 1)

    def pool(self, views: Tensor, mask: Tensor) -> Tensor:
        scores = self.score(torch.tanh(self.content(views))).squeeze(-1)  # (B, V)
        return _weighted_sum(self, views, scores, mask)


@VIEW_AGGREGATORS.register("gated", "gated attention pooling: softmax over the real views of w^T (tanh(Wh) * sigm(Uh))")
class GatedViews(ViewAggregator):
    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.content = nn.Linear(dim, dim)
        self.gate = nn.Linear(dim, dim)
        self.score = nn.Linear(dim, 1)

    def pool(self, views: Tensor, mask: Tensor) -> Tensor:
        hidden = torch.tanh(self.content(views)) * torch.sigmoid(self.gate(views))  # (B, V, D)
        scores = self.score(hidden).squeeze(-1)  # (B, V)
        return _weighted_sum(self, views, scores, mask)


def _weighted_sum(aggregator: ViewAggregator, views: Tensor, scores: Tensor, mask: Tensor) -> Tensor:
    weights = masked_softmax(scores, mask)  # (B, V), sums to 1 over the real views
    aggregator.weights = weights.detach()
    return (weights.unsqueeze(-1) * views).sum(dim=1)  # (B, D)
