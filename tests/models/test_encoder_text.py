"""text_transformer: padding (token id 0) is ignored, an all-padding row is finite, vocab_size is required."""

from __future__ import annotations

import pytest
import torch

from sweeper.data.dataset import ModalitySpec
from sweeper.errors import ConfigError
from sweeper.models import ModelConfig
from sweeper.models.encoders import ENCODERS, TextTransformerEncoder
from sweeper.models.parts import build_encoder

LENGTH, VOCAB = 10, 30


def _encoder(**hyperparameters: int) -> TextTransformerEncoder:
    torch.manual_seed(0)
    encoder = ENCODERS.create("text_transformer", (LENGTH,), 8, vocab_size=VOCAB, **hyperparameters)
    assert isinstance(encoder, TextTransformerEncoder)
    return encoder


@pytest.mark.parametrize("train", [False, True])
def test_padded_positions_do_not_change_the_output(train: bool) -> None:
    encoder = _encoder(depth=2).train(train)  # dropout is 0, so training mode is deterministic too
    tokens = torch.tensor([[5, 9, 2, 0, 0, 0, 0, 0, 0, 0], [7, 1, 4, 8, 3, 6, 2, 2, 9, 11]])
    with torch.no_grad():
        before = encoder(tokens)
        # Whatever the padded positions would carry (their position vectors, the padding embedding) is ignored.
        encoder.position[:, 3:] = torch.randn(1, LENGTH - 3, 32)
        encoder.tokens.weight[0] = torch.randn(32)
        after = encoder(tokens)
    assert torch.allclose(before[0], after[0], atol=1e-5)
    assert not torch.allclose(before[1], after[1], atol=1e-5)  # row 1 has no padding: the same edit shows


def test_real_tokens_change_the_output() -> None:
    encoder = _encoder().eval()
    tokens = torch.tensor([[5, 9, 2, 0, 0, 0, 0, 0, 0, 0]])
    other = tokens.clone()
    other[0, 2] = 3
    with torch.no_grad():
        assert not torch.allclose(encoder(tokens), encoder(other))


@pytest.mark.parametrize("train", [False, True])
def test_an_all_padding_row_gives_a_finite_output_and_gradients(train: bool) -> None:
    encoder = _encoder(depth=2).train(train)
    tokens = torch.zeros(3, LENGTH, dtype=torch.long)
    tokens[1, :4] = torch.tensor([3, 4, 5, 6])  # one real row beside two empty ones
    out = encoder(tokens)
    assert torch.isfinite(out).all()
    out.square().sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in encoder.parameters() if p.grad is not None)


def test_vocab_size_is_required_and_comes_from_the_dataset() -> None:
    with pytest.raises(ConfigError, match=r"^encoder 'text_transformer' needs the dataset's vocab_size >= 2 .*=0$"):
        ENCODERS.create("text_transformer", (LENGTH,), 8)
    with pytest.raises(ConfigError, match=r"vocab_size >= 2"):
        build_encoder(ModalitySpec("notes", "text", (LENGTH,)), ModelConfig(), 8)
    encoder = build_encoder(ModalitySpec("notes", "text", (LENGTH,), vocab_size=VOCAB), ModelConfig(), 8)
    assert isinstance(encoder, TextTransformerEncoder) and encoder.tokens.num_embeddings == VOCAB
    # Not a hyperparameter a search space can set: the dataset owns it.
    assert "vocab_size" not in ENCODERS.get("text_transformer").hyperparameters


def test_width_must_split_into_heads() -> None:
    with pytest.raises(ConfigError, match=r"^width must be a multiple of heads, but got width=30, heads=4$"):
        _encoder(width=30, heads=4)
