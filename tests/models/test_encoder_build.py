"""A model over one modality of every kind, each read by its kind's default encoder."""

from __future__ import annotations

import torch

from sweeper.data.dataset import DatasetSpec, ModalitySpec, TaskSpec
from sweeper.models import ModelConfig, build_model
from sweeper.models.encoders import DEFAULT_ENCODERS, ENCODERS

SPEC = DatasetSpec(
    modalities=(
        ModalitySpec("photo", "image", (3, 16, 16)),
        ModalitySpec("ct", "volume", (1, 8, 16, 16)),
        ModalitySpec("labs", "tabular", (6,)),
        ModalitySpec("eeg", "signal", (4, 128)),
        ModalitySpec("notes", "text", (12,), vocab_size=40),
        ModalitySpec("clip", "features", (64,)),
    ),
    tasks=(TaskSpec("diagnosis", 3),),
)


def test_every_kind_gets_its_default_encoder_in_a_built_model() -> None:
    torch.manual_seed(0)
    model = build_model(SPEC, ModelConfig(hidden_dim=16))
    for modality in SPEC.modalities:
        expected = ENCODERS.get(DEFAULT_ENCODERS[modality.kind]).factory
        assert type(model.encoders[modality.name]) is expected
    inputs = {m.name: torch.randn(5, *m.shape) for m in SPEC.modalities}
    inputs["notes"] = torch.randint(0, 40, (5, 12))
    logits = model(inputs)["diagnosis"]
    assert logits.shape == (5, 3) and torch.isfinite(logits).all()


def test_a_strided_stem_keeps_the_output_and_shrinks_the_work_on_large_images() -> None:
    import torch

    from sweeper.models.encoders.image import CNN2dEncoder

    x = torch.rand(2, 3, 128, 128)
    plain, strided = CNN2dEncoder((3, 128, 128), 8), CNN2dEncoder((3, 128, 128), 8, stem_stride=4)
    assert plain(x).shape == strided(x).shape == (2, 8)
    assert plain.features(x).shape[-2:] == (64, 64) and strided.features(x).shape[-2:] == (16, 16)
