"""Planted structure of ``eeg_audio``, ``four_modal`` and ``noisy_modality``, read from the tensors without training."""

from __future__ import annotations

import math

import pytest
import torch
from data_probes import (
    auroc,
    band_powers,
    corr,
    dominant_frequency,
    first_component,
    held_out_correlation,
    mentions,
    oriented,
)

from sweeper.data import MultimodalDataset, make_synthetic

N = 3000  # a correlation of 0.1 is ~5 standard errors from zero
RATE = 16_000


def _clean(scenario: str) -> MultimodalDataset:
    return make_synthetic(N, scenario=scenario, label_noise=0.0, seed=0)


def _pitch_above_1khz(audio: torch.Tensor) -> torch.Tensor:
    """(N, 1, L) -> (N,) float: log2 of the tone's frequency over 1 kHz (> 0 iff the latent a > 0)."""
    return torch.log2(dominant_frequency(audio[:, 0], RATE) / 1000)


def _agreement(predicted: torch.Tensor, labels: torch.Tensor) -> float:
    return (predicted.long() == labels).double().mean().item()


@pytest.fixture(scope="module")
def eeg_audio() -> MultimodalDataset:
    return _clean("eeg_audio")


def test_event_is_eeg_channel_0_times_audio_pitch(eeg_audio: MultimodalDataset) -> None:
    event = eeg_audio.targets["event"]
    e1 = first_component(eeg_audio.inputs["eeg"][:, 0])
    pitch = _pitch_above_1khz(eeg_audio.inputs["audio"])
    hits = _agreement(e1 * pitch > 0, event)
    assert max(hits, 1 - hits) > 0.9  # e1's sign is arbitrary
    for alone in (e1, pitch):  # neither modality alone says anything
        assert abs(corr(alone, event)) < 0.1


def test_state_is_mostly_eeg_channel_1(eeg_audio: MultimodalDataset) -> None:
    state = eeg_audio.targets["state"]
    assert abs(corr(first_component(eeg_audio.inputs["eeg"][:, 1]), state)) > 0.8
    assert 0.1 < corr(_pitch_above_1khz(eeg_audio.inputs["audio"]), state) < 0.45


def test_eeg_channels_3_to_7_carry_no_label_information(eeg_audio: MultimodalDataset) -> None:
    eeg = eeg_audio.inputs["eeg"]
    components = torch.stack([first_component(eeg[:, c]) for c in range(8)], dim=1)  # (N, 8)
    for task in ("event", "state"):
        labels = eeg_audio.targets[task]
        assert abs(held_out_correlation(eeg_audio, band_powers(eeg[:, 3:]), labels)) < 0.1, task
        assert abs(held_out_correlation(eeg_audio, components[:, 3:], labels)) < 0.1, task
    # the same probe on the informative channels does see the state: the probe can fail
    assert held_out_correlation(eeg_audio, components[:, :3], eeg_audio.targets["state"]) > 0.7
    assert eeg[:, 3:].std() > eeg[:, :3].std()  # the useless channels are the loud ones


def test_audio_pitch_spans_250_hz_to_4_khz_and_is_invisible_to_a_linear_read(eeg_audio: MultimodalDataset) -> None:
    audio = eeg_audio.inputs["audio"]
    assert audio.shape[1:] == (1, 2048)
    freq = dominant_frequency(audio[:, 0], RATE)
    assert freq.min() > 240 and freq.max() < 4100
    assert abs(math.log2(freq.median().item() / 1000)) < 0.1  # a = 0 is 1 kHz
    pitch = _pitch_above_1khz(audio)
    raw = audio[:, 0, :64]  # the first samples of the raw waveform, read linearly
    assert abs(held_out_correlation(eeg_audio, raw, pitch)) < 0.1


@pytest.fixture(scope="module")
def four_modal() -> MultimodalDataset:
    return _clean("four_modal")


def test_scene_is_vision_and_audio(four_modal: MultimodalDataset) -> None:
    scene = four_modal.targets["scene"]
    v = oriented(first_component(four_modal.inputs["vision"]), scene)
    pitch = _pitch_above_1khz(four_modal.inputs["audio"])
    assert _agreement(2 * (v > 0).long() + (pitch > 0).long(), scene) > 0.85
    energy = four_modal.inputs["sensor"].square().mean(dim=(1, 2))
    assert abs(corr(energy, scene)) < 0.1
    assert abs(corr(mentions(four_modal, "text", ["walk", "stroll", "hike"]), scene)) < 0.1


def test_activity_is_sensor_energy_and_text_words(four_modal: MultimodalDataset) -> None:
    activity = four_modal.targets["activity"]
    energy = four_modal.inputs["sensor"].square().mean(dim=(1, 2))
    assert auroc(energy, activity > 0) > 0.95  # the sensor says whether the person moves
    walk = mentions(four_modal, "text", ["walk", "stroll", "hike"])
    ride = mentions(four_modal, "text", ["bike", "cycle", "ride"])
    moving = activity > 0
    assert (activity[walk & moving] == 1).all() and (activity[ride & moving] == 2).all()  # the text says how
    assert abs((activity[walk] == 0).double().mean().item() - 0.5) < 0.05  # but not whether
    assert abs((walk | ride).double().mean().item() - 0.9) < 0.03  # 10% of texts name no activity
    assert abs(corr(first_component(four_modal.inputs["vision"]), activity)) < 0.1


@pytest.fixture(scope="module")
def noisy() -> MultimodalDataset:
    return _clean("noisy_modality")


def test_noisy_modality_label_depends_on_the_image_only(noisy: MultimodalDataset) -> None:
    label, noise = noisy.targets["label"], noisy.inputs["noise"]
    assert abs(held_out_correlation(noisy, noise, label)) < 0.1
    for feature in range(noise.shape[1]):
        assert abs(corr(noise[:, feature], label)) < 0.1, feature
    assert abs(corr(noise.square().sum(dim=1), label)) < 0.1
    assert held_out_correlation(noisy, noisy.inputs["image"], label) > 0.8
    assert torch.bincount(label).tolist() == [1000] * 3


def test_noise_modality_is_structured_not_white(noisy: MultimodalDataset) -> None:
    eigenvalues = torch.linalg.eigvalsh(torch.cov(noisy.inputs["noise"].T.double())).flip(0)
    assert eigenvalues[:4].sum() / eigenvalues.sum() > 0.5  # four nuisance factors dominate
