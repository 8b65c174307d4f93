"""Scenario ``radiology``: a scan and its caption; the imaging modality and the body location.

Latent factors per sample (uniform classes):
  k in {0, 1, 2}      imaging modality (CT, MRI, X-ray): the scan's faint background texture (horizontal stripes,
                      vertical stripes, checkerboard), buried in pixel noise;
  l in {0, 1, 2, 3}   location (head, chest, abdomen, limb): the quadrant of the scan holding a bright blob
                      (jittered, in noise).
The caption names k ("ct"/"tomography", "mri"/"resonance", "xray"/"radiograph") with probability 0.6 and,
independently, l ("head"/"brain", "chest"/"lung", "abdomen"/"liver", "knee"/"limb") with probability 0.6, among
filler words. When it names a class, the name is right.

Modalities: scan (1, S, S) with S = image_size (16); caption (12,) token ids.

Tasks:
  modality (3 classes) = k
  location (4 classes) = l

Expected winner: the caption is exact when it names the class (60% of samples) and silent otherwise, while the
scan always carries the class but noisily; the best model trusts the caption when it speaks and the scan when it
does not: a per-sample choice that gated or attention fusion expresses directly and concatenation must approximate.
"""

from __future__ import annotations

import torch

from sweeper.data.synthetic._base import SCENARIOS, Draft, DraftModality, DraftTask
from sweeper.data.synthetic.render import scan_image
from sweeper.data.synthetic.words import Topic, topic_sentences

CAPTION_WORDS = 12
MODALITY_WORDS = (("ct", "tomography"), ("mri", "resonance"), ("xray", "radiograph"))
LOCATION_WORDS = (("head", "brain"), ("chest", "lung"), ("abdomen", "liver"), ("knee", "limb"))
MENTION_PROB = 0.6


@SCENARIOS.register("radiology", "scan + caption; modality (scan texture) and location (blob quadrant)")
def radiology(n: int, g: torch.Generator, *, image_size: int = 16) -> Draft:
    # k and l of the docstring: imaging modality and location
    kind, place = torch.randint(0, 3, (n,), generator=g), torch.randint(0, 4, (n,), generator=g)
    scan = scan_image(kind, place, image_size, g, texture_amplitude=0.15, noise_std=1.2)  # (N, 1, S, S)
    caption = topic_sentences(
        [Topic(kind, MODALITY_WORDS, MENTION_PROB), Topic(place, LOCATION_WORDS, MENTION_PROB)],
        g,
        min_words=5,
        max_words=CAPTION_WORDS,
    )
    return Draft(
        modalities={
            "scan": DraftModality("image", scan),
            "caption": DraftModality("text", caption, max_len=CAPTION_WORDS),
        },
        tasks={"modality": DraftTask(3, kind), "location": DraftTask(4, place)},
    )
