"""The contract every registered encoder keeps; a new encoder is tested here with no edits."""

from __future__ import annotations

import pytest
import torch

from sweeper.errors import ConfigError
from sweeper.models.encoders import DEFAULT_ENCODERS, ENCODERS, Encoder

BATCH, OUTPUT_DIM = 4, 12
SHAPES = {1: (7,), 2: (3, 33), 3: (2, 9, 11)}  # odd sizes, to catch stride/padding mismatches


def _encoder_class(name: str) -> type[Encoder]:
    factory = ENCODERS.get(name).factory
    assert isinstance(factory, type) and issubclass(factory, Encoder)
    return factory


@pytest.mark.parametrize("name", ENCODERS.names())
def test_encoder_contract(name: str) -> None:
    torch.manual_seed(0)
    shape = SHAPES[_encoder_class(name).input_ndim]
    encoder = ENCODERS.create(name, shape, OUTPUT_DIM)
    x = torch.randn(BATCH, *shape, requires_grad=True)

    out = encoder(x)
    assert out.shape == (BATCH, OUTPUT_DIM)
    assert torch.isfinite(out).all()
    out.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0

    encoder.eval()
    with torch.no_grad():
        assert torch.equal(encoder(x), encoder(x))
    assert encoder.num_parameters() > 0


@pytest.mark.parametrize("name", ENCODERS.names())
def test_encoder_rejects_a_shape_of_the_wrong_rank(name: str) -> None:
    wrong = SHAPES[1] if _encoder_class(name).input_ndim != 1 else SHAPES[3]
    with pytest.raises(ConfigError, match=rf"^encoder '{name}' needs a per-sample shape .*, but got"):
        ENCODERS.create(name, wrong, OUTPUT_DIM)


@pytest.mark.parametrize("name", ENCODERS.names())
def test_encoder_hyperparameters_have_defaults_and_are_honoured(name: str) -> None:
    entry = ENCODERS.get(name)
    assert entry.description and "depth" in entry.hyperparameters
    shape = SHAPES[_encoder_class(name).input_ndim]
    shallow = ENCODERS.create(name, shape, OUTPUT_DIM, depth=1).num_parameters()
    deep = ENCODERS.create(name, shape, OUTPUT_DIM, depth=3).num_parameters()
    assert deep > shallow


def test_every_default_encoder_is_registered() -> None:
    assert set(DEFAULT_ENCODERS.values()) <= set(ENCODERS.names())
