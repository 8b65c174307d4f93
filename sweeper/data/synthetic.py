"""The built-in synthetic dataset: three modalities, two tasks with known, different dependence on them.

Latent factors per sample (all standard normal):
  u   carried by the image:   a fixed centred Gaussian blob with amplitude u, plus a distractor blob at a random
                              place with a random amplitude, plus pixel noise;
  v   carried by the signal:  channel 0 is v * sin(2 pi f t) for a fixed frequency f, channel 1 a sinusoid of random
                              phase and frequency (a distractor); both with additive noise;
  t   carried by the table:   features 0-2 are t0, t1, t2 with a little noise; features 3-7 are pure noise.

Tasks:
  agree (2 classes)  = 1[u * v > 0]: an interaction between image and signal. Neither modality alone beats chance,
                       so fusions that combine modalities multiplicatively or by attention should do best here.
  grade (3 classes)  = tercile of t0 + 0.5 t1 + 0.3 u: mostly the tabular modality, a little of the image.
A fraction ``label_noise`` of each task's labels is replaced by a uniformly random class.
"""

from __future__ import annotations

import math

import torch

from sweeper.data.dataset import DatasetSpec, ModalitySpec, MultimodalDataset, TaskSpec
from sweeper.errors import DataError


def make_synthetic(
    n_samples: int = 3000,
    *,
    image_size: int = 16,
    signal_length: int = 64,
    tabular_features: int = 8,
    label_noise: float = 0.05,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
) -> MultimodalDataset:
    """Generate the dataset described in this module's docstring, deterministically from ``seed``."""
    if n_samples < 60:
        raise DataError(f"the synthetic dataset needs at least 60 samples, but got n_samples={n_samples}")
    if tabular_features < 3:
        raise DataError(f"tabular_features must be >= 3, but got {tabular_features}")
    if image_size < 4 or signal_length < 8:
        raise DataError(f"image_size must be >= 4 and signal_length >= 8, but got {image_size=}, {signal_length=}")
    if not 0 <= label_noise <= 1:
        raise DataError(f"label_noise must be in [0, 1], but got {label_noise=}")
    if not (val_fraction > 0 and test_fraction > 0 and val_fraction + test_fraction < 1):
        raise DataError(
            f"val and test fractions must be > 0 and sum below 1, but got {val_fraction=}, {test_fraction=}"
        )
    if int(n_samples * val_fraction) < 1 or int(n_samples * test_fraction) < 1:
        raise DataError(
            f"every split needs at least one sample, but {n_samples=} with {val_fraction=}, {test_fraction=} "
            "leaves one empty"
        )
    g = torch.Generator().manual_seed(seed)
    n = n_samples
    u, v = torch.randn(n, generator=g), torch.randn(n, generator=g)
    t = torch.randn(n, 3, generator=g)

    image = _images(u, image_size, g)  # (N, 1, S, S)
    signal = _signals(v, signal_length, g)  # (N, 2, L)
    tabular = torch.randn(n, tabular_features, generator=g)  # (N, F)
    tabular[:, :3] = t + 0.1 * tabular[:, :3]

    agree = (u * v > 0).long()
    score = t[:, 0] + 0.5 * t[:, 1] + 0.3 * u
    cuts = torch.quantile(score, torch.tensor([1 / 3, 2 / 3]))
    grade = torch.bucketize(score, cuts)
    targets = {"agree": _add_noise(agree, 2, label_noise, g), "grade": _add_noise(grade, 3, label_noise, g)}

    perm = torch.randperm(n, generator=g)
    n_val, n_test = int(n * val_fraction), int(n * test_fraction)
    splits = {"val": perm[:n_val], "test": perm[n_val : n_val + n_test], "train": perm[n_val + n_test :]}
    spec = DatasetSpec(
        modalities=(
            ModalitySpec("image", "image", tuple(image.shape[1:])),
            ModalitySpec("tabular", "tabular", tuple(tabular.shape[1:])),
            ModalitySpec("signal", "signal", tuple(signal.shape[1:])),
        ),
        tasks=(TaskSpec("agree", 2), TaskSpec("grade", 3)),
    )
    return MultimodalDataset(
        spec=spec,
        inputs={"image": image, "tabular": tabular, "signal": signal},
        targets=targets,
        splits={k: torch.sort(idx).values for k, idx in splits.items()},
    )


def _images(u: torch.Tensor, size: int, g: torch.Generator) -> torch.Tensor:
    n = len(u)
    coords = torch.arange(size, dtype=torch.float32)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")  # (S, S)
    centre = (size - 1) / 2
    blob = torch.exp(-((yy - centre) ** 2 + (xx - centre) ** 2) / (2 * (size / 6) ** 2))
    pos = torch.rand(n, 2, generator=g) * (size - 1)  # distractor centres
    dy = yy[None] - pos[:, 0, None, None]
    dx = xx[None] - pos[:, 1, None, None]
    distractor = torch.exp(-(dy**2 + dx**2) / (2 * (size / 10) ** 2)) * torch.randn(n, 1, 1, generator=g)
    noise = 0.3 * torch.randn(n, size, size, generator=g)
    return (u[:, None, None] * blob[None] + distractor + noise).unsqueeze(1)  # (N, 1, S, S)


def _signals(v: torch.Tensor, length: int, g: torch.Generator) -> torch.Tensor:
    n = len(v)
    time = torch.linspace(0, 1, length)  # (L,)
    carrier = torch.sin(2 * math.pi * 4 * time)  # fixed frequency: 4 cycles per window
    channel0 = v[:, None] * carrier[None]  # (N, L)
    freq = 2 + 6 * torch.rand(n, 1, generator=g)
    phase = 2 * math.pi * torch.rand(n, 1, generator=g)
    channel1 = torch.sin(2 * math.pi * freq * time[None] + phase)  # (N, L) distractor
    noise = 0.3 * torch.randn(n, 2, length, generator=g)
    return torch.stack([channel0, channel1], dim=1) + noise  # (N, 2, L)


def _add_noise(labels: torch.Tensor, num_classes: int, rate: float, g: torch.Generator) -> torch.Tensor:
    flip = torch.rand(len(labels), generator=g) < rate
    random = torch.randint(0, num_classes, (len(labels),), generator=g)
    return torch.where(flip, random, labels)
