"""Text encoder: token and position embeddings, a few pre-LN Transformer layers, mean pooling over real tokens.

Token id 0 is padding: padded positions are masked out of attention and out of the pooled mean, so they do not
change the output. A row that is all padding encodes to the read-out of a zero vector (finite, not NaN).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sweeper.errors import ConfigError
from sweeper.models.encoders import ENCODERS
from sweeper.models.encoders._base import Encoder
from sweeper.models.layers import require_positive

PADDING_ID = 0


@ENCODERS.register("text_transformer", "token + position embeddings, depth pre-LN Transformer layers, mean pool")
class TextTransformerEncoder(Encoder):
    kind = "text"

    # vocab_size comes from the dataset, not the search space, so it is not keyword-only (not a hyperparameter).
    def __init__(
        self,
        input_shape: tuple[int, ...],
        output_dim: int,
        vocab_size: int = 0,
        *,
        width: int = 32,
        depth: int = 1,
        heads: int = 2,
    ) -> None:
        super().__init__(input_shape, output_dim)
        if vocab_size < 2:
            raise ConfigError(
                f"encoder {self.name!r} needs the dataset's vocab_size >= 2 (padding id 0 and a token), "
                f"but got vocab_size={vocab_size}"
            )
        for key, value in (("width", width), ("depth", depth), ("heads", heads)):
            require_positive(key, value)
        if width % heads:
            raise ConfigError(f"width must be a multiple of heads, but got width={width}, heads={heads}")
        length = input_shape[0]
        self.tokens = nn.Embedding(vocab_size, width, padding_idx=PADDING_ID)
        self.position = nn.Parameter(torch.randn(1, length, width) * 0.02)  # learned, one vector per position
        layer = nn.TransformerEncoderLayer(
            width, heads, dim_feedforward=4 * width, dropout=0.0, batch_first=True, norm_first=True
        )
        # Pre-LN layers leave the residual stream unnormalised, hence the final LayerNorm.
        self.transformer = nn.TransformerEncoder(layer, depth, norm=nn.LayerNorm(width), enable_nested_tensor=False)
        self.out = nn.Linear(width, output_dim)

    def forward(self, x: Tensor) -> Tensor:
        padding = x == PADDING_ID  # (B, L), True where there is no token
        # An all-padding row would mask every key and make attention NaN; let it attend (pooling drops it anyway).
        padding = padding & ~padding.all(dim=1, keepdim=True)
        h = self.tokens(x) + self.position  # (B, L, width)
        h = self.transformer(h, src_key_padding_mask=padding)  # (B, L, width)
        real = (x != PADDING_ID).unsqueeze(-1).to(h.dtype)  # (B, L, 1)
        h = (h * real).sum(dim=1) / real.sum(dim=1).clamp(min=1.0)  # (B, width); zero for an all-padding row
        return self.out(h)  # (B, output_dim)
