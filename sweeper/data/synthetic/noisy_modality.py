"""Scenario ``noisy_modality``: one informative modality and one that is pure noise with respect to the label.

Latent factors per sample (standard normal):
  u        carried by the image: a centred Gaussian blob with amplitude u, a distractor blob, pixel noise;
  z0..z3   nuisance factors, carried by the embedding: mixed by a fixed random linear map into 32 features plus
           noise. The embedding has structure (it is not white noise) but is independent of u and of the label.

Modalities: image (1, S, S) with S = image_size (16); noise (32,) precomputed features.

Task:
  label (3 classes) = tercile of u: the image alone determines it.

Expected winner: gated or attention fusion, which can learn to switch the noise modality off; concatenation must
learn to ignore 32 irrelevant inputs, and a multiplicative fusion multiplies the signal by noise, so both should
do worse, most visibly with little data.
"""

from __future__ import annotations

import torch

from sweeper.data.synthetic._base import SCENARIOS, Draft, DraftModality, DraftTask, terciles
from sweeper.data.synthetic.render import blob_image, embedding_features


@SCENARIOS.register("noisy_modality", "image + a label-independent embedding; label = tercile of the image latent")
def noisy_modality(n: int, g: torch.Generator, *, image_size: int = 16) -> Draft:
    u = torch.randn(n, generator=g)
    nuisance = torch.randn(n, 4, generator=g)
    image = blob_image(u[:, None], image_size, g)  # (N, 1, S, S)
    noise = embedding_features(nuisance, 32, g)  # (N, 32)
    return Draft(
        modalities={"image": DraftModality("image", image), "noise": DraftModality("features", noise)},
        tasks={"label": DraftTask(3, terciles(u))},
    )
