"""``make_synthetic``: run a scenario, add label noise, draw the splits, tokenize text on the training split."""

from __future__ import annotations

import torch
from torch import Tensor

from sweeper.data.dataset import DatasetSpec, ModalitySpec, MultimodalDataset, TaskSpec
from sweeper.data.synthetic._base import SCENARIOS, DraftTask
from sweeper.data.text import Tokenizer
from sweeper.errors import DataError

# The smallest value of each size a scenario may take, and what it sizes.
SIZE_MINIMA = {"image_size": 4, "signal_length": 8, "tabular_features": 3}


def scenario_names() -> list[str]:
    """Every built-in scenario, sorted."""
    return SCENARIOS.names()


def scenario_sizes(scenario: str) -> dict[str, int]:
    """The sizes ``scenario`` lets a user override, with its defaults (e.g. ``{"image_size": 16}``)."""
    if scenario not in SCENARIOS:
        raise DataError(f"unknown scenario {scenario!r}; known: {', '.join(scenario_names())}")
    return dict(SCENARIOS.get(scenario).hyperparameters)


def make_synthetic(
    n_samples: int = 3000,
    *,
    scenario: str = "default",
    image_size: int | None = None,
    signal_length: int | None = None,
    tabular_features: int | None = None,
    label_noise: float = 0.05,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
) -> MultimodalDataset:
    """Generate ``scenario`` (see ``sweeper.data.synthetic``) deterministically from ``seed``.

    A size left as None takes the scenario's own default; a size the scenario does not take is an error.
    A fraction ``label_noise`` of each task's labels is redrawn at random.
    """
    given = {"image_size": image_size, "signal_length": signal_length, "tabular_features": tabular_features}
    sizes = {name: value for name, value in given.items() if value is not None}
    _check_arguments(n_samples, scenario, sizes, label_noise, val_fraction, test_fraction)
    g = torch.Generator().manual_seed(seed)
    n = n_samples
    draft = SCENARIOS.get(scenario).factory(n, g, **sizes)
    targets = {name: _add_noise(task, label_noise, g) for name, task in draft.tasks.items()}

    perm = torch.randperm(n, generator=g)
    n_val, n_test = int(n * val_fraction), int(n * test_fraction)
    splits = {"val": perm[:n_val], "test": perm[n_val : n_val + n_test], "train": perm[n_val + n_test :]}
    splits = {k: torch.sort(idx).values for k, idx in splits.items()}

    inputs: dict[str, Tensor] = {}
    tokenizers: dict[str, Tokenizer] = {}
    modalities: list[ModalitySpec] = []
    for name, modality in draft.modalities.items():
        if isinstance(modality.values, list):  # text: the vocabulary comes from the training split only
            tokenizer = Tokenizer.fit(modality.values[i] for i in splits["train"].tolist())
            inputs[name] = tokenizer.encode(modality.values, modality.max_len)  # (N, L) int64
            tokenizers[name] = tokenizer
            modalities.append(ModalitySpec(name, modality.kind, (modality.max_len,), tokenizer.vocab_size))
        elif modality.multi_view:  # (N, V, *shape)
            inputs[name] = modality.values
            views, *shape = modality.values.shape[1:]
            modalities.append(ModalitySpec(name, modality.kind, tuple(shape), views=views))
        else:
            inputs[name] = modality.values
            modalities.append(ModalitySpec(name, modality.kind, tuple(modality.values.shape[1:])))
    tasks = tuple(TaskSpec(name, task.num_classes) for name, task in draft.tasks.items())
    return MultimodalDataset(
        spec=DatasetSpec(modalities=tuple(modalities), tasks=tasks),
        inputs=dict(inputs),
        targets=targets,
        splits=splits,
        tokenizers=tokenizers,
    )


def _check_arguments(
    n_samples: int,
    scenario: str,
    sizes: dict[str, int],
    label_noise: float,
    val_fraction: float,
    test_fraction: float,
) -> None:
    if n_samples < 60:
        raise DataError(f"the synthetic dataset needs at least 60 samples, but got n_samples={n_samples}")
    allowed = scenario_sizes(scenario)
    for name, value in sizes.items():
        if name not in allowed:
            takes = f"; it takes: {', '.join(allowed)}" if allowed else ", whose shapes are fixed"
            raise DataError(f"{name}={value} does not apply to scenario {scenario!r}{takes}")
        if value < SIZE_MINIMA[name]:
            raise DataError(f"{name} must be >= {SIZE_MINIMA[name]}, but got {value}")
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


def _add_noise(task: DraftTask, rate: float, g: torch.Generator) -> Tensor:
    """Replace a fraction ``rate`` of the labels by a random class (uniform, or drawn from the class prior)."""
    labels, n = task.labels, len(task.labels)
    flip = torch.rand(n, generator=g) < rate
    if task.noise == "prior":
        prior = torch.bincount(labels, minlength=task.num_classes).double()
        random = torch.multinomial(prior, n, replacement=True, generator=g)
    else:
        random = torch.randint(0, task.num_classes, (n,), generator=g)
    return torch.where(flip, random, labels)
