"""A ResNet basic block for 1-D signals and 2-D images, shared by the cnn1d and cnn2d encoders."""

from __future__ import annotations

from torch import Tensor, nn


class ResidualBlock(nn.Module):
    """conv-BN-ReLU-conv-BN plus a shortcut, then ReLU; ``stride`` 2 halves every spatial size."""

    def __init__(self, dims: int, channels: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        conv = nn.Conv1d if dims == 1 else nn.Conv2d
        norm = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
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


def conv_stack(dims: int, in_channels: int, width: int, depth: int, kernel_size: int) -> nn.Sequential:
    """A stem conv to ``width`` channels, then ``depth`` residual blocks; all but the first halve the size."""
    conv = nn.Conv1d if dims == 1 else nn.Conv2d
    norm = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
    stem_conv = conv(in_channels, width, kernel_size, padding=kernel_size // 2, bias=False)
    blocks = [ResidualBlock(dims, width, kernel_size, stride=1 if i == 0 else 2) for i in range(depth)]
    return nn.Sequential(stem_conv, norm(width), nn.ReLU(), *blocks)
