"""Scenario ``default``: image + tabular + signal; a multiplicative image x signal task and a mostly tabular one.

Latent factors per sample (all standard normal):
  u   carried by the image:   a fixed centred Gaussian blob with amplitude u, plus a distractor blob at a random
                              place with a random amplitude, plus pixel noise;
  v   carried by the signal:  channel 0 is v * sin(2 pi f t) for a fixed frequency f, channel 1 a sinusoid of random
                              phase and frequency (a distractor); both with additive noise;
  t   carried by the table:   features 0-2 are t0, t1, t2 with a little noise; features 3.. are pure noise.

Modalities: image (1, S, S) with S = image_size (16); tabular (F,) with F = tabular_features (8);
signal (2, L) with L = signal_length (64).

Tasks:
  agree (2 classes)  = 1[u * v > 0]: an interaction between image and signal. Neither modality alone beats chance,
                       so fusions that combine modalities multiplicatively (low-rank, bilinear) or by attention
                       should beat concatenation here: this is the "multiplicative fusion should win" case.
  grade (3 classes)  = tercile of t0 + 0.5 t1 + 0.3 u: mostly the tabular modality, a little of the image.

The draws from the generator are pinned: the same arguments give the same tensors as the original generator.
"""

from __future__ import annotations

import torch

from sweeper.data.synthetic._base import SCENARIOS, Draft, DraftModality, DraftTask, terciles
from sweeper.data.synthetic.render import blob_image, oscillation_signal, tabular_columns


@SCENARIOS.register("default", "image + tabular + signal; agree = sign(image x signal), grade mostly tabular")
def default(
    n: int, g: torch.Generator, *, image_size: int = 16, signal_length: int = 64, tabular_features: int = 8
) -> Draft:
    u, v = torch.randn(n, generator=g), torch.randn(n, generator=g)
    t = torch.randn(n, 3, generator=g)

    image = blob_image(u[:, None], image_size, g)  # (N, 1, S, S)
    signal = oscillation_signal(v[:, None], [4.0], 2, signal_length, g)  # (N, 2, L)
    tabular = tabular_columns(t, tabular_features, g)  # (N, F)

    agree = (u * v > 0).long()
    grade = terciles(t[:, 0] + 0.5 * t[:, 1] + 0.3 * u)
    return Draft(
        modalities={
            "image": DraftModality("image", image),
            "tabular": DraftModality("tabular", tabular),
            "signal": DraftModality("signal", signal),
        },
        tasks={"agree": DraftTask(2, agree), "grade": DraftTask(3, grade)},
    )
