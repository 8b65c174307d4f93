"""The abstract encoder: one modality's raw tensor in, a feature vector out.

Lifecycle of an encoder:

1. ``__init__(input_shape, output_dim, *, hyperparameters)``: the base class checks that ``input_shape`` is laid
   out as its kind's ``LAYOUTS`` entry says (ConfigError otherwise); the subclass builds its layers. Hyperparameters are
   keyword-only with defaults.
2. ``forward(x)``: x is (B, *input_shape); returns (B, output_dim).
3. ``num_parameters()``: trainable parameter count.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from torch import Tensor, nn

from sweeper.data.dataset import LAYOUTS
from sweeper.errors import ConfigError
from sweeper.models.layers import count_parameters, require_positive


class Encoder(nn.Module, ABC):
    """Base class of every encoder; ``ENCODERS.register`` sets ``name``, subclasses set ``kind``."""

    name: ClassVar[str] = "encoder"  # registry key, used in messages
    kind: ClassVar[str]  # the modality kind it reads, a key of data.dataset.LAYOUTS ("image", "text", ...)
    requires: ClassVar[tuple[str, ...]] = ()  # optional packages it imports when built (timm, monai)

    def __init__(self, input_shape: tuple[int, ...], output_dim: int) -> None:
        super().__init__()
        layout = LAYOUTS[self.kind]  # "(C, H, W)": as many dimensions as names
        if len(input_shape) != len(layout.strip("(,)").split(", ")) or min(input_shape) < 1:
            raise ConfigError(
                f"encoder {self.name!r} needs a per-sample shape {layout} of positive sizes, "
                f"but got {tuple(input_shape)}"
            )
        require_positive("output_dim", output_dim)
        self.input_shape = tuple(input_shape)
        self.output_dim = output_dim

    @abstractmethod
    def forward(self, x: Tensor) -> Tensor:
        """Encode x (B, *input_shape) into (B, output_dim)."""

    def num_parameters(self) -> int:
        return count_parameters(self)
