"""Planted structure of ``rare_disease(_3d)``, ``wound`` and ``radiology``, read from the tensors without training."""

from __future__ import annotations

import math

import pytest
import torch
from data_probes import auroc, corr, first_component, held_out_correlation, mentions, oriented

from sweeper.data import MultimodalDataset, make_synthetic

N = 3000  # a correlation of 0.1 is ~5 standard errors from zero


def _clean(scenario: str) -> MultimodalDataset:
    return make_synthetic(N, scenario=scenario, label_noise=0.0, seed=0)


@pytest.fixture(scope="module", params=["rare_disease", "rare_disease_3d"])
def rare(request: pytest.FixtureRequest) -> MultimodalDataset:
    return _clean(request.param)


def _lesion_and_risk(data: MultimodalDataset) -> tuple[torch.Tensor, torch.Tensor]:
    """The lesion latent from the scan (signed so that the sick have large lesions) and the tabular risk score."""
    # A volume is pooled from (1, 8, 16, 16) to (1, 4, 8, 8): the blob is smooth, and the probe much cheaper.
    volume = data.inputs.get("volume")
    scan = data.inputs["image"] if volume is None else torch.nn.functional.avg_pool3d(volume, 2)
    sick = data.targets["disease"] == 1
    return oriented(first_component(scan), sick), data.inputs["tabular"][:, :3].sum(dim=1)


def test_disease_is_rare(rare: MultimodalDataset) -> None:
    assert rare.targets["disease"].double().mean().item() == pytest.approx(0.08, abs=0.002)
    scenario = "rare_disease_3d" if "volume" in rare.inputs else "rare_disease"
    noisy = make_synthetic(N, scenario=scenario, label_noise=0.5)
    # noisy labels are redrawn from the class prior, so prevalence survives even heavy noise
    assert noisy.targets["disease"].double().mean().item() == pytest.approx(0.08, abs=0.015)


def test_disease_needs_a_lesion_and_a_high_risk(rare: MultimodalDataset) -> None:
    sick = rare.targets["disease"] == 1
    lesion, risk = _lesion_and_risk(rare)
    assert (lesion[sick] > 0).double().mean() > 0.95
    assert (risk[sick] > 0).double().mean() > 0.97
    both = auroc(lesion.clamp(min=0) * risk.clamp(min=0), sick)
    assert both > 0.95
    for alone in (lesion, risk):  # each factor alone ranks the sick clearly worse than their product
        assert auroc(alone, sick) < both - 0.08
    assert rare.inputs["tabular"].shape[1:] == (8,)
    for noise_feature in range(3, 8):
        assert abs(corr(rare.inputs["tabular"][:, noise_feature], sick)) < 0.1


def test_the_3d_variant_renders_a_volume() -> None:
    data = make_synthetic(100, scenario="rare_disease_3d")
    assert [(m.name, m.kind, m.shape) for m in data.spec.modalities] == [
        ("volume", "volume", (1, 8, 16, 16)),
        ("tabular", "tabular", (8,)),
    ]


@pytest.fixture(scope="module")
def wound() -> MultimodalDataset:
    return _clean("wound")


ACUTE, CHRONIC = ["acute", "sudden", "recent"], ["chronic", "persistent", "longstanding"]


def test_wound_type_is_photo_hue_and_note_onset(wound: MultimodalDataset) -> None:
    kind, photo = wound.targets["type"], wound.inputs["photo"]
    hue = oriented(first_component(photo[:, 0] - photo[:, 1]), kind)  # red minus green carries p
    acute, chronic = mentions(wound, "note", ACUTE), mentions(wound, "note", CHRONIC)
    assert not (acute & chronic).any()
    assert abs((acute | chronic).double().mean().item() - 0.9) < 0.03
    named = acute | chronic
    predicted = 2 * (hue > 0).long() + chronic.long()
    assert (predicted[named] == kind[named]).double().mean() > 0.9
    assert (kind[acute] % 2 == 0).all() and (kind[chronic] % 2 == 1).all()  # the note gives the onset bit exactly
    assert abs(held_out_correlation(wound, wound.inputs["vitals"], kind)) < 0.1


def test_wound_severity_is_mostly_vitals_and_some_size(wound: MultimodalDataset) -> None:
    severity = wound.targets["severity"]
    assert held_out_correlation(wound, wound.inputs["vitals"], severity) > 0.75
    size = first_component(wound.inputs["photo"][:, 2])  # blue carries q alone
    assert 0.2 < abs(corr(size, severity)) < 0.6
    for site in (["heel", "sacrum"], ["foot", "toe"], ["leg", "ankle"], ["abdomen", "flank"]):
        named = mentions(wound, "note", site)
        for task in ("type", "severity"):
            assert abs(corr(named, wound.targets[task])) < 0.1, (site, task)


@pytest.fixture(scope="module")
def radiology() -> MultimodalDataset:
    return _clean("radiology")


MODALITY_WORDS = [["ct", "tomography"], ["mri", "resonance"], ["xray", "radiograph"]]
LOCATION_WORDS = [["head", "brain"], ["chest", "lung"], ["abdomen", "liver"], ["knee", "limb"]]


@pytest.mark.parametrize(("task", "words"), [("modality", MODALITY_WORDS), ("location", LOCATION_WORDS)])
def test_caption_names_the_class_right_in_60_percent(radiology: MultimodalDataset, task: str, words: list) -> None:
    labels = radiology.targets[task]
    named = torch.stack([mentions(radiology, "caption", w) for w in words], dim=1)  # (N, classes)
    assert (named.sum(dim=1) <= 1).all()
    said = named.any(dim=1)
    assert abs(said.double().mean().item() - 0.6) < 0.03
    assert torch.equal(named[said].double().argmax(dim=1), labels[said])


def test_scan_carries_both_classes_but_noisily(radiology: MultimodalDataset) -> None:
    scan = radiology.inputs["scan"][:, 0]  # (N, S, S)
    half = scan.shape[-1] // 2
    quadrants = torch.stack(
        [scan[:, :half, :half], scan[:, :half, half:], scan[:, half:, :half], scan[:, half:, half:]], dim=1
    ).mean(dim=(2, 3))  # (N, 4)
    location_hits = (quadrants.argmax(dim=1) == radiology.targets["location"]).double().mean()
    assert 0.75 < location_hits < 0.97
    coords = torch.arange(scan.shape[-1], dtype=torch.float32)
    wave = torch.sin(math.pi * coords / 2 + 0.5)
    textures = torch.stack([wave[:, None].expand(-1, len(coords)), wave[None].expand(len(coords), -1)])
    textures = torch.cat([textures, (wave[:, None] * wave[None])[None]])  # (3, S, S)
    textures = textures / textures.norm(dim=(1, 2), keepdim=True)
    modality_hits = (torch.einsum("nhw,khw->nk", scan, textures).argmax(1) == radiology.targets["modality"]).double()
    assert 0.75 < modality_hits.mean() < 0.97
