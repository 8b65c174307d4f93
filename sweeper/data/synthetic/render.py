"""Renderers: each draws latent factors into one modality kind, with distractors and noise, vectorised over samples.

Every renderer takes the latents it encodes and the generator ``g`` it draws its nuisance randomness from, and
returns float32 tensors (N, *shape). The order of draws from ``g`` is part of the contract: the ``default``
scenario's tensors must stay identical for a given seed.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def blob_image(amplitudes: Tensor, size: int, g: torch.Generator) -> Tensor:
    """(N, C) -> (N, C, S, S): a fixed centred Gaussian blob scaled by each amplitude, plus a distractor blob at a
    random place with a random amplitude per channel, plus pixel noise (std 0.3)."""
    n, channels = amplitudes.shape
    coords = torch.arange(size, dtype=torch.float32)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")  # (S, S)
    centre = (size - 1) / 2
    blob = torch.exp(-((yy - centre) ** 2 + (xx - centre) ** 2) / (2 * (size / 6) ** 2))
    pos = torch.rand(n, 2, generator=g) * (size - 1)  # distractor centres
    dy = yy[None] - pos[:, 0, None, None]
    dx = xx[None] - pos[:, 1, None, None]
    distractor_shape = torch.exp(-(dy**2 + dx**2) / (2 * (size / 10) ** 2))[:, None]  # (N, 1, S, S)
    distractor = distractor_shape * torch.randn(n, channels, 1, 1, generator=g)  # (N, C, S, S)
    noise = 0.3 * torch.randn(n, channels, size, size, generator=g)
    return amplitudes[:, :, None, None] * blob[None, None] + distractor + noise  # (N, C, S, S)


def blob_volume(amplitude: Tensor, shape: tuple[int, int, int], g: torch.Generator) -> Tensor:
    """(N,) -> (N, 1, D, H, W): a centred 3-D Gaussian blob scaled by the amplitude, a distractor blob at a random
    place with a random amplitude, and voxel noise (std 0.3). Widths are relative to each side (1/6 and 1/10)."""
    n = len(amplitude)
    axes = [torch.arange(s, dtype=torch.float32) / s for s in shape]  # positions along D, H, W in [0, 1)
    centre = [((s - 1) / 2) / s for s in shape]
    pos = torch.rand(n, 3, generator=g)  # distractor centres, relative to each side
    # A Gaussian is separable: build each from three 1-D profiles, (N, D) x (N, H) x (N, W).
    blob = _outer3([torch.exp(-((x - c) ** 2) / (2 * (1 / 6) ** 2))[None] for x, c in zip(axes, centre, strict=True)])
    distractor = _outer3(
        [torch.exp(-((x[None] - pos[:, i, None]) ** 2) / (2 * (1 / 10) ** 2)) for i, x in enumerate(axes)]
    )
    distractor = distractor * torch.randn(n, 1, 1, 1, generator=g)  # (N, D, H, W)
    noise = 0.3 * torch.randn(n, *shape, generator=g)
    return (amplitude[:, None, None, None] * blob + distractor + noise).unsqueeze(1)  # (N, 1, D, H, W)


def _outer3(profiles: list[Tensor]) -> Tensor:
    """Three (N, D), (N, H), (N, W) profiles -> (N, D, H, W) products."""
    d, h, w = profiles
    return d[:, :, None, None] * h[:, None, :, None] * w[:, None, None, :]


def oscillation_signal(
    amplitudes: Tensor,
    frequencies: list[float],
    channels: int,
    length: int,
    g: torch.Generator,
    *,
    distractor_amplitude: float = 1.0,
    noise_std: float = 0.3,
) -> Tensor:
    """(N, K) -> (N, C, L): channel k < K is ``amplitudes[:, k] * sin(2 pi f_k t)`` over a one-second window;
    channels K..C-1 carry only a sinusoid of random frequency (2-8 cycles) and phase (a distractor); all channels
    get white noise."""
    n, informative = amplitudes.shape
    time = torch.linspace(0, 1, length)  # (L,)
    carriers = torch.stack([torch.sin(2 * math.pi * f * time) for f in frequencies])  # (K, L)
    signal = amplitudes[:, :, None] * carriers[None]  # (N, K, L)
    freq = 2 + 6 * torch.rand(n, channels - informative, generator=g)
    phase = 2 * math.pi * torch.rand(n, channels - informative, generator=g)
    distractors = distractor_amplitude * torch.sin(2 * math.pi * freq[..., None] * time + phase[..., None])
    noise = noise_std * torch.randn(n, channels, length, generator=g)
    return torch.cat([signal, distractors], dim=1) + noise  # (N, C, L)


def tone_waveform(
    pitch: Tensor,
    length: int,
    g: torch.Generator,
    *,
    sample_rate: int = 16_000,
    low_hz: float = 250.0,
    octaves: float = 4,
) -> Tensor:
    """(N,) pitch in [0, 1] -> (N, 1, L) raw audio: a tone at ``low_hz * 2 ** (octaves * pitch)`` (log-spaced, so
    pitch is linear in a log-mel bin), with a random loudness (0.1-1, log-uniform) and phase, plus white noise
    (std 0.1). Pitch is invisible to a linear read of the raw samples and plain on a spectrogram."""
    n = len(pitch)
    time = torch.arange(length, dtype=torch.float32) / sample_rate  # (L,) seconds
    freq = low_hz * 2 ** (octaves * pitch)  # (N,) Hz
    loudness = 10 ** (-torch.rand(n, generator=g))
    phase = 2 * math.pi * torch.rand(n, generator=g)
    tone = loudness[:, None] * torch.sin(2 * math.pi * freq[:, None] * time[None] + phase[:, None])  # (N, L)
    return (tone + 0.1 * torch.randn(n, length, generator=g)).unsqueeze(1)  # (N, 1, L)


def tabular_columns(latents: Tensor, features: int, g: torch.Generator) -> Tensor:
    """(N, K) -> (N, F): columns 0..K-1 are the latents plus a little noise (std 0.1), the rest pure noise."""
    table = torch.randn(len(latents), features, generator=g)
    informative = latents.shape[1]
    table[:, :informative] = latents + 0.1 * table[:, :informative]
    return table


def embedding_features(latents: Tensor, dim: int, g: torch.Generator) -> Tensor:
    """(N, K) -> (N, D): a precomputed embedding, the latents mixed by a fixed random linear map, plus noise (0.3)."""
    mixing = torch.randn(latents.shape[1], dim, generator=g) / math.sqrt(latents.shape[1])  # (K, D)
    return latents @ mixing + 0.3 * torch.randn(len(latents), dim, generator=g)


def motion_signal(intensity: Tensor, channels: int, length: int, g: torch.Generator, *, cycles: float = 3.0) -> Tensor:
    """(N,) -> (N, C, L): a movement sensor; every axis oscillates ``cycles`` times per window with amplitude
    ``intensity`` and its own random phase, plus noise (std 0.3). Intensity shows in the energy, not in any sign."""
    n = len(intensity)
    time = torch.linspace(0, 1, length)  # (L,)
    phase = 2 * math.pi * torch.rand(n, channels, 1, generator=g)
    motion = intensity[:, None, None] * torch.sin(2 * math.pi * cycles * time + phase)  # (N, C, L)
    return motion + 0.3 * torch.randn(n, channels, length, generator=g)


def scan_image(
    texture: Tensor, quadrant: Tensor, size: int, g: torch.Generator, *, texture_amplitude: float, noise_std: float
) -> Tensor:
    """(N,) texture class in {0, 1, 2} and (N,) quadrant in {0..3} -> (N, 1, S, S): a background texture
    (0 horizontal stripes, 1 vertical stripes, 2 checkerboard; period 4 px, unit RMS, scaled by
    ``texture_amplitude``), a bright blob (amplitude 1) in the quadrant (0 top-left, 1 top-right, 2 bottom-left,
    3 bottom-right) with its centre jittered by up to S/8, and pixel noise."""
    n = len(texture)
    coords = torch.arange(size, dtype=torch.float32)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")  # (S, S)
    wave_y, wave_x = torch.sin(math.pi * yy / 2 + 0.5), torch.sin(math.pi * xx / 2 + 0.5)
    textures = torch.stack([wave_y, wave_x, wave_y * wave_x])  # (3, S, S)
    textures = textures / textures.square().mean(dim=(1, 2), keepdim=True).sqrt()
    quarter = size / 4
    centre = torch.stack([(quadrant // 2) * 2 * quarter + quarter, (quadrant % 2) * 2 * quarter + quarter], dim=1)
    centre = centre + (torch.rand(n, 2, generator=g) - 0.5) * quarter  # (N, 2) jittered (y, x)
    dist2 = (yy[None] - centre[:, 0, None, None]) ** 2 + (xx[None] - centre[:, 1, None, None]) ** 2
    blob = torch.exp(-dist2 / (2 * (size / 8) ** 2))  # (N, S, S)
    noise = noise_std * torch.randn(n, size, size, generator=g)
    return (texture_amplitude * textures[texture] + blob + noise).unsqueeze(1)  # (N, 1, S, S)
