"""Cheap probes that recover planted latents from generated tensors, without training (shared by tests/data)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sweeper.data import MultimodalDataset


def first_component(x: torch.Tensor) -> torch.Tensor:
    """Per-sample score on the direction of largest variance: (N, ...) -> (N,); its sign is arbitrary."""
    x = x.flatten(1).double()
    x = x - x.mean(0)
    _, vectors = torch.linalg.eigh(x.T @ x)  # eigenvalues ascending: the last vector has the largest variance
    return x @ vectors[:, -1]


def corr(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    return float((a * b).sum() / (a.norm() * b.norm()))


def oriented(score: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``score`` with its sign flipped, if needed, to correlate positively with ``reference``."""
    return score if corr(score, reference) >= 0 else -score


def auroc(score: torch.Tensor, positive: torch.Tensor) -> float:
    """Area under the ROC curve of ``score`` for the boolean ``positive`` (rank statistic, no ties expected)."""
    ranks = torch.empty(len(score), dtype=torch.float64)
    ranks[torch.argsort(score)] = torch.arange(1, len(score) + 1, dtype=torch.float64)
    n_pos = int(positive.sum())
    n_neg = len(score) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def held_out_correlation(data: MultimodalDataset, features: torch.Tensor, target: torch.Tensor) -> float:
    """Least squares on the train split, correlation with ``target`` on the held-out val+test samples."""
    x = torch.cat([features.flatten(1).double(), torch.ones(len(features), 1, dtype=torch.float64)], dim=1)
    y = target.double()
    train, held_out = data.splits["train"], torch.cat([data.splits["val"], data.splits["test"]])
    weights = torch.linalg.lstsq(x[train], y[train, None]).solution
    return corr((x[held_out] @ weights).squeeze(1), y[held_out])


def dominant_frequency(wave: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """(N, L) -> (N,) the frequency in Hz of each waveform's strongest spectral peak."""
    spectrum = torch.fft.rfft(wave.double(), dim=1).abs()  # (N, L // 2 + 1)
    return spectrum.argmax(dim=1).double() * sample_rate / wave.shape[1]


def band_powers(signal: torch.Tensor, bands: int = 16) -> torch.Tensor:
    """(N, C, L) -> (N, C * bands): spectral power of each channel summed over ``bands`` equal frequency bands."""
    power = torch.fft.rfft(signal.double(), dim=-1).abs().square()[..., 1:]  # (N, C, L // 2), DC dropped
    n, c, f = power.shape
    return power[..., : f - f % bands].reshape(n, c, bands, -1).sum(-1).reshape(n, c * bands)


def mentions(data: MultimodalDataset, modality: str, words: Sequence[str]) -> torch.Tensor:
    """(N,) bool: whether each sample's text contains any of ``words``."""
    tokenizer = data.tokenizers[modality]
    ids = tokenizer.encode(list(words), 1)[:, 0]  # (W,)
    assert (ids > 1).all(), f"some of {words} are not in the vocabulary of {modality!r}"
    return torch.isin(data.inputs[modality], ids).any(dim=1)
