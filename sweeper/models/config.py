"""A model's configuration and the names its ``fusion`` may take; no torch here (a spec is checked with these).

``ModelConfig`` lives with the models it configures, ``TrainConfig`` (which holds one) with the training loop in
``sweeper.train.config``; the sweep spec (``sweeper.spec``) fills both from YAML. The registries' names come from
``sweeper.names``, which reads them from the source until their modules are imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sweeper.errors import RegistryError
from sweeper.names import registry

if TYPE_CHECKING:
    from sweeper.data.dataset import DatasetSpec

ONLY = "only:"  # prefix of the single-modality baselines, e.g. "only:image"


@dataclass
class ModelConfig:
    """The architecture of one trial; every name is a registry key as written in YAML."""

    fusion: str = "concat"  # FUSIONS or STRATEGIES key, or only:<modality>
    fusion_layers: int = 1  # depth of the fusion module where it applies
    heads: int | None = None  # attention heads (attention fusions only)
    rank: int | None = None  # factors (low-rank fusions only)
    base_fusion: str = "concat"  # the feature fusion inside the "hybrid" strategy
    hidden_dim: int = 32  # width of every encoder output and of the fused representation
    dropout: float = 0.1  # dropout on the fused representation
    modality_dropout: float = 0.0  # probability of dropping a whole modality per sample while training
    modality_scales: bool = False  # learnable per-channel scale of each modality's features
    task_head: str = "linear"  # HEADS key: the head on each task (YAML also: head)
    view_aggregation: str = "mean"  # VIEW_AGGREGATORS key: how a multi-view modality's encoded views are pooled
    # The fusion's other hyperparameters (``sweeper list`` shows them), e.g. sketch_dim, or conditioner: <modality>;
    # in YAML they are written like any model key. One that the built fusion does not take is ignored, as heads is.
    fusion_options: dict[str, Any] = field(default_factory=dict)
    # Modality name or kind -> ENCODERS key, or {name: key, **hyperparameters}; a kind's default otherwise.
    encoders: dict[str, str | dict[str, Any]] = field(default_factory=dict)


def fusion_options() -> dict[str, list[str]]:
    """Every fusion hyperparameter that has no ModelConfig field of its own -> the fusions that take it."""
    fields = set(ModelConfig.__dataclass_fields__)
    options: dict[str, list[str]] = {}
    for entry in registry("FUSIONS"):
        for option in entry.hyperparameters:
            if option not in fields:
                options.setdefault(option, []).append(entry.name)
    return options


def known_fusions(spec: DatasetSpec | None = None) -> list[str]:
    """Every value ``fusion`` may take (for ``spec``'s modalities, if given)."""
    strategies = []
    for entry in registry("STRATEGIES"):
        if entry.argument and spec is not None:  # the data says which values there are: only:<each modality>
            strategies += [f"{entry.name}:{m}" for m in spec.modality_names]
        else:
            strategies.append(entry.shown_name)
    return registry("FUSIONS").names() + strategies


def check_fusion_name(name: str, spec: DatasetSpec | None = None) -> None:
    """Raise RegistryError unless ``name`` is a fusion or a strategy (``only:<m>`` of a modality of ``spec``)."""
    if name in registry("FUSIONS") or (
        name in registry("STRATEGIES") and (spec is None or name in known_fusions(spec))
    ):
        return
    raise RegistryError(f"unknown fusion {name!r}; known: {', '.join(known_fusions(spec))}")
