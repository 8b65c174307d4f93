"""Signal encoder: a small ResNet-style 1-D CNN for audio, EEG or sensor channels.

Two options, both off by default:

- ``log_mel``: raw audio first becomes a log-mel spectrogram per channel, and the CNN runs over its time frames
  with C * n_mels input channels.
- ``channel_weights``: one learnable weight per input channel (initialised to 1), readable afterwards as the
  parameter ``channel_weights`` to see which channels (EEG electrodes, say) the model leans on. It scales the raw
  channels; with ``log_mel`` it scales each channel's log-mel features instead, because a scale on the waveform
  becomes a constant offset of its log-mel, which the BatchNorm after the first conv removes (so it would learn
  nothing).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sweeper.models.encoders import ENCODERS
from sweeper.models.encoders._base import Encoder
from sweeper.models.encoders._conv import conv_stack
from sweeper.models.encoders._spectrogram import LogMelSpectrogram
from sweeper.models.layers import require_positive


@ENCODERS.register(
    "cnn1d", "small ResNet-style 1-D CNN for signals (width, depth), optional log-mel front end and channel weights"
)
class CNN1dEncoder(Encoder):
    kind = "signal"

    def __init__(
        self,
        input_shape: tuple[int, ...],
        output_dim: int,
        *,
        width: int = 16,
        depth: int = 2,
        log_mel: bool = False,
        n_fft: int = 256,  # log_mel only: STFT size (Hann window)
        hop: int = 64,  # log_mel only: samples between frames
        n_mels: int = 32,  # log_mel only: mel bands per channel
        sample_rate: int = 16000,  # log_mel only: Hz, sets the mel band edges
        channel_weights: bool = False,
    ) -> None:
        super().__init__(input_shape, output_dim)
        require_positive("width", width)
        require_positive("depth", depth)
        channels, length = input_shape
        self.channel_weights = nn.Parameter(torch.ones(channels)) if channel_weights else None
        self.log_mel = (
            LogMelSpectrogram(length, n_fft=n_fft, hop=hop, n_mels=n_mels, sample_rate=sample_rate) if log_mel else None
        )
        in_channels = channels * n_mels if log_mel else channels
        self.features = conv_stack(1, in_channels, width, depth, kernel_size=5)
        self.out = nn.Linear(width, output_dim)

    def forward(self, x: Tensor) -> Tensor:
        weights = self.channel_weights
        if self.log_mel is not None:
            x = self.log_mel(x)  # (B, C, n_mels, T)
            if weights is not None:
                x = x * weights[:, None, None]  # (B, C, n_mels, T)
            x = x.flatten(1, 2)  # (B, C * n_mels, T)
        elif weights is not None:
            x = x * weights[:, None]  # (B, C, L)
        h = self.features(x)  # (B, width, L')
        h = h.mean(dim=2)  # (B, width)
        return self.out(h)  # (B, output_dim)
