"""The abstract encoder: one modality's raw tensor in, a feature vector out.

Lifecycle of an encoder:

1. ``__init__(input_shape, output_dim, *, hyperparameters)``: the base class checks that ``input_shape`` has
   ``input_ndim`` dimensions (ConfigError otherwise); the subclass builds its layers. Hyperparameters are
   keyword-only with defaults.
2. ``forward(x)``: x is (B, *input_shape); returns (B, output_dim).
3. ``num_parameters()``: trainable parameter count.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from torch import Tensor, nn

from sweeper.errors import ConfigError
from sweeper.models.layers import count_parameters, require_positive


class Encoder(nn.Module, ABC):
    """Base class of every encoder; subclasses set ``name``, ``kind``, ``input_ndim`` and ``layout``."""

    name: ClassVar[str] = "encoder"  # registry key, used in messages
    kind: ClassVar[str]  # the modality kind it reads, one of data.dataset.MODALITY_KINDS ("image", "text", ...)
    input_ndim: ClassVar[int]  # number of per-sample dimensions it reads
    layout: ClassVar[str]  # what those dimensions are, for messages: "(C, H, W)"
    requires: ClassVar[tuple[str, ...]] = ()  # optional packages it imports when built (timm, monai)

    def __init__(self, input_shape: tuple[int, ...], output_dim: int) -> None:
        super().__init__()
        if len(input_shape) != self.input_ndim or min(input_shape) < 1:
            raise ConfigError(
                f"encoder {self.name!r} needs a per-sample shape {self.layout} of positive sizes, "
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
