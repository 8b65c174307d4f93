"""A content-keyed cache of prepared manifest datasets, so a second load skips decoding images and volumes.

The key is a sha256 over the Parquet bytes, the section's canonical JSON and (path, size, mtime_ns) of every image
or volume file the manifest references: editing any of them makes a new entry. Entries hold only tensors, strings
and numbers (read back with ``torch.load(weights_only=True)``); a corrupt entry is ignored and rewritten.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch

from sweeper.data.dataset import DatasetSpec, ModalitySpec, MultimodalDataset, TaskSpec
from sweeper.data.manifest.section import ManifestSection
from sweeper.data.mapped import MappedArray
from sweeper.data.text import Tokenizer

_FORMAT = "sweeper.manifest_cache/2"  # bump when the prepared tensors change for the same inputs
_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """``$SWEEPER_CACHE_DIR``, or ``~/.cache/sweeper/datasets``."""
    configured = os.environ.get("SWEEPER_CACHE_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "sweeper" / "datasets"


def cache_key(section: ManifestSection, parquet_files: Iterable[Path], referenced: Iterable[Path]) -> str:
    """The sha256 (hex) naming the prepared dataset of these inputs."""
    digest = hashlib.sha256(_FORMAT.encode())
    digest.update(section.model_dump_json().encode())  # field order is fixed; modality order matters and is kept
    for file in parquet_files:
        digest.update(f"\0parquet\0{file.name}\0".encode())
        with file.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
    for path in referenced:
        stat = path.stat()
        digest.update(f"\0file\0{path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


@contextlib.contextmanager
def building(directory: Path, key: str) -> Iterator[None]:
    """Hold the lock of entry ``key``: the first process on a node builds it, the others wait, then read it."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / f"{key}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_cached(key: str, directory: Path) -> MultimodalDataset | None:
    """The dataset stored under ``key``, or None when there is none or it cannot be read back."""
    path = directory / f"{key}.pt"
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        return _from_payload(payload)
    except Exception:  # a truncated or foreign file is a miss; the caller rewrites it
        return None


def write_cached(key: str, dataset: MultimodalDataset, directory: Path) -> None:
    """Store ``dataset`` under ``key`` atomically; a cache that cannot be written only costs a warning."""
    path = directory / f"{key}.pt"
    partial = path.with_suffix(f".{os.getpid()}.partial")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(_to_payload(dataset), partial)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        warnings.warn(f"could not write the dataset cache '{path}': {exc}", stacklevel=2)


def _to_payload(dataset: MultimodalDataset) -> dict[str, Any]:
    spec = dataset.spec
    return {
        "format": _FORMAT,
        "modalities": [
            {"name": m.name, "kind": m.kind, "shape": list(m.shape), "vocab_size": m.vocab_size, "views": m.views}
            for m in spec.modalities
        ],
        "tasks": [{"name": t.name, "num_classes": t.num_classes} for t in spec.tasks],
        "inputs": {k: v for k, v in dataset.inputs.items() if not isinstance(v, MappedArray)},
        # a streamed modality is its file (in a folder beside this entry): the entry holds where and what
        "mapped": {
            k: {"path": v.path, "shape": list(v.shape), "dtype": v.dtype}
            for k, v in dataset.inputs.items()
            if isinstance(v, MappedArray)
        },
        "targets": dataset.targets,
        "splits": dataset.splits,
        "tokenizers": {name: tokenizer.to_json() for name, tokenizer in dataset.tokenizers.items()},
        "classes": dataset.classes,
    }


def _from_payload(payload: dict[str, Any]) -> MultimodalDataset:
    if payload["format"] != _FORMAT:
        raise ValueError(f"cache format {payload['format']!r}")
    modalities = tuple(
        ModalitySpec(m["name"], m["kind"], tuple(m["shape"]), m["vocab_size"], m.get("views", 0))
        for m in payload["modalities"]
    )
    tasks = tuple(TaskSpec(t["name"], t["num_classes"]) for t in payload["tasks"])
    inputs = dict(payload["inputs"])
    for name, fields in payload.get("mapped", {}).items():
        array = MappedArray(fields["path"], tuple(fields["shape"]), fields["dtype"])
        if not Path(array.path).is_file():
            raise ValueError(f"streamed modality {name}: {array.path} is missing")
        inputs[name] = array
    order = [m.name for m in modalities]  # the modalities' order, as the model was built for it
    return MultimodalDataset(
        spec=DatasetSpec(modalities, tasks),
        inputs={name: inputs[name] for name in order},
        targets=payload["targets"],
        splits=payload["splits"],
        tokenizers={name: Tokenizer.from_json(text) for name, text in payload["tokenizers"].items()},
        classes=payload["classes"],
    )
