"""Image encoder: a small ResNet-style 2-D CNN."""

from __future__ import annotations

from torch import Tensor, nn

from sweeper.models.encoders import ENCODERS
from sweeper.models.encoders._base import Encoder
from sweeper.models.encoders._conv import conv_stack
from sweeper.models.layers import require_positive


@ENCODERS.register("cnn2d", "small ResNet-style 2-D CNN for images (width, depth, stem_stride), global average pool")
class CNN2dEncoder(Encoder):
    kind = "image"

    def __init__(
        self, input_shape: tuple[int, ...], output_dim: int, *, width: int = 16, depth: int = 2, stem_stride: int = 1
    ) -> None:
        """``stem_stride`` > 1 makes the first convolution strided (4 for 128 to 224 px images keeps them cheap)."""
        super().__init__(input_shape, output_dim)
        require_positive("width", width)
        require_positive("depth", depth)
        require_positive("stem_stride", stem_stride)
        self.features = conv_stack(2, input_shape[0], width, depth, kernel_size=3, stem_stride=stem_stride)
        self.out = nn.Linear(width, output_dim)

    def forward(self, x: Tensor) -> Tensor:
        h = self.features(x)  # (B, width, H', W')
        h = h.mean(dim=(2, 3))  # (B, width)
        return self.out(h)  # (B, output_dim)
