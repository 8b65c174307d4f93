"""Scenarios ``rare_disease`` and ``rare_disease_3d``: a rare diagnosis from a lesion AND a clinical risk score.

Latent factors per sample (standard normal):
  a        lesion intensity, carried by the image: a centred Gaussian blob with amplitude a, a distractor blob
           at a random place, and pixel noise (``rare_disease_3d``: the same as a 3-D blob in a volume);
  t0..t2   clinical metadata, carried by the table: features 0-2 are t0, t1, t2 plus a little noise, 3-7 pure noise.
  r        = (t0 + t1 + t2) / sqrt(3), the tabular risk score.

Modalities: ``rare_disease``: image (1, S, S) with S = image_size (16), tabular (8,);
            ``rare_disease_3d``: volume (1, 8, 16, 16), tabular (8,).

Task:
  disease (2 classes, 8% positive) = 1 for the 8% of samples with the largest relu(a) * relu(r): a visible lesion
      AND a high risk score. Every positive has a > 0 and r > 0. Label noise redraws from the class prior, so the
      prevalence stays about 8%.

Expected winner: the label is a product of one image and one tabular factor, so multiplicative fusions (low-rank,
bilinear) or attention should beat concatenation; with 8% positives, focal loss or class weights should raise
macro-F1, and AUROC ranks fusions more fairly than accuracy (predicting "healthy" always scores 92%).
"""

from __future__ import annotations

import torch

from sweeper.data.synthetic._base import SCENARIOS, Draft, DraftModality, DraftTask, top_fraction
from sweeper.data.synthetic.render import blob_image, blob_volume, tabular_columns

PREVALENCE = 0.08
VOLUME_SHAPE = (8, 16, 16)  # (D, H, W)


@SCENARIOS.register("rare_disease", "image + tabular; disease (8% positive) = lesion x tabular risk")
def rare_disease(n: int, g: torch.Generator, *, image_size: int = 16) -> Draft:
    lesion, metadata = torch.randn(n, generator=g), torch.randn(n, 3, generator=g)
    image = blob_image(lesion[:, None], image_size, g)  # (N, 1, S, S)
    return _draft("image", DraftModality("image", image), lesion, metadata, g)


@SCENARIOS.register("rare_disease_3d", "volume + tabular; disease (8% positive) = 3-D lesion x tabular risk")
def rare_disease_3d(n: int, g: torch.Generator) -> Draft:
    lesion, metadata = torch.randn(n, generator=g), torch.randn(n, 3, generator=g)
    volume = blob_volume(lesion, VOLUME_SHAPE, g)  # (N, 1, D, H, W)
    return _draft("volume", DraftModality("volume", volume), lesion, metadata, g)


def _draft(name: str, scan: DraftModality, lesion: torch.Tensor, metadata: torch.Tensor, g: torch.Generator) -> Draft:
    tabular = tabular_columns(metadata, 8, g)  # (N, 8)
    risk = metadata.sum(dim=1) / 3**0.5
    disease = top_fraction(lesion.clamp(min=0) * risk.clamp(min=0), PREVALENCE)
    return Draft(
        modalities={name: scan, "tabular": DraftModality("tabular", tabular)},
        tasks={"disease": DraftTask(2, disease, noise="prior")},
    )
