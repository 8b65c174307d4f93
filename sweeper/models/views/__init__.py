"""View aggregators for multi-view modalities (several images or scans per sample), registered under the name used
in YAML (``view_aggregation: attention``), and the encoder that shares one encoder over the views.

A new aggregator is one class: subclass ``ViewAggregator``, decorate it with
``@VIEW_AGGREGATORS.register(name, description)`` and import its module below. The registry-wide contract test picks
it up with no other edits.
"""

from __future__ import annotations

from sweeper.models.views._base import ViewAggregator
from sweeper.registry import Registry

VIEW_AGGREGATORS: Registry[ViewAggregator] = Registry("view aggregation")

# Imported for their registration side effect; they need VIEW_AGGREGATORS above.
from sweeper.models.views.attention import AttentionViews, GatedViews  # noqa: E402
from sweeper.models.views.encoder import MULTI_VIEW_KINDS, MultiViewEncoder, view_mask, with_views  # noqa: E402
from sweeper.models.views.pooling import MaxViews, MeanViews  # noqa: E402

__all__ = [
    "MULTI_VIEW_KINDS",
    "VIEW_AGGREGATORS",
    "AttentionViews",
    "GatedViews",
    "MaxViews",
    "MeanViews",
    "MultiViewEncoder",
    "ViewAggregator",
    "view_mask",
    "with_views",
]
