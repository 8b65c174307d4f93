"""What a scenario hands the generator, the scenario registry, and label rules several scenarios share.

A scenario is a function ``(n, g, **sizes) -> Draft``: it draws latent factors from ``g``, renders each into a
modality and derives clean labels from them. The generator (``make_synthetic``) then adds label noise, draws the
splits, fits a tokenizer per text modality on the training split and assembles the ``MultimodalDataset``. The
keyword-only arguments of a scenario (``image_size``, ...) are the sizes a user may override for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from sweeper.registry import Registry


@dataclass(frozen=True)
class DraftModality:
    """One rendered modality: a float tensor, or raw strings the generator tokenizes (kind "text")."""

    kind: str  # one of sweeper.data.dataset.MODALITY_KINDS
    values: Tensor | list[str]  # (N, *shape) float32, or N strings for kind "text"; multi-view: (N, V, *shape)
    max_len: int = 0  # text only: token ids per sample after tokenization
    multi_view: bool = False  # values hold up to V views per sample, a missing view NaN throughout


@dataclass(frozen=True)
class DraftTask:
    """One task's clean labels, before label noise."""

    num_classes: int
    labels: Tensor  # (N,) int64 in [0, num_classes)
    # A noisy label is redrawn uniformly, or from the clean class frequencies ("prior") so that an imbalanced
    # task keeps its prevalence.
    noise: Literal["uniform", "prior"] = "uniform"


@dataclass(frozen=True)
class Draft:
    """Everything a scenario generates, in the order the dataset spec lists it."""

    modalities: dict[str, DraftModality]
    tasks: dict[str, DraftTask]


SCENARIOS: Registry[Draft] = Registry("scenario")


def terciles(score: Tensor) -> Tensor:
    """(N,) -> (N,) int64 in {0, 1, 2}: which third of the sample's scores each score falls in."""
    cuts = torch.quantile(score, torch.tensor([1 / 3, 2 / 3]))
    return torch.bucketize(score, cuts)


def top_fraction(score: Tensor, fraction: float) -> Tensor:
    """(N,) -> (N,) int64: 1 for the ``fraction`` of samples with the highest score."""
    cut = torch.quantile(score, 1 - fraction)
    return (score > cut).long()


def standard_normal_cdf(z: Tensor) -> Tensor:
    """Phi(z): maps a standard normal latent to a uniform value in (0, 1)."""
    return 0.5 * (1 + torch.erf(z / 2**0.5))
