"""A multimodal multi-task dataset: tensors per modality, labels per task, index splits.

Small datasets are tensors in memory: the whole dataset is put into Ray's object store once and a trial moves it to
its device once (not batch by batch). An image or volume modality too large for memory is a ``MappedArray`` instead
(``sweeper.data.mapped``): a file on the node's disk, streamed batch by batch, the next batch gathered on a
background thread while the current one trains.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor

from sweeper.data.mapped import MappedArray, as_float
from sweeper.data.text import Tokenizer

# Each modality kind and its per-sample layout: image (C, H, W); volume (C, D, H, W); tabular (F,); signal (C, L)
# for audio, EEG or sensors; text (L,) int64 token ids, 0 = padding; features (D,) precomputed embeddings.
LAYOUTS = {
    "image": "(C, H, W)",
    "volume": "(C, D, H, W)",
    "tabular": "(F,)",
    "signal": "(C, L)",
    "text": "(L,)",
    "features": "(D,)",
}
MODALITY_KINDS = tuple(LAYOUTS)
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ModalitySpec:
    """One input modality: its name, its kind (which encoder family reads it) and its per-sample shape."""

    name: str
    kind: str  # one of MODALITY_KINDS
    shape: tuple[int, ...]  # per sample, laid out as LAYOUTS[kind] says
    vocab_size: int = 0  # text only: token ids lie in [0, vocab_size)
    # 0: one value of ``shape`` per sample. V >= 1: a multi-view modality, up to V views per sample, (V, *shape),
    # each encoded by one shared encoder and pooled by the model's view_aggregation; a padded view is NaN throughout.
    views: int = 0


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
    """A minibatch: ``inputs[modality]`` is (B, *shape) ((B, V, *shape) multi-view), ``targets[task]`` (B,) int64."""

    inputs: dict[str, Tensor]
    targets: dict[str, Tensor]
    teacher: dict[str, Tensor] = field(default_factory=dict)  # task -> (B, C) a teacher's logits, when distilling

    def __len__(self) -> int:
        return len(next(iter(self.targets.values())))


@dataclass
class MultimodalDataset:
    """Tensors for every sample, the sample indices of each split, and the tokenizer of each text modality."""

    spec: DatasetSpec
    # modality -> (N, *shape) float32 (uint8 for 8-bit images: value / 255), text (N, L) int64 ids, or on disk
    inputs: dict[str, Tensor | MappedArray]
    targets: dict[str, Tensor]  # task -> (N,) int64
    splits: dict[str, Tensor] = field(default_factory=dict)  # split -> (n_split,) int64 sample indices
    tokenizers: dict[str, Tokenizer] = field(default_factory=dict)  # text modality -> tokenizer fitted on train
    classes: dict[str, list[str]] = field(default_factory=dict)  # task -> class names in index order
    teacher: dict[str, Tensor] = field(default_factory=dict)  # task -> (N, C) a teacher's logits, when distilling

    def to(self, device: torch.device | str) -> MultimodalDataset:
        """A copy with every tensor on ``device`` (done once per trial, not per batch); streamed modalities stay on
        disk and reach the device batch by batch."""
        return MultimodalDataset(
            spec=self.spec,
            inputs={k: v if isinstance(v, MappedArray) else v.to(device) for k, v in self.inputs.items()},
            targets={k: v.to(device) for k, v in self.targets.items()},
            splits={k: v.to(device) for k, v in self.splits.items()},
            tokenizers=dict(self.tokenizers),
            classes={k: list(v) for k, v in self.classes.items()},
            teacher={k: v.to(device) for k, v in self.teacher.items()},
        )

    def split_size(self, split: str) -> int:
        return len(self.splits[split])

    def batches(
        self, split: str, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[Batch]:
        """Minibatches of ``split`` by index slicing; no DataLoader, no copies beyond the gather. With a streamed
        modality, batches are gathered one ahead on a background thread."""
        index = self.splits[split]
        if shuffle:
            index = index[torch.randperm(len(index), generator=generator).to(index.device)]
        batches = (self.batch_of(index[start : start + batch_size]) for start in range(0, len(index), batch_size))
        if self.streamed:
            return _prefetched(batches)
        return batches

    @property
    def streamed(self) -> bool:
        """Whether some modality is read from disk batch by batch."""
        return any(isinstance(v, MappedArray) for v in self.inputs.values())

    def batch_of(self, rows: Tensor) -> Batch:
        """The samples at ``rows`` (an int64 tensor on the data's device) as a batch."""
        return Batch(
            inputs={
                k: v.take(rows) if isinstance(v, MappedArray) else as_float(v[rows]) for k, v in self.inputs.items()
            },
            targets={k: v[rows] for k, v in self.targets.items()},
            teacher={k: v[rows] for k, v in self.teacher.items()},
        )


def _prefetched(batches: Iterator[Batch], depth: int = 2) -> Iterator[Batch]:
    """``batches`` made on a background thread, up to ``depth`` ahead; an error there is raised here."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        ready.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put(done)
        except BaseException as exc:  # handed to the consumer
            ready.put(exc)

    worker = threading.Thread(target=produce, name="sweeper-prefetch", daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
