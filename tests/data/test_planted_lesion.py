"""Planted structure of ``lesion``, read from the tensors without training: the photos of a sample are several
noisy readings of one pigment (their mean reads it better than one photo), and an ulcer shows in exactly one."""

from __future__ import annotations

import pytest
import torch
from data_probes import auroc, corr

from sweeper.data import MultimodalDataset, make_synthetic

N = 3000


@pytest.fixture(scope="module")
def data() -> MultimodalDataset:
    return make_synthetic(N, scenario="lesion", label_noise=0.0, seed=0)


def _photos(data: MultimodalDataset) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per photo (N, V): its mean brightness at the centre and its brightest pixel away from it; the mask of real
    photos; and each sample's history score."""
    x = data.inputs["views"][:, :, 0]  # (N, V, S, S)
    real = ~x.flatten(2).isnan().all(dim=2)  # (N, V)
    offset = torch.arange(x.shape[-1]) - (x.shape[-1] - 1) / 2
    distance = offset[:, None] ** 2 + offset[None] ** 2  # (S, S) squared distance from the centre
    centre, rim = distance < (x.shape[-1] / 8) ** 2, distance > (x.shape[-1] / 4) ** 2
    pigment = x[..., centre].mean(dim=-1)  # (N, V)
    spot = torch.where(real, x[..., rim].amax(dim=-1), float("-inf"))  # (N, V)
    return pigment, spot, real, data.inputs["history"][:, :2].sum(dim=1)


def test_every_sample_has_one_to_four_photos_about_equally_often(data: MultimodalDataset) -> None:
    (views,) = [m for m in data.spec.modalities if m.name == "views"]
    assert (views.kind, views.shape, views.views) == ("image", (1, 16, 16), 4)
    counts = torch.bincount(_photos(data)[2].sum(dim=1), minlength=5)
    assert counts[0] == 0 and all(abs(c / N - 0.25) < 0.03 for c in counts[1:].tolist())


def test_the_mean_of_the_photos_reads_the_pigment_better_than_one_photo(data: MultimodalDataset) -> None:
    pigment, _, real, history = _photos(data)
    malignant = data.targets["malignant"] == 1
    mean = torch.where(real, pigment, 0).sum(dim=1) / real.sum(dim=1)  # (N,)
    several = real.sum(dim=1) > 1
    pooled, first = (auroc((p + history)[several], malignant[several]) for p in (mean, pigment[:, 0]))
    assert pooled > first + 0.015, (pooled, first)
    assert pooled > auroc(history, malignant) + 0.1, "the photos must add to the history"
    two = real[:, 1]
    assert 0.4 < corr(pigment[two, 0], pigment[two, 1]) < 0.8, "two photos are two noisy readings of one pigment"


def test_an_ulcer_shows_in_exactly_one_photo(data: MultimodalDataset) -> None:
    _, spot, real, _ = _photos(data)
    ulcer = data.targets["ulcer"] == 1
    bright = (spot > 1.6).sum(dim=1)  # (N,) photos with a spot
    assert (bright[ulcer] == 1).double().mean() > 0.99
    assert (bright[~ulcer] == 0).double().mean() > 0.99
    several = real.sum(dim=1) > 1
    assert (bright[ulcer & several] == 1).double().mean() > 0.99, "the other photos of an ulcer show none"
    assert auroc(spot.amax(dim=1), ulcer) > 0.99
