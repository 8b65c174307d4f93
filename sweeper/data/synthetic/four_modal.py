"""Scenario ``four_modal``: vision, audio, text and a movement sensor; each task reads a different pair.

Latent factors per sample:
  v ~ N(0, 1)    carried by vision: a centred Gaussian blob with amplitude v, a distractor blob, pixel noise;
  a ~ N(0, 1)    carried by audio: a tone at 250 * 2 ** (4 Phi(a)) Hz (a > 0 means above 1 kHz) with random
                 loudness and phase, 1 x 2048 samples at 16 kHz (see ``eeg_audio``);
  c in {0, 1}    carried by the text: a diary line naming a walk ("walk", "stroll", "hike") or a ride ("bike",
                 "cycle", "ride") with probability 0.9, among filler words;
  m ~ N(0, 1)    carried by the sensor: 3 axes x 32 samples oscillating 3 times with amplitude 2 ** m and a random
                 phase per axis, plus noise; m shows in the energy of the signal, not in its sign.

Modalities: vision (1, S, S) with S = image_size (16); audio (1, 2048) signal; text (12,) token ids;
sensor (3, 32) signal.

Tasks:
  scene (4 classes)    = 2 * 1[v > 0] + 1[a > 0]: what is seen and what is heard; each alone gives half the answer.
  activity (3 classes) = 0 (resting) if m <= 0, else 1 + c (walking or cycling): the sensor says whether the person
                         moves, the text says how. About 50% / 25% / 25%.

Expected winner: each task ignores two of the four modalities, and which two differs per task, so fusions that
weigh modalities per sample (attention, gated) should beat plain concatenation; nothing here rewards a product of
modalities, so low-rank fusion should not lead.
"""

from __future__ import annotations

import torch

from sweeper.data.synthetic._base import SCENARIOS, Draft, DraftModality, DraftTask, standard_normal_cdf
from sweeper.data.synthetic.render import blob_image, motion_signal, tone_waveform
from sweeper.data.synthetic.words import Topic, topic_sentences

AUDIO_LENGTH, TEXT_WORDS, SENSOR_AXES, SENSOR_LENGTH = 2048, 12, 3, 32
ACTIVITY_WORDS = (("walk", "stroll", "hike"), ("bike", "cycle", "ride"))
_DIARY_TEXT = (
    "the a and then with after before today later again near some this that we went our friends park "
    "morning evening home river town quickly slowly"
)
DIARY_FILLER = tuple(_DIARY_TEXT.split())


@SCENARIOS.register("four_modal", "vision + audio + text + sensor; scene = vision & audio, activity = sensor & text")
def four_modal(n: int, g: torch.Generator, *, image_size: int = 16) -> Draft:
    v, a, m = torch.randn(n, generator=g), torch.randn(n, generator=g), torch.randn(n, generator=g)
    c = torch.randint(0, 2, (n,), generator=g)
    vision = blob_image(v[:, None], image_size, g)  # (N, 1, S, S)
    audio = tone_waveform(standard_normal_cdf(a), AUDIO_LENGTH, g)  # (N, 1, 2048)
    text = topic_sentences([Topic(c, ACTIVITY_WORDS, 0.9)], g, max_words=TEXT_WORDS, filler=DIARY_FILLER)
    sensor = motion_signal(2**m, SENSOR_AXES, SENSOR_LENGTH, g)  # (N, 3, 32)
    scene = 2 * (v > 0).long() + (a > 0).long()
    activity = torch.where(m > 0, 1 + c, torch.zeros_like(c))
    return Draft(
        modalities={
            "vision": DraftModality("image", vision),
            "audio": DraftModality("signal", audio),
            "text": DraftModality("text", text, max_len=TEXT_WORDS),
            "sensor": DraftModality("signal", sensor),
        },
        tasks={"scene": DraftTask(4, scene), "activity": DraftTask(3, activity)},
    )
