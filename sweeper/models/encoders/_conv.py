"""A ResNet basic block for 1-D signals, 2-D images and 3-D volumes, shared by the cnn1d, cnn2d and cnn3d encoders."""

from __future__ import annotations

from torch import Tensor, nn

# Convolution and batch norm for 1, 2 or 3 spatial dimensions.
_CONV: dict[int, type[nn.Module]] = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_NORM: dict[int, type[nn.Module]] = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}


class ResidualBlock(nn.Module):
    """conv-BN-ReLU-conv-BN plus a shortcut, then ReLU; ``stride`` 2 halves every spatial size."""

    def __init__(self, dims: int, channels: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        conv, norm = _CONV[dims], _NORM[dims]
        pad = kernel_size // 2
        self.body = nn.Sequential(
            conv(channels, channels, kernel_size, stride=stride, padding=pad, bias=False),
            norm(channels),
            nn.ReLU(),
            conv(channels, channels, kernel_size, padding=pad, bias=False),
            norm(channels),
        )
        # A strided 1x1 conv matches the body's output size for odd sizes too (where pooling would not).
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1:
            downsample = conv(channels, channels, 1, stride=stride, bias=False)
            self.shortcut = nn.Sequential(downsample, norm(channels))
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        # x (B, C, *S) -> (B, C, *S / stride)
        return self.act(self.body(x) + self.shortcut(x))


def conv_stack(
    dims: int, in_channels: int, width: int, depth: int, kernel_size: int, stem_stride: int = 1
) -> nn.Sequential:
    """A stem conv to ``width`` channels (``stem_stride`` divides every size: cheap on large inputs), then ``depth``
    residual blocks; all but the first halve the size."""
    conv, norm = _CONV[dims], _NORM[dims]
    stem_conv = conv(in_channels, width, kernel_size, stride=stem_stride, padding=kernel_size // 2, bias=False)
    blocks = [ResidualBlock(dims, width, kernel_size, stride=1 if i == 0 else 2) for i in range(depth)]
    return nn.Sequential(stem_conv, norm(width), nn.ReLU(), *blocks)
