"""Scenario ``eeg_audio``: 8-channel EEG of which 3 channels matter, and a raw audio tone whose pitch matters.

Latent factors per sample (standard normal):
  e1, e2   carried by the EEG (8 channels x 128 samples, one second): channel 0 is e1 * sin(2 pi 6 t),
           channel 1 is e2 * sin(2 pi 10 t), channel 2 is (e1 + e2) / sqrt(2) * sin(2 pi 3 t); channels 3-7 carry
           only loud artefacts (a sinusoid of random frequency and phase, amplitude 1.5) and noise. Every channel
           has white noise (std 0.5). Channels 3-7 are independent of both labels.
  a        carried by the audio (1 x 2048 samples at 16 kHz, 0.128 s): a tone at 250 * 2 ** (4 Phi(a)) Hz,
           i.e. 250 Hz to 4 kHz, log-spaced so a is linear in log-mel position; a > 0 means above 1 kHz. Its
           loudness (0.1-1) and phase are random and it has white noise, so a linear read of the raw waveform
           sees nothing: a spectral (log-mel) front end is needed.

Modalities: eeg (8, 128) signal; audio (1, 2048) signal.

Tasks:
  event (2 classes) = 1[e1 * a > 0]: an EEG x audio interaction; neither modality alone beats chance.
  state (3 classes) = tercile of e2 + 0.3 a: mostly the EEG.

Expected winner: multiplicative or attention fusion for ``event`` (as in ``default``); but the encoders matter as
much as the fusion here: per-channel learnable weights on the EEG (to drop channels 3-7) and a log-mel audio front
end should each beat their plain counterparts.
"""

from __future__ import annotations

import torch

from sweeper.data.synthetic._base import SCENARIOS, Draft, DraftModality, DraftTask, standard_normal_cdf, terciles
from sweeper.data.synthetic.render import oscillation_signal, tone_waveform

EEG_CHANNELS, EEG_LENGTH = 8, 128
EEG_FREQUENCIES = [6.0, 10.0, 3.0]  # cycles per window of channels 0, 1, 2
AUDIO_LENGTH, SAMPLE_RATE = 2048, 16_000


@SCENARIOS.register("eeg_audio", "EEG (3 of 8 channels informative) + raw audio tone; event = EEG x pitch")
def eeg_audio(n: int, g: torch.Generator) -> Draft:
    e1, e2, a = torch.randn(n, generator=g), torch.randn(n, generator=g), torch.randn(n, generator=g)
    amplitudes = torch.stack([e1, e2, (e1 + e2) / 2**0.5], dim=1)  # (N, 3)
    eeg = oscillation_signal(
        amplitudes, EEG_FREQUENCIES, EEG_CHANNELS, EEG_LENGTH, g, distractor_amplitude=1.5, noise_std=0.5
    )  # (N, 8, 128)
    audio = tone_waveform(standard_normal_cdf(a), AUDIO_LENGTH, g, sample_rate=SAMPLE_RATE)  # (N, 1, 2048)
    return Draft(
        modalities={"eeg": DraftModality("signal", eeg), "audio": DraftModality("signal", audio)},
        tasks={"event": DraftTask(2, (e1 * a > 0).long()), "state": DraftTask(3, terciles(e2 + 0.3 * a))},
    )
