"""Build a complete model for a dataset: one encoder per modality -> one fusion -> one head per task."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from sweeper.data.dataset import DatasetSpec, ModalitySpec
from sweeper.errors import ConfigError
from sweeper.models.encoders import DEFAULT_ENCODERS, ENCODERS, Encoder
from sweeper.models.fusion import FUSIONS, Fusion
from sweeper.models.heads import HEADS


@dataclass
class ModelConfig:
    """The architecture of one trial; every name is a registry key as written in YAML."""

    fusion: str = "concat"  # FUSIONS key
    fusion_layers: int = 1  # depth of the fusion module where it applies
    heads: int | None = None  # attention heads (attention fusions only)
    rank: int | None = None  # factors (low-rank fusions only)
    hidden_dim: int = 32  # width of every encoder output and of the fused representation
    dropout: float = 0.1  # dropout on the fused representation
    head: str = "linear"  # HEADS key, one head per task
    # Modality name or kind -> ENCODERS key, or {name: key, **hyperparameters}; a kind's default otherwise.
    encoders: dict[str, str | dict[str, Any]] = field(default_factory=dict)


class MultimodalModel(nn.Module):
    """``{modality: (B, *shape)}`` in, ``{task: (B, num_classes)}`` logits out, via one fused vector."""

    def __init__(
        self, encoders: dict[str, Encoder], fusion: Fusion, heads: dict[str, nn.Module], dropout: float
    ) -> None:
        super().__init__()
        self.encoders = nn.ModuleDict(encoders)  # modality name -> encoder, in the fusion's input order
        self.fusion = fusion
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict(heads)  # task name -> head

    def forward(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        features = [encoder(inputs[name]) for name, encoder in self.encoders.items()]  # N x (B, D)
        fused = self.dropout(self.fusion(features))  # (B, D)
        return {task: head(fused) for task, head in self.heads.items()}  # task -> (B, num_classes)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def build_model(spec: DatasetSpec, config: ModelConfig) -> MultimodalModel:
    """Build the model ``config`` describes for the modalities and tasks of ``spec``."""
    known = {m.name for m in spec.modalities} | set(DEFAULT_ENCODERS)
    unknown = sorted(set(config.encoders) - known)
    if unknown:
        raise ConfigError(f"encoders names unknown modalities or kinds {unknown}; known: {', '.join(sorted(known))}")
    if not 0.0 <= config.dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), but got dropout={config.dropout}")
    dim = config.hidden_dim
    encoders = {m.name: build_encoder(m, config, dim) for m in spec.modalities}
    fusion = FUSIONS.create(
        config.fusion,
        [dim] * len(spec.modalities),
        dim,
        fusion_layers=config.fusion_layers,
        heads=config.heads,
        rank=config.rank,
        dropout=config.dropout,
    )
    heads = {t.name: HEADS.create(config.head, dim, t.num_classes) for t in spec.tasks}
    return MultimodalModel(encoders, fusion, heads, config.dropout)


def build_encoder(modality: ModalitySpec, config: ModelConfig, output_dim: int) -> Encoder:
    """The encoder for ``modality``: named for it, else for its kind, else the kind's default."""
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
    return ENCODERS.create(name, modality.shape, output_dim, vocab_size=vocab, **hyperparameters)
