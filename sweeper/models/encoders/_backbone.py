"""Encoders around a third-party backbone: ``timm`` (any timm model, for images) and ``monai`` (MONAI's 3-D ResNets,
for volumes). The backbone's pooled features (B, F) go through a projection of ``depth`` layers to (B, output_dim).

Lifecycle, on top of Encoder's:

1. ``__init__`` checks the shape and the options, then ``build_backbone`` imports the package (a one-line
   ConfigError naming the install command where it is missing), builds the network for the input's channels and,
   with ``pretrained``, loads its weights from the local cache (see ``_weights``).
2. ``freeze``: the backbone's parameters do not learn and it stays in eval mode, so its BatchNorm keeps the
   statistics it came with; the projection still learns, and gradients still reach the input through it.
3. ``lr_factor``: the optimiser gives the backbone's parameters lr x lr_factor (``train.optim.parameter_groups``),
   e.g. 0.1 to fine-tune pretrained weights gently while the new projection learns at the full rate.
"""

from __future__ import annotations

import importlib
import math
import re
from abc import abstractmethod
from typing import Any

import torch
from torch import Tensor, nn

from sweeper.errors import ConfigError
from sweeper.models.encoders._base import Encoder
from sweeper.models.layers import mlp, require_positive


class Backbone(nn.Module):
    """A third-party network (B, *shape) -> (B, F), frozen or not, that learns at lr x ``lr_factor``."""

    def __init__(self, net: nn.Module, *, freeze: bool, lr_factor: float) -> None:
        super().__init__()
        self.net = net
        self.frozen = freeze
        self.lr_factor = lr_factor  # read by train.optim.parameter_groups
        if freeze:
            self.net.requires_grad_(False)
        self.train()

    def train(self, mode: bool = True) -> Backbone:
        return super().train(mode and not self.frozen)  # a frozen backbone is always in eval mode

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)  # (B, *shape) -> (B, F)


class BackboneEncoder(Encoder):
    """A backbone's pooled features, then a projection; subclasses say how to build the backbone."""

    def __init__(
        self,
        input_shape: tuple[int, ...],
        output_dim: int,
        *,
        model: str,
        pretrained: bool,
        freeze: bool,
        lr_factor: float,
        depth: int,
    ) -> None:
        super().__init__(input_shape, output_dim)
        require_positive("depth", depth)
        if not (math.isfinite(lr_factor) and lr_factor > 0):
            raise ConfigError(
                f"encoder {self.name!r}: lr_factor must be a finite number > 0, but got {lr_factor=}; "
                f"freeze: true stops the backbone learning"
            )
        net, features = self.build_backbone(model, pretrained)
        self.backbone = Backbone(net, freeze=freeze, lr_factor=lr_factor)
        self.project = mlp(features, output_dim, depth, name="depth")

    @abstractmethod
    def build_backbone(self, model: str, pretrained: bool) -> tuple[nn.Module, int]:
        """The network ``model`` for inputs of ``self.input_shape``, returning pooled features (B, F); and F."""

    def forward(self, x: Tensor) -> Tensor:
        h = self.backbone(x)  # (B, F) pooled features
        return self.project(h)  # (B, output_dim)


def import_package(encoder: str, package: str) -> Any:
    """Import an optional package, or raise a one-line ConfigError that names the install command."""
    try:
        return importlib.import_module(package)
    except ImportError:
        problem = "which is not installed"
    except RuntimeError as exc:  # timm imports torchvision, whose compiled ops refuse a torch they were not built for
        problem = f"which failed to import ({exc})"
    raise ConfigError(f"encoder {encoder!r} needs {package.split('.')[0]}, {problem}: {install_command(package)}")


def install_command(package: str) -> str:
    """How to install ``package`` without pip replacing the torch already installed."""
    if not package.startswith("timm"):
        return "pip install 'sweeper[backbones]'"
    # timm needs torchvision, and each torchvision release pins one torch release (torch 2.X.Y: torchvision
    # 0.(X+15).Y); left to choose, pip takes the newest torchvision and, with it, the newest torch.
    match = re.match(r"2\.(\d+)\.(\d+)", torch.__version__)
    vision = f"torchvision==0.{int(match[1]) + 15}.{match[2]}" if match else "torchvision==<the release of your torch>"
    command = f"pip install timm {vision}, the torchvision of torch {torch.__version__}"
    if torch.version.cuda is None:
        command += " (from the wheel index this CPU-only torch came from: a CUDA build of torchvision fails to import)"
    return command
