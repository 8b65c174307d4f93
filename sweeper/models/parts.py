"""The pieces every architecture is built from: the model's configuration, encoders, the modality mixer, a fusion,
task heads, and the intermediate-fusion model. ``build.py`` (which architecture) and ``strategies.py`` (early, late,
hybrid, single-modality) both build on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from sweeper.data.dataset import DatasetSpec, ModalitySpec
from sweeper.errors import ConfigError
from sweeper.models.encoders import DEFAULT_ENCODERS, ENCODERS, Encoder
from sweeper.models.fusion import FUSIONS, Fusion
from sweeper.models.heads import HEADS
from sweeper.models.layers import NameDict, count_parameters
from sweeper.models.modality import ModalityMixer
from sweeper.models.views import MultiViewEncoder, with_views

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


class MultimodalModel(nn.Module):
    """Intermediate fusion: ``{modality: (B, *shape)}`` -> encoders -> one fused vector -> ``{task: logits}``."""

    def __init__(
        self,
        encoders: dict[str, Encoder | MultiViewEncoder],
        mixer: ModalityMixer,
        fusion: Fusion,
        task_heads: dict[str, nn.Module],
        dropout: float,
    ) -> None:
        super().__init__()
        self.encoders = NameDict(encoders)  # modality name -> encoder, in the fusion's input order
        self.mixer = mixer
        self.fusion = fusion
        self.dropout = nn.Dropout(dropout)
        self.task_heads = NameDict(task_heads)  # task name -> its head

    def forward(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        features = [encoder(inputs[name]) for name, encoder in self.encoders.items()]  # N x (B, D)
        features, _ = self.mixer(features)
        fused = self.dropout(self.fusion(features))  # (B, D)
        return {task: head(fused) for task, head in self.task_heads.items()}  # task -> (B, num_classes)

    def num_parameters(self) -> int:
        return count_parameters(self)


def build_fusion(
    name: str, modality_names: list[str], config: ModelConfig, *, modality_costs: list[float] | None = None
) -> Fusion:
    dim = config.hidden_dim
    return FUSIONS.create(
        name,
        [dim] * len(modality_names),
        dim,
        **config.fusion_options,
        fusion_layers=config.fusion_layers,
        heads=config.heads,
        rank=config.rank,
        dropout=config.dropout,
        modality_names=list(modality_names),
        modality_costs=modality_costs,
    )


def fusion_options() -> dict[str, list[str]]:
    """Every fusion hyperparameter that has no ModelConfig field of its own -> the fusions that take it."""
    fields = set(ModelConfig.__dataclass_fields__)
    options: dict[str, list[str]] = {}
    for entry in FUSIONS:
        for option in entry.hyperparameters:
            if option not in fields:
                options.setdefault(option, []).append(entry.name)
    return options


def build_encoders(spec: DatasetSpec, config: ModelConfig) -> dict[str, Encoder | MultiViewEncoder]:
    known = {m.name for m in spec.modalities} | set(DEFAULT_ENCODERS)
    unknown = sorted(set(config.encoders) - known)
    if unknown:
        raise ConfigError(f"encoders names unknown modalities or kinds {unknown}; known: {', '.join(sorted(known))}")
    return {m.name: build_encoder(m, config, config.hidden_dim) for m in spec.modalities}


def build_mixer(spec: DatasetSpec, config: ModelConfig) -> ModalityMixer:
    n, dim = len(spec.modalities), config.hidden_dim
    return ModalityMixer(n, dim, dropout=config.modality_dropout, scales=config.modality_scales)


def build_heads(spec: DatasetSpec, config: ModelConfig, input_dim: int) -> dict[str, nn.Module]:
    return {t.name: HEADS.create(config.task_head, input_dim, t.num_classes) for t in spec.tasks}


def build_encoder(modality: ModalitySpec, config: ModelConfig, output_dim: int) -> Encoder | MultiViewEncoder:
    """The encoder for ``modality``: named for it, else for its kind, else the kind's default; for a multi-view
    modality, that encoder shared over the views, pooled by ``config.view_aggregation``."""
    if modality.kind not in DEFAULT_ENCODERS:
        raise ConfigError(f"unknown modality kind {modality.kind!r}; known: {', '.join(sorted(DEFAULT_ENCODERS))}")
    choice = config.encoders.get(modality.name, config.encoders.get(modality.kind, DEFAULT_ENCODERS[modality.kind]))
    if isinstance(choice, dict):
        if "name" not in choice:
            raise ConfigError(f"encoders.{modality.name}: a mapping needs 'name', the encoder, but got {choice}")
        name, hyperparameters = choice["name"], {k: v for k, v in choice.items() if k != "name"}
    else:
        name, hyperparameters = choice, {}
    allowed = ENCODERS.get(name).hyperparameters
    for key in hyperparameters:
        if key not in allowed:
            raise ConfigError(
                f"encoders.{modality.name}: unknown hyperparameter {key!r} for encoder {name!r}; "
                f"allowed: {', '.join(allowed) or 'none'}"
            )
    vocab = modality.vocab_size or None
    encoder = ENCODERS.create(name, modality.shape, output_dim, vocab_size=vocab, **hyperparameters)
    return with_views(encoder, modality, config.view_aggregation, output_dim)
