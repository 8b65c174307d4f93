"""A log-mel spectrogram front end for raw audio in plain torch (no torchaudio): torch.stft, HTK mel filterbank."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sweeper.errors import ConfigError
from sweeper.models.layers import require_positive


def hz_to_mel(hz: Tensor) -> Tensor:
    """HTK mel scale: 2595 * log10(1 + f / 700)."""
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def mel_to_hz(mel: Tensor) -> Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(n_fft: int, n_mels: int, sample_rate: int) -> Tensor:
    """Triangular HTK mel filters (n_mels, n_fft // 2 + 1) from 0 Hz to Nyquist, peak 1, no area normalisation.

    Band m rises linearly from edge m to its centre m + 1 and falls to edge m + 2, the edges equally spaced in mel.
    """
    bins = torch.linspace(0.0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)  # (F,) bin frequencies
    top = hz_to_mel(torch.tensor(sample_rate / 2, dtype=torch.float64))
    edges = mel_to_hz(torch.linspace(0.0, float(top), n_mels + 2, dtype=torch.float64))  # (n_mels + 2,)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]  # each (n_mels, 1)
    rising = (bins - lower) / (centre - lower)  # (n_mels, F)
    falling = (upper - bins) / (upper - centre)  # (n_mels, F)
    return torch.minimum(rising, falling).clamp(min=0.0).float()  # (n_mels, F)


class LogMelSpectrogram(nn.Module):
    """(B, C, L) waveforms -> (B, C, n_mels, T) log mel power, T = 1 + L // hop, each channel on its own."""

    window: Tensor  # (n_fft,) Hann
    filters: Tensor  # (n_mels, n_fft // 2 + 1)

    def __init__(self, length: int, *, n_fft: int, hop: int, n_mels: int, sample_rate: int) -> None:
        super().__init__()
        for key, value in (("n_fft", n_fft), ("hop", hop), ("n_mels", n_mels), ("sample_rate", sample_rate)):
            require_positive(key, value)
        if length < n_fft:
            raise ConfigError(f"log_mel needs signals of at least n_fft={n_fft} samples, but got L={length}")
        filters = mel_filterbank(n_fft, n_mels, sample_rate)
        empty = (filters.sum(dim=1) == 0).nonzero().flatten().tolist()
        if empty:
            raise ConfigError(
                f"n_mels={n_mels} is too many for n_fft={n_fft}: mel bands {empty} cover no FFT bin; "
                f"use fewer mels or a larger n_fft"
            )
        self.n_fft, self.hop = n_fft, hop
        # Buffers, not parameters: they move with .to(device) but are fixed, and are rebuilt from the hyperparameters
        # rather than stored in checkpoints.
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("filters", filters, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        batch, channels, length = x.shape
        spec = torch.stft(
            x.reshape(batch * channels, length), self.n_fft, self.hop, window=self.window, return_complex=True
        )  # (B * C, F, T) complex, centred frames
        # |z|^2 as re^2 + im^2: abs() would have an undefined gradient at 0, i.e. for silence.
        power = torch.view_as_real(spec).square().sum(dim=-1)  # (B * C, F, T)
        mel = torch.matmul(self.filters, power)  # (B * C, n_mels, T)
        log_mel = torch.log(mel + 1e-6)  # the offset keeps silence finite: log(1e-6) ~ -13.8
        return log_mel.reshape(batch, channels, *log_mel.shape[1:])  # (B, C, n_mels, T)
