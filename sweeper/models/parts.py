"""The pieces every architecture is built from: the model's configuration, encoders, the modality mixer, a fusion,
task heads, and the intermediate-fusion model. ``build.py`` (which architecture) and ``strategies.py`` (early, late,
hybrid, single-modality) both build on them.
"""

from __future__ import annotations

from torch import Tensor, nn

from sweeper.data.dataset import DatasetSpec, ModalitySpec
from sweeper.errors import ConfigError
from sweeper.models.config import ModelConfig
from sweeper.models.encoders import DEFAULT_ENCODERS, ENCODERS, Encoder
from sweeper.models.fusion import FUSIONS, Fusion
from sweeper.models.heads import HEADS
from sweeper.models.layers import NameDict, count_parameters
from sweeper.models.modality import ModalityMixer
from sweeper.models.views import MultiViewEncoder, with_views


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
