"""The cnn1d options: the log-mel front end (and its mel filterbank) and learnable channel weights."""

from __future__ import annotations

import math

import pytest
import torch

from sweeper.errors import ConfigError
from sweeper.models.encoders import ENCODERS, CNN1dEncoder
from sweeper.models.encoders._spectrogram import LogMelSpectrogram, hz_to_mel, mel_filterbank, mel_to_hz


def test_mel_scale_is_htk() -> None:
    hz = torch.tensor([0.0, 700.0, 1000.0, 8000.0])
    assert torch.allclose(hz_to_mel(hz), 2595.0 * torch.log10(1.0 + hz / 700.0))
    assert float(hz_to_mel(torch.tensor(700.0))) == pytest.approx(2595.0 * math.log10(2.0))
    assert torch.allclose(mel_to_hz(hz_to_mel(hz)), hz, atol=1e-2)


@pytest.mark.parametrize(("n_fft", "n_mels", "sample_rate"), [(256, 32, 16000), (512, 64, 22050), (64, 8, 250)])
def test_mel_filterbank_rows_are_non_negative_triangles_that_each_cover_a_bin(
    n_fft: int, n_mels: int, sample_rate: int
) -> None:
    filters = mel_filterbank(n_fft, n_mels, sample_rate)
    assert filters.shape == (n_mels, n_fft // 2 + 1)
    assert (filters >= 0).all() and filters.max() <= 1.0
    assert (filters.sum(dim=1) > 0).all()  # every band has support
    peaks = filters.argmax(dim=1)
    assert (peaks[1:] >= peaks[:-1]).all()  # bands climb in frequency


def test_a_pure_tone_lands_in_the_mel_band_around_its_frequency() -> None:
    sample_rate, n_mels = 16000, 32
    t = torch.arange(4096) / sample_rate
    tone = torch.sin(2 * math.pi * 1000.0 * t).reshape(1, 1, -1)  # 1 kHz
    front = LogMelSpectrogram(4096, n_fft=256, hop=64, n_mels=n_mels, sample_rate=sample_rate)
    band = int(front(tone).mean(dim=-1).argmax())
    edges = mel_to_hz(torch.linspace(0.0, float(hz_to_mel(torch.tensor(8000.0))), n_mels + 2))
    assert float(edges[band]) < 1000.0 < float(edges[band + 2])


def test_log_mel_output_has_one_frame_per_hop() -> None:
    front = LogMelSpectrogram(2048, n_fft=256, hop=64, n_mels=32, sample_rate=16000)
    assert front(torch.randn(3, 2, 2048)).shape == (3, 2, 32, 1 + 2048 // 64)


def test_log_mel_is_finite_for_silence_and_so_are_its_gradients() -> None:
    encoder = ENCODERS.create("cnn1d", (1, 2048), 8, log_mel=True)
    silence = torch.zeros(2, 1, 2048, requires_grad=True)
    out = encoder(silence)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert silence.grad is not None and torch.isfinite(silence.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in encoder.parameters() if p.grad is not None)


def test_log_mel_rejects_a_signal_shorter_than_the_fft() -> None:
    with pytest.raises(ConfigError, match=r"^log_mel needs signals of at least n_fft=256 samples, but got L=100$"):
        ENCODERS.create("cnn1d", (1, 100), 8, log_mel=True)


def test_log_mel_rejects_more_mel_bands_than_the_fft_can_resolve() -> None:
    with pytest.raises(ConfigError, match=r"^n_mels=64 is too many for n_fft=32: mel bands \[0, .*\] cover no FFT bin"):
        ENCODERS.create("cnn1d", (1, 256), 8, log_mel=True, n_fft=32, n_mels=64)


@pytest.mark.parametrize("log_mel", [False, True])
def test_channel_weights_are_a_trainable_parameter_per_channel(log_mel: bool) -> None:
    encoder = ENCODERS.create("cnn1d", (5, 512), 8, channel_weights=True, log_mel=log_mel, n_mels=8)
    weights = dict(encoder.named_parameters())["channel_weights"]
    assert weights.shape == (5,) and weights.requires_grad
    assert torch.equal(weights, torch.ones(5))
    encoder(torch.randn(4, 5, 512)).square().sum().backward()
    assert weights.grad is not None and (weights.grad != 0).all()


def test_channel_weights_scale_their_channel() -> None:
    torch.manual_seed(0)
    encoder = ENCODERS.create("cnn1d", (3, 64), 8, channel_weights=True).eval()
    x = torch.randn(2, 3, 64)
    with torch.no_grad():
        assert isinstance(encoder, CNN1dEncoder) and encoder.channel_weights is not None
        encoder.channel_weights[1] = 0.0  # silences channel 1 whatever it holds
        noisy = x.clone()
        noisy[:, 1] = torch.randn(2, 64)
        assert torch.allclose(encoder(x), encoder(noisy))


def test_the_options_are_off_by_default() -> None:
    encoder = ENCODERS.create("cnn1d", (3, 64), 8)
    assert isinstance(encoder, CNN1dEncoder)
    assert encoder.log_mel is None and encoder.channel_weights is None
    assert "channel_weights" not in dict(encoder.named_parameters())
