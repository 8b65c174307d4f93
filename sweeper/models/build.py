"""Build a complete model for a dataset: one encoder per modality -> fusion -> one head per task.

``fusion`` in the config picks the architecture:
- a FUSIONS key (``concat``, ``gated``, ``cross_attention`` ...): intermediate fusion of encoded features;
- a STRATEGIES key (``early``, ``late``, ``hybrid``): where in the network the modalities meet;
- ``only:<modality>``: a single-modality baseline, to show what fusion adds.
"""

from __future__ import annotations

from torch import nn

from sweeper.data.dataset import DatasetSpec
from sweeper.errors import ConfigError, RegistryError
from sweeper.models.fusion import FUSIONS
from sweeper.models.layers import count_parameters
from sweeper.models.parts import (
    ModelConfig,
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


def known_fusions(spec: DatasetSpec | None = None) -> list[str]:
    """Every value ``fusion`` may take (for ``spec``'s modalities, if given)."""
    strategies = []
    for entry in STRATEGIES:
        if entry.argument and spec is not None:  # the data says which values there are: only:<each modality>
            strategies += [f"{entry.name}:{m}" for m in spec.modality_names]
        else:
            strategies.append(entry.shown_name)
    return FUSIONS.names() + strategies


def check_fusion_name(name: str, spec: DatasetSpec | None = None) -> None:
    """Raise RegistryError unless ``name`` is a fusion or a strategy (``only:<m>`` of a modality of ``spec``)."""
    if name in FUSIONS or (name in STRATEGIES and (spec is None or name in known_fusions(spec))):
        return
    raise RegistryError(f"unknown fusion {name!r}; known: {', '.join(known_fusions(spec))}")
