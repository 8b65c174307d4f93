"""The built-in synthetic data: scenarios with known planted structure, so a sweep's findings can be checked.

Each scenario renders latent factors into modalities and derives its tasks from them by a documented rule (see
each scenario's module). ``make_synthetic(n, scenario=...)`` adds label noise, draws train/val/test splits and
tokenizes text modalities with a vocabulary fitted on the training split only.

  default           image + tabular + signal; agree = image x signal (multiplicative fusion wins), grade ~ tabular
  rare_disease      image + tabular; disease (8% positive) = large lesion AND high tabular risk (imbalanced)
  rare_disease_3d   the same with a 3-D volume (1, 8, 16, 16) instead of the image
  eeg_audio         8-channel EEG (3 informative) + raw 16 kHz audio tone; event = EEG x audio pitch, state ~ EEG
  four_modal        vision + audio + text + sensor; scene = vision & audio, activity = sensor & text
  wound             colour photo + clinical note + vitals; type = photo colour & note, severity ~ vitals + size
  radiology         scan + caption; modality and location, named by the caption when it mentions them
  noisy_modality    image + a pure-noise embedding; the label depends on the image only (gated fusion wins)
  lesion            1-4 photos of a lesion (multi-view) + history; malignant ~ mean pigment + history, ulcer in one
"""

from __future__ import annotations

import importlib

from sweeper.data.synthetic.generate import make_synthetic, scenario_names, scenario_sizes

# Importing a scenario's module registers it.
for _module in ("default", "rare_disease", "eeg_audio", "four_modal", "wound", "radiology", "noisy_modality", "lesion"):
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["make_synthetic", "scenario_names", "scenario_sizes"]
