"""Scenario ``lesion``: one to four photos of a skin lesion (a multi-view image modality) and the patient's history.

Latent factors per sample:
  k in {1, 2, 3, 4}  how many photos were taken (uniform); the views modality is padded to 4 with NaN views;
  s ~ N(0, 1)        pigment: every photo shows a centred Gaussian blob of amplitude s + 0.8 e_v, where e_v ~ N(0, 1)
                     is that photo's own lighting error: one photo is a noisy reading of s (correlation 0.78), the
                     mean of four a far better one (0.93);
  u in {0, 1}        ulceration (probability 1/2): when u = 1, ONE of the sample's photos, chosen at random, shows a
                     small bright spot (amplitude 2.5) at a random place away from the centre; the others do not;
  t0, t1 ~ N(0, 1)   carried by the history: features 0-1 are t0, t1 plus a little noise, 2-4 pure noise;
                     r = (t0 + t1) / sqrt(2).
Every photo has pixel noise (std 0.3).

Modalities: views (up to 4 photos of (1, S, S), S = image_size (16)); history (5,) tabular.

Tasks:
  malignant (2 classes) = 1[s + r > 0]: the pigment, best read by averaging the photos, and the history together.
  ulcer (2 classes)     = u: in one photo only, which a mean dilutes by 1/k while max or attention pooling keeps it.

Expected: how the views are aggregated matters, and not the same way for both tasks: ``mean`` suits the pigment,
``max``, ``attention`` and ``gated`` pooling suit the ulcer; the history matters for malignancy only, so the fusion
must combine a pooled image with a table.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from sweeper.data.synthetic._base import SCENARIOS, Draft, DraftModality, DraftTask
from sweeper.data.synthetic.render import tabular_columns

MAX_VIEWS = 4
VIEW_ERROR = 0.8  # std of a photo's own error in the pigment it shows
SPOT_AMPLITUDE = 2.5


@SCENARIOS.register("lesion", "1-4 photos of a lesion (multi-view) + history; malignant ~ pigment + history, ulcer")
def lesion(n: int, g: torch.Generator, *, image_size: int = 16) -> Draft:
    count = torch.randint(1, MAX_VIEWS + 1, (n,), generator=g)  # k: photos per sample
    pigment, ulcer = torch.randn(n, generator=g), torch.randint(0, 2, (n,), generator=g)
    t = torch.randn(n, 2, generator=g)
    real = torch.arange(MAX_VIEWS)[None] < count[:, None]  # (N, V)
    shows = pigment[:, None] + VIEW_ERROR * torch.randn(n, MAX_VIEWS, generator=g)  # (N, V) pigment per photo
    spotted = (torch.rand(n, generator=g) * count).long()  # which photo shows the ulcer, among the real ones
    spot = (ulcer[:, None] == 1) & (torch.arange(MAX_VIEWS)[None] == spotted[:, None])  # (N, V)
    photos = _photos(shows, spot, image_size, g)  # (N, V, 1, S, S)
    photos[~real] = float("nan")
    history = tabular_columns(t, 5, g)  # (N, 5)
    risk = t.sum(dim=1) / math.sqrt(2)
    return Draft(
        modalities={
            "views": DraftModality("image", photos, multi_view=True),
            "history": DraftModality("tabular", history),
        },
        tasks={"malignant": DraftTask(2, (pigment + risk > 0).long()), "ulcer": DraftTask(2, ulcer)},
    )


def _photos(amplitude: Tensor, spot: Tensor, size: int, g: torch.Generator) -> Tensor:
    """(N, V) blob amplitudes and (N, V) spot flags -> (N, V, 1, S, S): a centred blob of each amplitude, a bright
    spot (sigma 1 pixel) between a third and a half of the side from the centre where flagged, pixel noise."""
    n, views = amplitude.shape
    coords = torch.arange(size, dtype=torch.float32)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")  # (S, S)
    centre = (size - 1) / 2
    blob = torch.exp(-((yy - centre) ** 2 + (xx - centre) ** 2) / (2 * (size / 6) ** 2))  # (S, S)
    angle = 2 * math.pi * torch.rand(n, views, generator=g)
    radius = size * (1 / 3 + torch.rand(n, views, generator=g) / 6)  # off-centre, inside the photo
    y = (centre + radius * torch.sin(angle))[..., None, None]  # (N, V, 1, 1)
    x = (centre + radius * torch.cos(angle))[..., None, None]
    bright = torch.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 2)  # (N, V, S, S)
    noise = 0.3 * torch.randn(n, views, size, size, generator=g)
    photos = amplitude[..., None, None] * blob + SPOT_AMPLITUDE * spot[..., None, None] * bright + noise
    return photos.unsqueeze(2)  # (N, V, 1, S, S)
