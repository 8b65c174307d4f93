"""A modality too large for memory: an ``.npy`` file on the node's disk, memory-mapped where it is read.

``MappedArray`` pickles as its path, shape and dtype, so Ray's object store carries a few bytes, not the data; every
trial on a node maps the same file and shares the operating system's page cache. A batch is gathered from the map on
the CPU (rows read in file order), moved to the device (from pinned memory on CUDA, without blocking) and made
float there: 8-bit images are stored as uint8, a quarter of float32, and divided by 255 on the device.

On a cluster whose nodes do not share the cache folder, ``rebuild`` (set by the manifest loader) lets a node that
lacks the file prepare the dataset again into its own cache, once: the first trial there builds it under a file lock
while the node's other trials wait, then every trial on the node maps the node's copy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from sweeper.errors import DataError


@dataclass(frozen=True)
class MappedArray:
    """(N, *shape) values in the ``.npy`` file at ``path``; uint8 ones stand for value / 255."""

    path: str
    shape: tuple[int, ...]  # (N, *per-sample shape)
    dtype: str  # "uint8" or "float32"
    # Makes this file on a node that lacks it and returns its path there; None: the file must be at ``path``.
    rebuild: Callable[[], str] | None = field(default=None, compare=False, repr=False)

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def array(self) -> np.ndarray:
        path = self.path
        if self.rebuild is not None and not Path(path).is_file():
            path = _rebuilt(self.rebuild)
        return _open(path, self.shape, self.dtype)

    def take(self, rows: Tensor) -> Tensor:
        """The ``rows`` (an int64 tensor on the target device) as a float32 tensor on that device."""
        index = rows.cpu().numpy()
        order = np.argsort(index, kind="stable")  # read the file forwards
        gathered = np.empty((len(index), *self.shape[1:]), dtype=self.dtype)
        gathered[order] = self.array[index[order]]
        batch = torch.from_numpy(gathered)
        if rows.device.type == "cuda":
            batch = batch.pin_memory().to(rows.device, non_blocking=True)
        return as_float(batch)


def as_float(values: Tensor) -> Tensor:
    """Values as the model takes them: uint8 ones (8-bit images, in memory or mapped) stand for value / 255."""
    return values.float().div_(255.0) if values.dtype == torch.uint8 else values


@functools.lru_cache(maxsize=64)
def _rebuilt(rebuild: Callable[[], str]) -> str:
    return rebuild()  # once per process: the trials of a worker share it


@functools.lru_cache(maxsize=64)
def _open(path: str, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    if not Path(path).is_file():
        raise DataError(
            f"the dataset's streaming cache {path!r} is not on this node; give every node the dataset cache "
            "folder (SWEEPER_CACHE_DIR) on a disk it shares with the driver, or its own copy at the same path"
        )
    array = np.load(path, mmap_mode="r")
    if array.shape != shape or array.dtype != np.dtype(dtype):
        raise DataError(f"the streaming cache {path!r} holds {array.dtype}{array.shape}; expected {dtype}{shape}")
    return array


def create(path: Path, shape: tuple[int, ...], dtype: type | np.dtype) -> np.ndarray:
    """A new ``.npy`` file of that shape, open for writing (its rows are filled in by the caller)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
