"""Build a complete model for a dataset: one encoder per modality -> fusion -> one head per task.

``fusion`` in the config picks the architecture:
- a FUSIONS key (``concat``, ``gated``, ``cross_attention`` ...): intermediate fusion of encoded features;
- a STRATEGIES key (``early``, ``late``, ``hybrid``): where in the network the modalities meet;
- ``only:<modality>``: a single-modality baseline, to show what fusion adds.
"""

from __future__ import annotations

from torch import nn

from sweeper.data.dataset import DatasetSpec
from sweeper.errors import ConfigError
from sweeper.models.config import ModelConfig, check_fusion_name
from sweeper.models.layers import count_parameters
from sweeper.models.parts import (
    MultimodalModel,
    build_encoders,
    build_fusion,
    build_heads,
    build_mixer,
)
from sweeper.models.strategies import STRATEGIES


def build_model(spec: DatasetSpec, config: ModelConfig) -> nn.Module:
    """Build the model ``config`` describes for the modalities and tasks of ``spec``."""
    if not 0.0 <= config.dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), but got dropout={config.dropout}")
    check_fusion_name(config.fusion, spec)
    if config.fusion in STRATEGIES:
        return STRATEGIES.create(config.fusion, spec, config)
    dim = config.hidden_dim
    encoders = build_encoders(spec, config)
    costs = [float(count_parameters(encoders[m])) for m in spec.modality_names]  # a routing fusion's price list
    return MultimodalModel(
        encoders,
        build_mixer(spec, config),
        build_fusion(config.fusion, spec.modality_names, config, modality_costs=costs),
        build_heads(spec, config, dim),
        config.dropout,
    )
