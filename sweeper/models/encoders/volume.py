"""Volume encoder: a small ResNet-style 3-D CNN for scans such as CT or MRI."""

from __future__ import annotations

from torch import Tensor, nn

from sweeper.models.encoders import ENCODERS
from sweeper.models.encoders._base import Encoder
from sweeper.models.encoders._conv import conv_stack
from sweeper.models.layers import require_positive


@ENCODERS.register("cnn3d", "small ResNet-style 3-D CNN for volumes (width, depth), global average pool")
class CNN3dEncoder(Encoder):
    kind = "volume"

    # Narrower than cnn2d by default: a 3-D conv costs kernel_size times more per channel pair.
    def __init__(self, input_shape: tuple[int, ...], output_dim: int, *, width: int = 8, depth: int = 2) -> None:
        super().__init__(input_shape, output_dim)
        require_positive("width", width)
        require_positive("depth", depth)
        self.features = conv_stack(3, input_shape[0], width, depth, kernel_size=3)
        self.out = nn.Linear(width, output_dim)

    def forward(self, x: Tensor) -> Tensor:
        h = self.features(x)  # (B, width, D', H', W')
        h = h.mean(dim=(2, 3, 4))  # (B, width)
        return self.out(h)  # (B, output_dim)
