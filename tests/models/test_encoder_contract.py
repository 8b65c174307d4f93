"""The contract every registered encoder keeps; a new encoder is tested here with no edits.

Each encoder declares the modality ``kind`` it reads, and gets inputs of that kind: random floats of the kind's
shape, or for text random token ids with trailing padding (id 0) and a vocab_size. An encoder that needs an optional
package (``requires``: timm, monai) is skipped where that package does not import (see backbone_packages).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from backbone_packages import require
from torch import Tensor, nn

from sweeper.data.dataset import LAYOUTS, MODALITY_KINDS
from sweeper.errors import ConfigError
from sweeper.models.encoders import DEFAULT_ENCODERS, ENCODERS, Encoder

BATCH, OUTPUT_DIM, VOCAB = 4, 12, 50
# A per-sample shape for each modality kind; odd sizes, to catch stride/padding mismatches.
KIND_SHAPES: dict[str, tuple[int, ...]] = {
    "image": (2, 9, 11),
    "volume": (2, 5, 9, 11),
    "tabular": (7,),
    "signal": (3, 33),
    "text": (13,),
    "features": (24,),
}
# Options that change what an encoder computes, checked on top of every encoder's defaults.
VARIANTS: list[tuple[str, dict[str, Any], tuple[int, ...]]] = [
    ("cnn1d", {"log_mel": True}, (1, 2048)),  # raw audio
    ("cnn1d", {"channel_weights": True}, KIND_SHAPES["signal"]),
    ("cnn1d", {"log_mel": True, "n_mels": 16, "channel_weights": True}, (2, 1024)),
]


def _encoder_class(name: str) -> type[Encoder]:
    factory = ENCODERS.get(name).factory
    assert isinstance(factory, type) and issubclass(factory, Encoder)
    return factory


def _shape(name: str) -> tuple[int, ...]:
    return KIND_SHAPES[_encoder_class(name).kind]


def sample_input(kind: str, shape: tuple[int, ...], batch: int = BATCH) -> Tensor:
    """A batch for ``kind``: token ids with trailing padding for text (every row keeps a token), else floats."""
    if kind != "text":
        return torch.randn(batch, *shape)
    tokens = torch.randint(1, VOCAB, (batch, *shape))
    lengths = torch.randint(1, shape[0] + 1, (batch, 1))  # (B, 1) real tokens per row
    tokens[torch.arange(shape[0]) >= lengths] = 0
    return tokens


CASES = [pytest.param(name, {}, _shape(name), id=name) for name in ENCODERS.names()] + [
    pytest.param(name, hp, shape, id=f"{name}-{'-'.join(hp)}") for name, hp, shape in VARIANTS
]


@pytest.mark.parametrize(("name", "hyperparameters", "shape"), CASES)
def test_encoder_contract(name: str, hyperparameters: dict[str, Any], shape: tuple[int, ...]) -> None:
    require(*_encoder_class(name).requires)
    torch.manual_seed(0)
    encoder = ENCODERS.create(name, shape, OUTPUT_DIM, vocab_size=VOCAB, **hyperparameters)
    x = sample_input(encoder.kind, shape)
    if x.is_floating_point():
        x.requires_grad_()

    out = encoder(x)
    assert out.shape == (BATCH, OUTPUT_DIM)
    assert torch.isfinite(out).all()
    out.square().sum().backward()
    # Token ids are not differentiable: for text, the gradient must reach the embedding tables instead.
    if x.is_floating_point():
        grads = [x.grad]
    else:
        grads = [m.weight.grad for m in encoder.modules() if isinstance(m, nn.Embedding)]
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)

    encoder.eval()
    with torch.no_grad():
        assert torch.equal(encoder(x), encoder(x))
    assert encoder.num_parameters() > 0


@pytest.mark.parametrize("name", ENCODERS.names())
def test_encoder_declares_the_kind_it_reads(name: str) -> None:
    cls = _encoder_class(name)
    assert cls.kind in MODALITY_KINDS


@pytest.mark.parametrize("name", ENCODERS.names())
def test_encoder_rejects_a_shape_of_the_wrong_rank(name: str) -> None:
    wrong = (7,) if len(KIND_SHAPES[_encoder_class(name).kind]) != 1 else (2, 9, 11)
    with pytest.raises(ConfigError, match=rf"^encoder '{name}' needs a per-sample shape .*, but got"):
        ENCODERS.create(name, wrong, OUTPUT_DIM, vocab_size=VOCAB)


@pytest.mark.parametrize("name", ENCODERS.names())
def test_encoder_hyperparameters_have_defaults_and_are_honoured(name: str) -> None:
    entry = ENCODERS.get(name)
    assert entry.description and "depth" in entry.hyperparameters
    require(*_encoder_class(name).requires)
    shape = _shape(name)
    shallow = ENCODERS.create(name, shape, OUTPUT_DIM, vocab_size=VOCAB, depth=1).num_parameters()
    deep = ENCODERS.create(name, shape, OUTPUT_DIM, vocab_size=VOCAB, depth=3).num_parameters()
    assert deep > shallow


def test_every_modality_kind_has_a_test_shape() -> None:
    assert set(KIND_SHAPES) == set(MODALITY_KINDS)
    for kind, shape in KIND_SHAPES.items():  # of the rank its layout names: (C, H, W) is 3
        assert len(shape) == len(LAYOUTS[kind].split(",")) - LAYOUTS[kind].endswith(",)")


def test_every_default_encoder_is_registered_for_its_kind() -> None:
    assert set(DEFAULT_ENCODERS) == set(MODALITY_KINDS)
    for kind, name in DEFAULT_ENCODERS.items():
        assert _encoder_class(name).kind == kind
