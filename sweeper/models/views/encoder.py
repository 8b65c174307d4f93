"""A multi-view modality's encoder: one shared encoder reads every real view, a view aggregator pools them.

A multi-view modality arrives as (B, V, *shape): up to V views per sample (images of a lesion from several angles,
several scans), padded to the most views of any sample. A padded view is NaN throughout (the data never holds NaN
otherwise: the loaders refuse it), so the tensor carries its own mask and the model contract stays
``{modality: tensor} -> {task: logits}``.

Only the real views are encoded: padding costs no compute and cannot reach the encoder's batch statistics, so adding
padding changes nothing, in training as in evaluation. (Selecting them reads the mask on the host: one
synchronisation per batch and multi-view modality on a GPU.)
"""

from __future__ import annotations

from typing import TypeVar

import torch
from torch import Tensor, nn

from sweeper.data.dataset import ModalitySpec
from sweeper.errors import ConfigError
from sweeper.models.layers import count_parameters
from sweeper.models.views import VIEW_AGGREGATORS
from sweeper.models.views._base import ViewAggregator

# Kinds whose values are numbers (a text's token ids cannot hold the NaN that marks a padded view).
MULTI_VIEW_KINDS = ("image", "volume", "tabular", "signal", "features")


def view_mask(x: Tensor) -> Tensor:
    """(B, V, *shape) -> (B, V) bool: True for a real view, False for a padded one (NaN throughout)."""
    return ~torch.isnan(x.flatten(2)).all(dim=2)


class MultiViewEncoder(nn.Module):
    """(B, V, *shape) -> (B, D): ``encoder`` ((R, *shape) -> (R, D)) on each real view, then ``aggregator``."""

    def __init__(self, encoder: nn.Module, aggregator: ViewAggregator) -> None:
        super().__init__()
        self.encoder = encoder  # shared by every view
        self.aggregator = aggregator
        self.output_dim = aggregator.dim

    def forward(self, x: Tensor) -> Tensor:
        mask = view_mask(x)  # (B, V)
        encoded = self.encoder(x[mask])  # (R, D): the R real views of the batch, in (sample, view) order
        views = encoded.new_zeros(*mask.shape, encoded.shape[-1]).index_put((mask,), encoded)  # (B, V, D)
        return self.aggregator(views, mask)  # (B, D)

    def num_parameters(self) -> int:
        return count_parameters(self)


M = TypeVar("M", bound=nn.Module)


def with_views(encoder: M, modality: ModalitySpec, aggregation: str, dim: int) -> M | MultiViewEncoder:
    """``encoder`` as it is for a single-view modality; for a multi-view one, shared over its views and pooled by
    the ``aggregation`` registered in VIEW_AGGREGATORS."""
    if not modality.views:
        return encoder
    if modality.kind not in MULTI_VIEW_KINDS:
        raise ConfigError(
            f"modality {modality.name!r} of kind {modality.kind!r} cannot hold several views per sample; "
            f"multi-view kinds: {', '.join(MULTI_VIEW_KINDS)}"
        )
    return MultiViewEncoder(encoder, VIEW_AGGREGATORS.create(aggregation, dim))
