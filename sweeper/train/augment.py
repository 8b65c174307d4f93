"""Augmentation of image and volume batches, on the device the batch is on: random crop, flip, intensity jitter.

Off by default; ``TrainConfig.augment_crop``, ``augment_flip`` and ``augment_jitter`` turn it on, in the spec's
``train:`` section or as searched parameters. Training batches only: evaluation sees the images as they are.

- **crop** ``c`` in [0, 0.5]: each sample is cut to a random box whose side is a random fraction in [1 - c, 1] of
  the image's, placed at random inside it, and resized back (one ``grid_sample`` per batch; reflection at borders).
- **flip**: each sample is mirrored left-right with probability 1/2 (the last axis: width).
- **jitter** ``j`` in [0, 0.5]: each sample's intensities become ``x * (1 + a) + b`` with ``a, b`` uniform in [-j, j].

The random draws come from the training loop's CPU generator, whose state is in every checkpoint, so a resumed trial
augments exactly as if it had not stopped; only the few numbers per sample are moved to the device.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:
    from sweeper.train.config import TrainConfig

AUGMENTED_KINDS = ("image", "volume")  # (B, C, H, W) and (B, C, D, H, W)
_SPATIAL = {"image": 2, "volume": 3}  # spatial dimensions of one view of each augmented kind


def augments(config: TrainConfig) -> bool:
    return bool(config.augment_crop or config.augment_flip or config.augment_jitter)


def augment(
    inputs: dict[str, Tensor], kinds: dict[str, str], config: TrainConfig, generator: torch.Generator
) -> dict[str, Tensor]:
    """``inputs`` with every image and volume modality augmented; the others as they are."""
    if not augments(config):
        return inputs
    return {
        name: _augment(x, _SPATIAL[kinds[name]], config, generator) if kinds[name] in AUGMENTED_KINDS else x
        for name, x in inputs.items()
    }


def _augment(x: Tensor, spatial: int, config: TrainConfig, generator: torch.Generator) -> Tensor:
    if x.dim() > spatial + 2:  # a multi-view modality (B, V, C, *S): each view is augmented on its own
        return _augment(x.flatten(0, 1), spatial, config, generator).view_as(x)  # padded (NaN) views stay NaN
    n = x.shape[0]

    def uniform(*shape: int) -> Tensor:  # in [0, 1), drawn on the CPU generator, then moved
        return torch.rand(shape, generator=generator).to(device=x.device, dtype=torch.float32)

    if config.augment_crop or config.augment_flip:
        scale = 1.0 - config.augment_crop * uniform(n)  # (n,) the box's side, as a fraction of the image's
        theta = torch.zeros(n, spatial, spatial + 1, device=x.device)
        for axis in range(spatial):
            theta[:, axis, axis] = scale
        theta[:, :, -1] = (1.0 - scale)[:, None] * (2 * uniform(n, spatial) - 1)  # the box stays inside
        if config.augment_flip:
            theta[:, 0, 0] *= torch.where(uniform(n) < 0.5, -1.0, 1.0)  # row 0 of theta is x: the width axis
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if config.augment_jitter:
        shape = (n,) + (1,) * (x.dim() - 1)
        gain = 1.0 + config.augment_jitter * (2 * uniform(n) - 1)
        bias = config.augment_jitter * (2 * uniform(n) - 1)
        x = x * gain.view(shape) + bias.view(shape)
    return x
