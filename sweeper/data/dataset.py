"""An in-memory multimodal multi-task dataset: tensors per modality, labels per task, index splits.

Everything a trial needs is here as tensors, so the whole dataset is put into Ray's object store once and a trial
moves it to its device once (not batch by batch).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor

from sweeper.data.text import Tokenizer

MODALITY_KINDS = ("image", "volume", "tabular", "signal", "text", "features")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ModalitySpec:
    """One input modality: its name, its kind (which encoder family reads it) and its per-sample shape."""

    name: str
    kind: str  # one of MODALITY_KINDS
    # Per sample: image (C, H, W); volume (C, D, H, W); tabular (F,); signal (C, L) for audio, EEG or sensors;
    # text (L,) int64 token ids, 0 = padding; features (D,) precomputed embeddings.
    shape: tuple[int, ...]
    vocab_size: int = 0  # text only: token ids lie in [0, vocab_size)


@dataclass(frozen=True)
class TaskSpec:
    """One classification task and its number of classes."""

    name: str
    num_classes: int


@dataclass(frozen=True)
class DatasetSpec:
    """What a model needs to know about a dataset to be built for it."""

    modalities: tuple[ModalitySpec, ...]
    tasks: tuple[TaskSpec, ...]

    @property
    def modality_names(self) -> list[str]:
        return [m.name for m in self.modalities]

    @property
    def task_names(self) -> list[str]:
        return [t.name for t in self.tasks]


@dataclass
class Batch:
    """A minibatch: ``inputs[modality]`` is (B, *shape), ``targets[task]`` is (B,) int64."""

    inputs: dict[str, Tensor]
    targets: dict[str, Tensor]

    def __len__(self) -> int:
        return len(next(iter(self.targets.values())))


@dataclass
class MultimodalDataset:
    """Tensors for every sample, the sample indices of each split, and the tokenizer of each text modality."""

    spec: DatasetSpec
    inputs: dict[str, Tensor]  # modality -> (N, *shape) float32; text modalities (N, L) int64 token ids
    targets: dict[str, Tensor]  # task -> (N,) int64
    splits: dict[str, Tensor] = field(default_factory=dict)  # split -> (n_split,) int64 sample indices
    tokenizers: dict[str, Tokenizer] = field(default_factory=dict)  # text modality -> tokenizer fitted on train
    classes: dict[str, list[str]] = field(default_factory=dict)  # task -> class names in index order

    def to(self, device: torch.device | str) -> MultimodalDataset:
        """A copy with every tensor on ``device`` (done once per trial, not per batch)."""
        return MultimodalDataset(
            spec=self.spec,
            inputs={k: v.to(device) for k, v in self.inputs.items()},
            targets={k: v.to(device) for k, v in self.targets.items()},
            splits={k: v.to(device) for k, v in self.splits.items()},
            tokenizers=dict(self.tokenizers),
            classes={k: list(v) for k, v in self.classes.items()},
        )

    def split_size(self, split: str) -> int:
        return len(self.splits[split])

    def batches(
        self, split: str, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[Batch]:
        """Minibatches of ``split`` by index slicing; no DataLoader, no copies beyond the gather."""
        index = self.splits[split]
        if shuffle:
            index = index[torch.randperm(len(index), generator=generator).to(index.device)]
        for start in range(0, len(index), batch_size):
            rows = index[start : start + batch_size]
            yield Batch(
                inputs={k: v[rows] for k, v in self.inputs.items()},
                targets={k: v[rows] for k, v in self.targets.items()},
            )
