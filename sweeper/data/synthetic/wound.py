"""Scenario ``wound``: a colour wound photo, a clinical note and vital signs; wound type and severity.

Latent factors per sample:
  p ~ N(0, 1)        wound hue, carried by the photo: the centred blob is red-leaning (p > 0) or green-leaning;
  q ~ N(0, 1)        wound size, carried by the photo: the blob's overall intensity;
                     the photo's channels are R = (q + p), G = (q - p), B = q times a centred Gaussian blob, plus a
                     distractor blob of random amplitude per channel and pixel noise;
  b in {0, 1}        onset, carried by the note: "acute" / "sudden" / "recent" (b = 0) or "chronic" /
                     "persistent" / "longstanding" (b = 1), named with probability 0.9; the note also names a body
                     site (heel, foot, leg, abdomen) that is independent of everything, among filler words;
  t0..t2 ~ N(0, 1)   carried by the vitals: features 0-2 are t0, t1, t2 plus a little noise, 3-5 pure noise;
                     r = (t0 + t1 + t2) / sqrt(3).

Modalities: photo (3, S, S) with S = image_size (16); note (16,) token ids; vitals (6,) tabular.

Tasks:
  type (4 classes)     = 2 * 1[p > 0] + b: photo hue and note onset together; either alone gives half the answer.
  severity (3 classes) = tercile of r + 0.5 q: mostly the vitals, partly the wound size in the photo.

Expected winner: the photo feeds both tasks, the note only ``type`` and the vitals only ``severity``; fusions that
weigh modalities per task and sample (attention, gated) should edge out concatenation, which is a strong baseline
here because both rules are additive; multiplicative fusion has nothing to exploit.
"""

from __future__ import annotations

import torch

from sweeper.data.synthetic._base import SCENARIOS, Draft, DraftModality, DraftTask, terciles
from sweeper.data.synthetic.render import blob_image, tabular_columns
from sweeper.data.synthetic.words import Topic, topic_sentences

NOTE_WORDS = 16
ONSET_WORDS = (("acute", "sudden", "recent"), ("chronic", "persistent", "longstanding"))
SITE_WORDS = (("heel", "sacrum"), ("foot", "toe"), ("leg", "ankle"), ("abdomen", "flank"))


@SCENARIOS.register("wound", "photo + note + vitals; type = photo hue & note onset, severity ~ vitals + size")
def wound(n: int, g: torch.Generator, *, image_size: int = 16) -> Draft:
    p, q = torch.randn(n, generator=g), torch.randn(n, generator=g)
    b, site = torch.randint(0, 2, (n,), generator=g), torch.randint(0, 4, (n,), generator=g)
    t = torch.randn(n, 3, generator=g)
    photo = blob_image(torch.stack([q + p, q - p, q], dim=1), image_size, g)  # (N, 3, S, S)
    note = topic_sentences(
        [Topic(b, ONSET_WORDS, 0.9), Topic(site, SITE_WORDS, 0.7)], g, min_words=8, max_words=NOTE_WORDS
    )
    vitals = tabular_columns(t, 6, g)  # (N, 6)
    risk = t.sum(dim=1) / 3**0.5
    return Draft(
        modalities={
            "photo": DraftModality("image", photo),
            "note": DraftModality("text", note, max_len=NOTE_WORDS),
            "vitals": DraftModality("tabular", vitals),
        },
        tasks={
            "type": DraftTask(4, 2 * (p > 0).long() + b),
            "severity": DraftTask(3, terciles(risk + 0.5 * q)),
        },
    )
